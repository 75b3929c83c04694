"""Import generations and verdicts: reference run folders and our generic JSONL/CSV/Parquet formats.

One module per format (`generations`, `verdicts`, `reference`), the field validators they share
(`fields`), the records of a file (`sources`). Every import runs in one transaction: on the first bad
record it raises an InputError naming the file, line and field, and the project is left exactly as it
was. Re-importing adds nothing. The user action (backup, then import, then the submit rule) is
gradeapp.services.imports.import_sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gradeapp.db import Store
from gradeapp.errors import InputError
from gradeapp.io.importers.generations import import_generations
from gradeapp.io.importers.reference import import_reference
from gradeapp.io.importers.sources import source_records
from gradeapp.io.importers.verdicts import ImportedItems, Settle, import_verdicts, is_wide


def detect_kind(path: Path) -> str:
    """Tell what a source is: 'reference' (folder), 'verdicts' or 'generations' (by its first record)."""
    if path.is_dir():
        return "reference"
    if not path.exists():
        raise InputError("no such file or folder", file=path)
    if path.suffix not in (".jsonl", ".csv", ".parquet"):
        raise InputError("expected a reference run folder, a .jsonl, .csv or .parquet file", file=path)
    for _line, record in source_records(path):
        return "verdicts" if "criterion" in record or is_wide(record) else "generations"
    raise InputError("no records in the file", file=path)


def import_source(store: Store, path: Path, kind: str | None, settle: Settle) -> dict[str, Any]:
    """Import one source of the given (or detected) kind; `settle` is the submit rule of verdicts."""
    kind = kind or detect_kind(path)
    if kind == "reference":
        return import_reference(store, path)
    if kind == "verdicts":
        return import_verdicts(store, path, settle)
    return import_generations(store, path)


__all__ = ["ImportedItems", "Settle", "detect_kind", "import_generations", "import_source"]
