"""The Statistics window's Evidence tab: judge quote grounding, agreement split by it, span agreement.

The tables are computed on the Statistics window's worker pool (its `start` and job class are passed
in, so this module does not import the window, which imports it) and shown as plain tables.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QLabel, QSplitter, QTableView, QVBoxLayout, QWidget

from gradeapp.db import open_project
from gradeapp.services.evidence import evidence_statistics

TABLES = (
    ("grounding_by_k", "Credited points with a grounded quote, per judge and k (Wilson 95%)"),
    ("grounded_agreement", "People credit the judge's credited points: grounded quote vs not (Newcombe 95%)"),
    ("span_agreement", "Span agreement: token F1 and Krippendorff's alpha over tokens (bootstrap 95%)"),
    ("grounding", "Per judge, criterion and k"),
)


def _statistics(store_path: Path) -> dict[str, pd.DataFrame]:
    with open_project(store_path, create=False) as store:
        return evidence_statistics(store)


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.3f}"  # NaN: an empty cell
    return str(value)


def frame_model(frame: pd.DataFrame, model: QStandardItemModel) -> None:
    """Fill a standard item model with a frame's header and cells (as text, floats to 3 places)."""
    model.clear()
    model.setHorizontalHeaderLabels([str(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        model.appendRow([QStandardItem(_cell(v)) for v in row])


class EvidenceTab(QWidget):
    """Evidence statistics of the project, refreshed with the Statistics window."""

    refreshed = Signal()

    def __init__(
        self, store_path: Path, start: Callable, make_job: Callable, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.store_path, self.start, self.make_job = store_path, start, make_job
        self.tables: dict[str, pd.DataFrame] = {}
        self.status = QLabel("computing the evidence statistics…")
        self.status.setWordWrap(True)
        self.models: dict[str, QStandardItemModel] = {}
        split = QSplitter(Qt.Orientation.Vertical)
        for name, title in TABLES:
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(QLabel(title))
            self.models[name] = QStandardItemModel(self)
            table = QTableView()
            table.setModel(self.models[name])
            table.setObjectName(f"table_evidence_{name}")
            lay.addWidget(table)
            split.addWidget(box)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    def refresh(self) -> None:
        """Compute the evidence tables again on the worker pool."""
        job = self.make_job(lambda _progress: _statistics(self.store_path))
        job.signals.finished.connect(self._on_done)
        job.signals.failed.connect(lambda message: self.status.setText(message.splitlines()[0]))
        self.start(job)

    def _on_done(self, tables: dict[str, pd.DataFrame]) -> None:
        self.tables = tables
        for name, _title in TABLES:
            frame_model(tables[name], self.models[name])
        spans = tables["span_agreement"]
        quotes = int(tables["grounding"]["credited"].sum()) if not tables["grounding"].empty else 0
        self.status.setText(
            f"{quotes} credited judge points; {int(spans['units'].sum())} generation x criterion units with "
            "evidence from two graders. Evidence is optional: people mark it with Ctrl+Alt + a criterion's key."
        )
        self.refreshed.emit()
