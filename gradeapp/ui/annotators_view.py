"""Annotator quality table for the statistics view: one row per person, fast-decision warnings marked."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gradeapp.services import quality
from gradeapp.ui.project_dialog import ProjectDialog, show_non_modal

HEADERS = [
    ("annotator", "Annotator", None),
    ("items", "Items", "d"),
    ("pass_rate", "Pass rate", ".3f"),
    ("median_seconds", "Median s", ".1f"),
    ("fast_decisions", "Fast", "d"),
    ("agreement_with_judge", "Agree judge", ".3f"),
    ("kappa_with_judge", "κ judge", ".3f"),
    ("agreement_with_others", "Agree others", ".3f"),
    ("kappa_with_others", "κ others", ".3f"),
    ("warnings", "Warnings", None),
]


def _cell(value: Any, spec: str | None) -> str:
    if value is None:
        return "-"
    return format(value, spec) if spec else str(value)


class AnnotatorsView(ProjectDialog):
    """The per-annotator quality signals of a project, with an adjustable fast-decision threshold."""

    def __init__(self, store_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(store_path, "Annotators", (980, 360), parent)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("annotators")
        self.table.setHorizontalHeaderLabels([h[1] for h in HEADERS])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("threshold")
        self.threshold.setRange(0.5, 600.0)
        self.threshold.setDecimals(1)
        self.threshold.setSuffix(" s")
        self.threshold.setValue(quality.FAST_SECONDS)
        self.threshold.valueChanged.connect(self._on_threshold_value_changed)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Fast decision: a submit under"))
        bar.addWidget(self.threshold)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.rows: list[dict[str, Any]] = []
        self.refresh()

    def refresh(self) -> None:
        """Recompute the table from the project."""
        self.rows = quality.annotator_table(self.store, self.threshold.value())
        self.table.setRowCount(len(self.rows))
        warn = QColor(255, 236, 179)
        for i, row in enumerate(self.rows):
            for j, (key, _label, spec) in enumerate(HEADERS):
                item = QTableWidgetItem(_cell(row[key], spec))
                if spec:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row["warnings"]:
                    item.setBackground(warn)
                    item.setToolTip(f"<qt>{html.escape(row['warnings'])}</qt>")  # names shown as written
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()

    def _on_threshold_value_changed(self, _value: float) -> None:
        self.refresh()


def open_annotators_view(parent: QWidget | None, store_path: Path) -> AnnotatorsView:
    """Open the annotator quality table on the project at store_path (non-modal); return it."""
    return show_non_modal(AnnotatorsView(Path(store_path), parent))
