"""The desk's audit mode: the draw served widest interval first, and never an empty queue without a way out.

When the queue of the mode is empty the panel says why in words and offers the action that fixes it:
draw an audit when there is none, draw the planner's suggested number when cells need more items
than their draw holds, or leave the mode when every cell has reached its target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow

if TYPE_CHECKING:
    from gradeapp.services.audit_queue import AuditProgress
    from gradeapp.ui.audit_panel import AuditPanel


def empty_reason(progress: AuditProgress) -> tuple[str, str | None]:
    """Return why the audit queue is empty, in words, and the label of the button that fixes it (or None)."""
    if progress.draw is None:
        return "There is no audit draw yet, so audit mode has nothing to serve.", "Draw an audit"
    if progress.all_reached:
        return (
            f"Every cell of draw {progress.draw!r} has reached its target: nothing is left to grade here.",
            "Leave audit mode",
        )
    need = progress.more_needed()
    if need:
        return (
            f"Every item of draw {progress.draw!r} is graded, but {len(need)} cell(s) still need about "
            f"{sum(need.values())} more items than the draw holds to reach ±{progress.target:g}.",
            f"Draw {sum(need.values())} more",
        )
    return f"Every item of draw {progress.draw!r} is graded.", "Leave audit mode"


class AuditMode(QObject):
    """Audit mode of one desk window: its menu action, its dock with the panel, and the order it serves."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.panel: AuditPanel | None = None
        self.dock: QDockWidget | None = None
        self._reorder = False
        self.action = QAction("&Audit mode: widest interval first", window)
        self.action.setCheckable(True)
        self.action.toggled.connect(self.set_on)
        window.judgment_recorded.connect(self._on_judgment)

    @property
    def on(self) -> bool:
        return self.action.isChecked()

    def _build(self) -> None:
        from gradeapp.ui.audit_panel import AuditPanel  # deferred: the audit's statistics load pandas

        window = self.window
        self.panel = AuditPanel(window.store_path, window)
        self.panel.progress_ready.connect(self._on_progress)
        self.panel.reorder_button.clicked.connect(self.reorder_now)
        self.panel.fix_button.clicked.connect(self._on_fix_clicked)
        self.dock = QDockWidget("Audit: intervals and items left", window)
        self.dock.setObjectName("audit_dock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)

    def set_on(self, on: bool) -> None:
        """Serve the audit draw widest interval first (off: the queue by id, on the same item)."""
        if on and self.panel is None:
            self._build()
        if self.dock is not None:
            self.dock.setVisible(on)
        if on:
            self.panel.draw = self.window.filters["draw"].currentData()
            self.reorder_now()
        else:
            self.window.set_queue_order(None)

    def reorder_now(self) -> None:
        self._reorder = True
        self.panel.refresh()

    def _on_progress(self, progress: AuditProgress) -> None:
        if self._reorder and self.on:
            self._reorder = False
            self.window.set_queue_order(progress.order)
        if self.on and not progress.order:
            reason, fix = empty_reason(progress)
            self.panel.show_fix(reason, fix)
            self.window.show_empty(reason)
        else:
            self.panel.show_fix(None, None)
        if progress.all_reached:
            self.window.statusBar().showMessage(progress.message, 10_000)

    def _on_fix_clicked(self) -> None:
        progress = self.panel.progress
        label = self.panel.fix_button.text()
        if progress is None or label.startswith("Leave"):
            self.action.setChecked(False)
            return
        from gradeapp.services.audit_queue import draw_more  # deferred: it loads pandas

        report = self.window.run_write(lambda: draw_more(self.window.store, progress))
        if report is None:
            return
        self.window.statusBar().showMessage(
            f"drew {report['n']} generations into {report['name']!r}: audit mode now serves that draw", 10_000
        )
        self.window.add_draw_choice(report["name"])
        self.panel.draw = report["name"]
        self.reorder_now()

    def _on_judgment(self, _generation_id: int) -> None:
        if self.panel is not None and self.on:
            self.panel.refresh()

    def shutdown(self) -> None:
        if self.panel is not None:
            self.panel.shutdown()
