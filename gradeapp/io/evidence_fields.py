"""The `evidence` field of a verdict in the JSONL/CSV formats: a JSON list of marks, read and written.

One field per verdict: `[{"start": 12, "end": 30, "quote": "the words", "grounding": "grounded"}]`
(character offsets [start, end) into the generation's text; `grounding` only for a judge's quote, and
a judge's quote that was not found has no offsets). In a CSV cell the list is written as JSON text.
Empty (or absent) means no evidence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gradeapp.core.evidence import GROUNDINGS
from gradeapp.errors import InputError

FIELD = "evidence"


def evidence_cell(marks: list[dict[str, Any]]) -> str | None:
    """Return a verdict's marks as the field's JSON text (None without marks)."""
    if not marks:
        return None
    keys = ("start", "end", "quote", "grounding")
    return json.dumps([{k: m[k] for k in keys if m.get(k) is not None} for m in marks], ensure_ascii=False)


def parse_evidence(value: Any, text: str, path: Path, line: int) -> list[dict[str, Any]]:
    """Return the marks of one record's evidence field, checked against the generation's text.

    Raises InputError (file, line, field 'evidence') for anything but a list of marks whose offsets lie
    in the text and whose quote, when given with offsets, is the text's words there.
    """
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError("expected a JSON list of marks", file=path, line=line, field=FIELD) from None
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise InputError("expected a list of {start, end, quote} objects", file=path, line=line, field=FIELD)
    return [_mark(m, text, path, line) for m in value]


def _mark(mark: dict, text: str, path: Path, line: int) -> dict[str, Any]:
    start, end, quote, grounding = (mark.get(k) for k in ("start", "end", "quote", "grounding"))
    if grounding is not None and grounding not in GROUNDINGS:
        raise InputError(
            f"grounding must be one of {', '.join(GROUNDINGS)}", file=path, line=line, field=FIELD
        )
    if start is None and end is None:
        if not isinstance(quote, str) or not quote or grounding != "not_found":
            raise InputError(
                "a mark without offsets must be a judge quote 'not_found'", file=path, line=line, field=FIELD
            )
        return {"start_char": None, "end_char": None, "quote": quote, "grounding": grounding}
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise InputError(f"offsets {start}-{end} are not inside the text", file=path, line=line, field=FIELD)
    if quote is not None and grounding in (None, "grounded") and quote != text[start:end]:
        raise InputError(
            f"quote {quote!r} is not the text at {start}-{end}", file=path, line=line, field=FIELD
        )
    return {"start_char": start, "end_char": end, "quote": quote or text[start:end], "grounding": grounding}
