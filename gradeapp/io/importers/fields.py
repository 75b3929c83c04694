"""Field validators of imported records: each returns the field's value or raises an InputError naming it."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from gradeapp.errors import InputError
from gradeapp.io.tables import restore

INT64_MAX = 2**63 - 1  # the largest whole number SQLite stores
TRUE_WORDS = (1, "1", True, "true", "True", "yes")
FALSE_WORDS = (0, "0", False, "false", "False", "no")


def restore_csv_cells(record: dict[str, Any]) -> dict[str, Any]:
    """Undo the formula-injection quote of our CSV exports (see gradeapp.io.tables.neutralise)."""
    return {key: restore(value) if isinstance(value, str) else value for key, value in record.items()}


def text_field(
    record: dict, name: str, file: Path, line: int, *, required: bool = True, allow_empty: bool = False
) -> str | None:
    """Return a text field; a missing required one, or one that is not text, is an InputError."""
    value = record.get(name)
    if value is None or (value == "" and not allow_empty and required):
        if required:
            raise InputError("missing", file=file, line=line, field=name)
        return None
    if not isinstance(value, str):
        raise InputError(f"expected text, got {type(value).__name__}", file=file, line=line, field=name)
    return value


def int_field(
    record: dict,
    name: str,
    file: Path,
    line: int,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = INT64_MAX,
) -> int:
    """Return a whole number in [minimum, maximum] (text such as "3" is read as a number)."""
    value = record.get(name)
    if value is None or value == "":
        if default is None:
            raise InputError("missing", file=file, line=line, field=name)
        return default
    if isinstance(value, bool):
        raise InputError(f"expected a whole number, got {value!r}", file=file, line=line, field=name)
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise InputError(
                f"expected a whole number, got {value!r}", file=file, line=line, field=name
            ) from None
    if not isinstance(value, int) or value < minimum:
        raise InputError(
            f"expected a whole number >= {minimum}, got {str(value)[:40]!r}", file=file, line=line, field=name
        )
    if value > maximum:
        raise InputError(f"too large (at most {maximum:,})", file=file, line=line, field=name)
    return value


def number_field(record: dict, name: str, file: Path, line: int) -> float | None:
    """Return a finite number (or None when absent); anything else is an InputError naming the field."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"expected a number, got {type(value).__name__}", file=file, line=line, field=name)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InputError(
            f"expected a number, got {str(value)[:40]!r}", file=file, line=line, field=name
        ) from None
    if not math.isfinite(number):
        raise InputError(
            f"expected a finite number, got {str(value)[:40]!r}", file=file, line=line, field=name
        )
    return number


def time_field(record: dict, name: str, file: Path, line: int) -> str | None:
    """Return an ISO 8601 time (text), or None when absent."""
    value = text_field(record, name, file, line, required=False)
    if not value:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"expected an ISO 8601 time, got {value[:40]!r}", file=file, line=line, field=name
        ) from None
    return value


def skills_field(record: dict, file: Path, line: int) -> list[str]:
    """Return the skill names of a record: a list, a JSON list in text, or names joined by '|'."""
    skills = record.get("skills")
    if isinstance(skills, str):
        try:
            skills = json.loads(skills) if skills.strip().startswith("[") else skills.split("|")
        except (json.JSONDecodeError, RecursionError):
            raise InputError(
                "expected a JSON list of skill names", file=file, line=line, field="skills"
            ) from None
    if not isinstance(skills, list) or not skills or not all(isinstance(s, str) for s in skills):
        raise InputError("expected a non-empty list of skill names", file=file, line=line, field="skills")
    return [name.strip() for name in skills]


def json_field(record: dict, name: str, file: Path, line: int) -> str | None:
    """Return a field as JSON text (text is kept as it is; 'meta' must be a JSON object)."""
    value = record.get(name)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str) and name == "meta":
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise InputError("expected a JSON object", file=file, line=line, field=name) from None
        if name == "meta" and not isinstance(value, dict):
            raise InputError("expected a JSON object", file=file, line=line, field=name)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    except RecursionError:
        raise InputError("JSON nested too deeply", file=file, line=line, field=name) from None


def check_optional_fields(record: dict, file: Path, line: int) -> None:
    """Refuse optional fields of the wrong type (an object for a note, a time that is not one...)."""
    for name in ("raw", "reason", "note"):
        text_field(record, name, file, line, required=False)
    time_field(record, "created", file, line)
    int_field(record, "guideline_version", file, line, default=0)
