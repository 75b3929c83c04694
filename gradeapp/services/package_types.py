"""Check every value read from a team package to its type and range, before merge looks at meaning.

SQLite stores any value in any column (a crafted file also drops CHECK constraints), so a package
could carry text where the project keeps seconds, or a verdict with no value and status 'ok'. Such
a row, once merged, breaks later reads of the project (an export that fails for good); it is
refused here, in one line naming the row and the field, and nothing is merged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradeapp.errors import ProjectError

MAX_TEXT = 100_000  # characters of a note, reason or raw reply value; a person types far less
MAX_SECONDS = 7 * 24 * 3600.0  # time spent on one item, as `gradeapp grade --seconds` allows
MAX_RUN = 2**31 - 1
# A package holds one person's share of a draw: megabytes. The bounds stop a crafted one from
# filling memory (every row is read before anything is written) or reading forever.
MAX_PACKAGE_BYTES = 1 << 30
PACKAGE_READ_SECONDS = 60.0


class PackageRefused(ProjectError):
    """A package that cannot be merged (foreign, newer schema, tampered, conflicting)."""


def refuse(path: Path, message: str) -> PackageRefused:
    """Return the one-line refusal of a package (whatever a tampered package puts in its names)."""
    return PackageRefused(f"{path}: refused, nothing merged: {' '.join(message.splitlines())}")


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT and _encodes(value)


def _encodes(value: str) -> bool:
    """Return whether text can be stored as UTF-8 (a lone surrogate cannot)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _optional_text(value: Any) -> bool:
    return value is None or _text(value)


def _whole(low: int, high: int) -> Callable[[Any], bool]:
    return lambda value: type(value) is int and low <= value <= high


def _duration(value: Any) -> bool:
    return value is None or (
        type(value) in (int, float) and math.isfinite(value) and 0 <= value <= MAX_SECONDS
    )


_VERDICT_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "kind": (_text, "text"),
    "grader": (_text, "text"),
    "uid": (_text, "text"),
    "criterion": (_text, "text"),
    "run": (_whole(1, MAX_RUN), "a whole number >= 1"),
    "created": (_text, "a time"),
    "value": (lambda v: v is None or type(v) is int and v in (0, 1), "0, 1 or empty"),
    "raw_value": (_optional_text, "text or empty"),
    "status": (_text, "text"),
    "reason": (_optional_text, f"text of at most {MAX_TEXT:,} characters or empty"),
    "note": (_optional_text, f"text of at most {MAX_TEXT:,} characters or empty"),
    "seconds": (_duration, f"a duration of 0 .. {MAX_SECONDS:g} seconds or empty"),
    "post_reveal": (lambda v: type(v) is int and v in (0, 1), "0 or 1"),
    "guideline_version": (lambda v: v is None or _whole(1, 2**63 - 1)(v), "a version number or empty"),
}
_REVIEW_FIELDS = {
    name: _VERDICT_FIELDS[name] for name in ("kind", "grader", "uid", "created", "seconds", "note")
} | {"action": (_text, "text")}
_GRADER_FIELDS = {"kind": (_text, "text"), "name": (_text, "text")}
_FINGERPRINT_FIELDS = {
    "uid": (_text, "text"),
    "text": (lambda v: isinstance(v, str), "text"),
    "topic": (_text, "text"),
    "skills": (lambda v: isinstance(v, list) and all(_text(s) for s in v), "a list of skill names"),
}
_OFFSET = 2**31 - 1  # a character offset into a generation's text
_EVIDENCE_FIELDS = {name: _VERDICT_FIELDS[name] for name in ("uid", "criterion", "run", "created")} | {
    "start_char": (lambda v: v is None or _whole(0, _OFFSET)(v), "a character offset or empty"),
    "end_char": (lambda v: v is None or _whole(0, _OFFSET)(v), "a character offset or empty"),
    "quote": (_text, f"text of at most {MAX_TEXT:,} characters"),
}
# A verdict's status says whether it holds a value: 'ok' needs 0 or 1, 'retracted' has none.
_STATUS_VALUE = {"ok": (0, 1), "retracted": (None,)}


def check_package_types(pkg: dict[str, Any]) -> None:
    """Refuse a read package (team.read_package) any of whose values is not of its column's type."""
    path = pkg["path"]
    for key, value in pkg["project"].items():
        if not (_text(key) and _text(value)):
            raise refuse(path, f"project setting {str(key)[:40]!r}: expected text")
    for version, text in pkg["guidelines"].items():
        if not (_whole(1, 2**63 - 1)(version) and isinstance(text, str)):
            raise refuse(path, f"guideline {str(version)[:40]!r}: expected a version number and its text")
    _check_rows(path, "grader", pkg["graders"], _GRADER_FIELDS)
    _check_rows(path, "generation", pkg["fingerprints"], _FINGERPRINT_FIELDS)
    _check_rows(path, "verdict", pkg["verdicts"], _VERDICT_FIELDS)
    _check_rows(path, "review", pkg["reviews"], _REVIEW_FIELDS)
    for row in pkg["verdicts"]:
        allowed = _STATUS_VALUE.get(row["status"])
        if allowed is not None and row["value"] not in allowed:
            raise refuse(
                path,
                f"verdict {row['uid']!r} / {row['criterion']!r}: status {row['status']!r} with value "
                f"{row['value']!r} (expected {' or '.join('empty' if a is None else str(a) for a in allowed)})",
            )


def _check_rows(
    path: Path, what: str, rows: list[dict[str, Any]], fields: dict[str, tuple[Callable[[Any], bool], str]]
) -> None:
    for number, row in enumerate(rows, 1):
        for name, (valid, expected) in fields.items():
            if not valid(row.get(name)):
                shown = repr(row.get(name))
                shown = shown if len(shown) <= 40 else f"{shown[:37]}..."
                raise refuse(path, f"{what} {number}: {name} {shown} is not {expected}")


def check_evidence_types(path: Path, marks: list[dict[str, Any]]) -> None:
    """Refuse a package's evidence marks (evidence_store.package_marks) any of whose values is mistyped."""
    _check_rows(path, "evidence mark", marks, _EVIDENCE_FIELDS)
    for number, mark in enumerate(marks, 1):
        if (mark["start_char"] is None) != (mark["end_char"] is None) or (
            mark["start_char"] is not None and mark["end_char"] < mark["start_char"]
        ):
            raise refuse(path, f"evidence mark {number}: its span {mark['start_char']}..{mark['end_char']}")
