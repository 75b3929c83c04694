"""The desk's audit mode panel: per student x k the current interval, items left, and 'target reached'.

Computed on a worker thread with its own connection (the whole audit is loaded); the desk asks for a
refresh after every submit and re-orders its queue only when the person asks (turning the mode on, or
Re-order), so rows never move under the cursor.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gradeapp.services.audit_queue import audit_progress
from gradeapp.services.project import open_existing
from gradeapp.ui.frame_model import FrameModel
from gradeapp.ui.jobs import Job, start_job

PANEL_COLUMNS = [
    "student", "k", "graded", "drawn", "estimate", "ci_low", "ci_high", "cs_low", "cs_high",
    "cs_half_width", "left", "extra", "reached",
]  # fmt: skip


def _progress(store_path: Path, draw: str | None, target: float):
    with open_existing(store_path) as store:
        return audit_progress(store, draw=draw, target=target)


class AuditPanel(QWidget):
    """The audit's cells with their intervals and remaining items, and the order to serve the rest."""

    progress_ready = Signal(object)

    def __init__(self, store_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store_path = Path(store_path)
        self.draw: str | None = None
        self.progress = None
        self._busy = False
        self._dirty = False
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._jobs: list[Job] = []  # jobs are not auto-deleted (see jobs.Job): kept until the pool is idle
        self.target = QDoubleSpinBox()
        self.target.setRange(0.005, 0.5)
        self.target.setSingleStep(0.005)
        self.target.setDecimals(3)
        self.target.setValue(0.05)
        self.target.setPrefix("target ± ")
        self.target.setAccessibleName("Target half-width")
        self.reorder_button = QPushButton("&Re-order")
        self.reorder_button.setToolTip("Serve the items left widest interval first, as the audit stands now")
        self.message = QLabel("computing the audit…")
        self.message.setWordWrap(True)
        self.message.setObjectName("audit_message")
        # an empty queue says why, with the action that fixes it (see gradeapp.ui.audit_mode)
        self.empty_reason = QLabel()
        self.empty_reason.setWordWrap(True)
        self.empty_reason.setObjectName("audit_empty_reason")
        self.empty_reason.setStyleSheet("font-weight: bold;")
        self.fix_button = QPushButton()
        self.fix_button.setObjectName("audit_fix")
        self.empty_reason.hide()
        self.fix_button.hide()
        self.model = FrameModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setObjectName("audit_cells")
        bar = QHBoxLayout()
        bar.addWidget(self.target)
        bar.addWidget(self.reorder_button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.message)
        fix = QHBoxLayout()
        fix.addWidget(self.empty_reason, 1)
        fix.addWidget(self.fix_button)
        layout.addLayout(fix)
        layout.addWidget(self.table, 1)
        self.target.valueChanged.connect(lambda _v: self.refresh())

    def refresh(self) -> None:
        """Recompute the audit's progress off the UI thread; progress_ready carries it (one at a time)."""
        if self._busy:
            self._dirty = True
            return
        self._busy, self._dirty = True, False
        draw, target = self.draw, float(self.target.value())
        job = Job(lambda _report: _progress(self.store_path, draw, target))
        job.signals.finished.connect(self._on_done)
        job.signals.failed.connect(self._on_failed)
        start_job(self.pool, self._jobs, job)

    def show_fix(self, reason: str | None, action: str | None) -> None:
        """Show why the queue is empty and the button that fixes it (None hides both)."""
        self.empty_reason.setText(reason or "")
        self.empty_reason.setVisible(reason is not None)
        self.fix_button.setText(action or "")
        self.fix_button.setVisible(action is not None)

    def _on_failed(self, message: str) -> None:
        self._busy = False
        self.message.setText(message.splitlines()[0])

    def _on_done(self, progress) -> None:
        self._busy = False
        if self._dirty:
            self.refresh()
        self.progress = progress
        self.message.setText(progress.message)
        self.model.set_frame(progress.cells.reindex(columns=PANEL_COLUMNS))
        self.table.resizeColumnsToContents()
        self.progress_ready.emit(progress)

    def shutdown(self) -> None:
        """Wait for a running computation (the window is closing)."""
        self.pool.waitForDone(10_000)
