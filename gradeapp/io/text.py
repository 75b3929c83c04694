"""Strict reading of text inputs: UTF-8 checked line by line, size limits, located errors."""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from gradeapp.errors import InputError

MAX_FIELD = 1_000_000  # characters; a larger field is almost surely a broken file, not a text
MAX_DEPTH = 1024  # orjson's limit of JSON nesting; Python's json gives up near the recursion limit
csv.field_size_limit(MAX_FIELD)


def _lines(path: Path, fh) -> Iterator[str]:
    for number, raw in enumerate(fh, 1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                file=path,
                line=number,
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
        if os.fstat(fh.fileno()).st_size == 0:
            raise InputError("the file is empty", file=path)
        yield _lines(path, fh)
    finally:
        fh.close()


def _jsonl_error(path: Path, number: int, raw: bytes) -> InputError:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InputError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})", file=path, line=number
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return InputError(f"not valid JSON ({exc.msg} at column {exc.colno})", file=path, line=number)
    except RecursionError:
        return InputError(f"JSON nested deeper than {MAX_DEPTH} levels", file=path, line=number)
    return InputError(
        f"not valid JSON (nested deeper than {MAX_DEPTH} levels, a number out of range or a NaN)",
        file=path,
        line=number,
    )


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a bad line is an InputError naming it."""
    path = Path(path)
    any_line = False
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path) from None
    with fh:
        # fstat: the open file, even if it is removed or replaced while we read it
        if os.fstat(fh.fileno()).st_size == 0:
            raise InputError("the file is empty", file=path)
        for number, raw in enumerate(fh, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            # orjson parses bytes as strict UTF-8, about twice as fast as json: the hot path of a
            # million-line import. On a failure json (or the decoder) says precisely what is wrong.
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                if not raw.strip():
                    continue
                raise _jsonl_error(path, number, raw) from None
            if type(obj) is not dict:
                raise InputError(f"expected a JSON object, got {type(obj).__name__}", file=path, line=number)
            if len(raw) > MAX_FIELD:
                raise InputError(f"line longer than {MAX_FIELD:,} characters", file=path, line=number)
            any_line = True
            yield number, obj
    if not any_line:
        raise InputError("no records in the file", file=path)


def read_csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a CSV with a header; ragged rows and stray quotes are InputErrors.

    The reader is strict: a quote that is never closed would otherwise swallow every row after it
    into one field. A column named twice in the header is refused (which of its cells counts?).
    """
    with open_text(path) as lines:
        reader = csv.reader(lines, strict=True)
        record_line = 1  # the line a record starts on (a quoted field may span several lines)
        try:
            header = next(reader, None)
            if not header:
                raise InputError("no header row", file=path, line=1)
            repeated = next((name for n, name in enumerate(header) if name in header[:n]), None)
            if repeated is not None:
                raise InputError("a column named twice in the header", file=path, line=1, field=repeated)
            any_row = False
            record_line = reader.line_num + 1
            for cells in reader:
                if cells:
                    yield record_line, _csv_row(path, record_line, header, cells)
                    any_row = True
                record_line = reader.line_num + 1
        except csv.Error as exc:
            raise InputError(
                f"malformed CSV ({exc}): a quote opened in this record is not closed, or a quoted field "
                "has text after its closing quote",
                file=path,
                line=record_line,
            ) from None
    if not any_row:
        raise InputError("no data rows after the header", file=path)


def _csv_row(path: Path, line: int, header: list[str], cells: list[str]) -> dict[str, str]:
    """Return a data row as a dict by header column; ragged rows and huge fields are InputErrors."""
    if len(cells) > len(header):
        raise InputError("more cells than header columns", file=path, line=line)
    if len(cells) < len(header):
        raise InputError(
            "fewer cells than header columns (truncated row?)", file=path, line=line, field=header[len(cells)]
        )
    row = dict(zip(header, cells, strict=True))
    big = next((name for name, value in row.items() if len(value) > MAX_FIELD), None)
    if big is not None:
        raise InputError(f"a field longer than {MAX_FIELD:,} characters", file=path, line=line, field=big)
    return row
