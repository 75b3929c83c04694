"""A read-only Qt table model over a pandas DataFrame, shown for people: headers in words, numbers formatted."""

from __future__ import annotations

import math
import re

import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt
from PySide6.QtWidgets import QTableView

# column names whose words are not the snake_case name's own
HEADER_WORDS = {
    "n": "n",
    "k": "k",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "cs_low": "anytime CI low",
    "cs_high": "anytime CI high",
    "cs_half_width": "anytime half-width",
    "half_width": "CI half-width",
    "target_half_width": "target half-width",
    "ac1": "Gwet's AC1",
    "pabak": "PABAK",
    "npv": "NPV",
    "ppv": "precision",
    "mcnemar_p": "McNemar p",
    "rho": "ρ (human, judge)",
    "sd_human": "SD of people",
    "extra": "items more",
    "extra_planner": "items more (planner)",
    "left": "items left",
    "uid": "item",
    "why": "why",
}
# a column whose name holds one of these words is a proportion: shown as a percent
PERCENT_WORDS = ("rate", "share", "agreement", "estimate", "ci_low", "ci_high", "cs_low", "cs_high")
MAX_COLUMN_WIDTH = 340  # wider text wraps (the table wraps words) and is shown whole on hover


def header_words(column: str) -> str:
    """Return a column's header in words: 'agreement_ci_low' -> 'Agreement CI low'."""
    if column in HEADER_WORDS:
        return HEADER_WORDS[column]
    words = " ".join(HEADER_WORDS.get(part, part) for part in str(column).split("_"))
    words = re.sub(r"\bci\b", "CI", words)
    return words[:1].upper() + words[1:]


def is_percent(column: str) -> bool:
    """Return whether a column holds proportions (shown as a percent)."""
    name = str(column)
    return any(word in name for word in PERCENT_WORDS) and not name.startswith(("n_", "items"))


def cell_text(column: str, value) -> str:
    """Return how a value is shown: a percent for proportions, three decimals for other floats."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1%}" if is_percent(column) else f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


class FrameModel(QAbstractTableModel):
    """A read-only table model over a pandas DataFrame; every cell's whole text is its tooltip."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._frame = pd.DataFrame()

    def set_frame(self, frame: pd.DataFrame) -> None:
        self.beginResetModel()
        self._frame = frame.reset_index(drop=True)
        self.endResetModel()

    def frame(self) -> pd.DataFrame:
        return self._frame

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._frame)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._frame.columns)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        value = self._frame.iat[index.row(), index.column()]
        if hasattr(value, "item"):  # numpy scalars: format them as the Python numbers they are
            value = value.item()
        text = cell_text(self._frame.columns[index.column()], value)
        return text if role == Qt.ItemDataRole.DisplayRole else (text or None)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if orientation == Qt.Orientation.Horizontal:
            column = str(self._frame.columns[section])
            return header_words(column) if role == Qt.ItemDataRole.DisplayRole else column
        return str(section + 1)


def fit_columns(table: QTableView) -> None:
    """Size a table's columns to their contents, at most MAX_COLUMN_WIDTH (longer text wraps), rows to fit."""
    table.setWordWrap(True)
    table.resizeColumnsToContents()
    for column in range(table.model().columnCount()):
        if table.columnWidth(column) > MAX_COLUMN_WIDTH:
            table.setColumnWidth(column, MAX_COLUMN_WIDTH)
    table.resizeRowsToContents()
