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


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write a frame as UTF-8 CSV with text cells neutralised and numbers kept numeric."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return path
