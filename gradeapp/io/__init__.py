"""Files in and out: JSONL/CSV readers, CSV writing with the formula guard, importers, the HTML report."""
