"""Write tables as CSV files that are safe to open in a spreadsheet and read back losslessly.

CSV cells are neutralised against spreadsheet formula injection: a *text* cell that starts with
= + - @ (or a tab or carriage return) gets a leading single quote. Numeric columns are written as
numbers and never touched, so -0.05 stays the number -0.05; a text cell that is a plain decimal
number (such as "-3") is left alone too, as a spreadsheet reads it as that number and not as a
formula. To keep the verdicts CSV lossless, a text cell that already starts with quotes followed by
one of those characters gets one more quote, and `gradeapp import` removes exactly one.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

_DANGER = re.compile(r"^'*[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: object) -> object:
    """Return a text cell made safe for spreadsheets (see the module docstring); other values unchanged."""
    if isinstance(value, str) and _DANGER.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    """Undo neutralise() on a text cell read back from one of our CSV files."""
    if value.startswith("'") and _DANGER.match(value):
        return value[1:]
    return value


# The same two patterns for Arrow's RE2: its $ is the end of the text only, Python's also matches before a
# final newline, hence the optional newline.
_DANGER_RE2 = r"^'*[=+\-@\t\r]"
_NUMBER_RE2 = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\n?$"


def neutralise_array(values):
    """Return an Arrow string array with neutralise() applied to every cell, as array operations (nulls kept)."""
    import pyarrow as pa  # deferred: Arrow is only needed when a table is written
    import pyarrow.compute as pc

    values = (
        pa.array(values, type=pa.string()) if not isinstance(values, pa.Array | pa.ChunkedArray) else values
    )
    if not _may_start_with_danger(values):
        return values  # no cell can be a formula: the regular expressions are not needed
    danger = pc.and_(
        pc.match_substring_regex(values, _DANGER_RE2),
        pc.invert(pc.match_substring_regex(values, _NUMBER_RE2)),
    )
    quoted = pc.binary_join_element_wise(pa.scalar("'", values.type), values, pa.scalar("", values.type))
    return pc.if_else(pc.fill_null(danger, False), quoted, values)


_FIRST_BYTES = np.zeros(256, bool)
_FIRST_BYTES[list(b"=+-@\t\r'")] = True


def _may_start_with_danger(values) -> bool:
    """Return whether any cell of an Arrow string array may start with = + - @ tab CR or a quote.

    Reads each cell's first byte from the array's buffers (the characters are ASCII, so a byte is a
    character), without building a sliced copy of every cell. A null's bytes count too: at worst the exact
    test runs for nothing.
    """
    import pyarrow as pa  # deferred: Arrow is only needed when a table is written

    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    for chunk in chunks:
        if len(chunk) == 0 or chunk.null_count == len(chunk):
            continue
        _validity, offsets, data = chunk.buffers()
        if data is None or data.size == 0:
            continue  # every cell empty
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        off = np.frombuffer(offsets, width)[chunk.offset : chunk.offset + len(chunk) + 1]
        starts = off[:-1][off[1:] > off[:-1]]
        if _FIRST_BYTES[np.frombuffer(data, np.uint8)[starts]].any():
            return True
    return False


def neutralise_table(table):
    """Return an Arrow table with every string column neutralised; numeric columns untouched."""
    import pyarrow as pa

    for i, fld in enumerate(table.schema):
        if pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type):
            table = table.set_column(i, fld, neutralise_array(table.column(i)))
    return table


class CsvTableWriter:
    """Write Arrow tables to one UTF-8 CSV file batch by batch, text cells neutralised (a context manager)."""

    def __init__(self, path: Path, schema) -> None:
        import pyarrow.csv as pacsv

        self._writer = pacsv.CSVWriter(str(path), schema.remove_metadata())

    def write(self, table) -> None:
        """Neutralise and append a table of the writer's schema."""
        self._writer.write_table(neutralise_table(table.replace_schema_metadata(None)))

    def __enter__(self) -> CsvTableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self._writer.close()


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write a frame as UTF-8 CSV with text cells neutralised and numbers kept numeric."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]) and out[col].dtype != object:
            arr = neutralise_array(out[col].astype(object).where(out[col].notna(), None).tolist())
            out[col] = pd.array(arr.to_pylist(), dtype=out[col].dtype)
        elif out[col].dtype == object:
            out[col] = out[col].map(neutralise)  # mixed cells: only the text ones are touched
    out.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return path
