"""Strict reading of text inputs: UTF-8 checked line by line, size limits, located errors."""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gradeapp.errors import InputError

MAX_FIELD = 1_000_000  # characters; a larger field is almost surely a broken file, not a text
csv.field_size_limit(MAX_FIELD)


def _lines(path: Path, fh) -> Iterator[str]:
    for number, raw in enumerate(fh, 1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", file=path, line=number
            ) from None
        yield text


@contextlib.contextmanager
def open_text(path: Path) -> Iterator[Iterator[str]]:
    """Open a file as an iterator of UTF-8 lines; an empty or missing file is an InputError."""
    path = Path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path) from None
    try:
        if path.stat().st_size == 0:
            raise InputError("the file is empty", file=path)
        yield _lines(path, fh)
    finally:
        fh.close()


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a bad line is an InputError naming it."""
    any_line = False
    with open_text(path) as lines:
        for number, text in enumerate(lines, 1):
            if not text.strip():
                continue
            if len(text) > MAX_FIELD:
                raise InputError(f"line longer than {MAX_FIELD:,} characters", file=path, line=number)
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", file=path, line=number) from None
            if not isinstance(obj, dict):
                raise InputError(f"expected a JSON object, got {type(obj).__name__}", file=path, line=number)
            any_line = True
            yield number, obj
    if not any_line:
        raise InputError("no records in the file", file=path)


def read_csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a CSV with a header; ragged or truncated rows are InputErrors."""
    with open_text(path) as lines:
        reader = csv.DictReader(lines)
        any_row = False
        try:
            if not reader.fieldnames:
                raise InputError("no header row", file=path, line=1)
            for row in reader:
                if None in row:
                    raise InputError("more cells than header columns", file=path, line=reader.line_num)
                missing = [k for k, v in row.items() if v is None]
                if missing:
                    raise InputError(
                        "fewer cells than header columns (truncated row?)", file=path, line=reader.line_num, field=missing[0]
                    )
                any_row = True
                yield reader.line_num, row
        except csv.Error as exc:
            raise InputError(f"malformed CSV ({exc})", file=path, line=reader.line_num + 1) from None
    if not any_row:
        raise InputError("no data rows after the header", file=path)
