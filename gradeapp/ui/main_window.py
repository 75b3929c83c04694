"""The grading desk's main window: queue, text, rubric, context; every action on a key.

The window only renders: the desk's logic is gradeapp.services.desk.DeskSession (Qt-free), whose methods
return the Change each key wrote; the window applies it to the rubric and the queue row, and nothing
else is read again. The File menu is gradeapp.ui.file_actions, audit mode gradeapp.ui.audit_mode.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QUndoStack
from PySide6.QtWidgets import QInputDialog, QMainWindow, QMessageBox, QWidget

from gradeapp.errors import EnvironmentFailure, GradeappError
from gradeapp.services import backup, grading, guidelines, team
from gradeapp.services.desk import DeskSession
from gradeapp.services.grading import Change, Item, ItemTimer
from gradeapp.services.project import open_existing
from gradeapp.ui.audit_mode import AuditMode
from gradeapp.ui.desk_actions import build_actions, build_menus
from gradeapp.ui.desk_layout import SPLIT, DeskLayout
from gradeapp.ui.evidence_view import EvidenceController
from gradeapp.ui.file_actions import FileActions, remember_recent
from gradeapp.ui.optional_views import OptionalViews
from gradeapp.ui.undo import DecisionsCommand, FlagCommand, SubmitCommand

T = TypeVar("T")
SCREEN_SHARE = 0.85  # of the available screen, on first start (then the saved geometry)
BLIND_OFF = (
    "Blind mode is OFF: the judge is shown, so every decision you make from now on is stored as "
    "post-reveal and left out of the agreement statistics. Ctrl+B hides the judge again."
)


def first_size(available) -> tuple[int, int]:
    """Return the window's first size: most of the available screen, never below 1024 x 640."""
    if available is None or available.width() <= 0:
        return 1280, 760
    width = max(min(1024, available.width()), round(available.width() * SCREEN_SHARE))
    height = max(min(640, available.height()), round(available.height() * SCREEN_SHARE))
    return width, height


def ensure_annotator(settings: QSettings, parent: QWidget | None = None) -> str:
    """Return the annotator's name from settings, asking once and remembering it."""
    name = str(settings.value("annotator", "") or "").strip()
    if name:
        return name
    import getpass

    default = getpass.getuser()
    text, ok = QInputDialog.getText(
        parent, "gradeapp", "Your name (stored with every verdict):", text=default
    )
    name = text.strip() if ok and text.strip() else default
    settings.setValue("annotator", name)
    settings.sync()
    return name


class MainWindow(QMainWindow, DeskLayout):
    """One project's desk; open several for several projects."""

    item_shown = Signal(int)
    judgment_recorded = Signal(int)
    open_requested = Signal(Path)
    closed = Signal()

    def __init__(self, store_path: Path, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.store_path = Path(store_path)
        self.store = open_existing(self.store_path)
        # A package is graded as the person it was made for: merge refuses anyone else's work.
        self.package_for = team.package_person(self.store)
        self.annotator = self.package_for or ensure_annotator(settings, self)
        # A read-only project (permissions, a read-only medium) is shown, never graded.
        self.readonly = self.store.readonly
        self.backup_thread = None
        if self.readonly:
            self.grader_id = self.store.find_grader_id("human", self.annotator) or 0
        else:
            self.grader_id = self.store.grader_id("human", self.annotator)
            guidelines.ensure_guidelines(self.store)
            self.backup_thread = backup.rolling_in_background(self.store.path)
        self.session = DeskSession(self.store, self.grader_id, blind=settings.value("blind", True, type=bool))
        self.undo_stack = QUndoStack(self)
        self.current_row: int | None = None
        self._total: int | None = None
        self._closed = False
        self._prefetch_wanted = False
        self._after_paint: list[Callable[[], None]] = []
        self.inform: Callable[[str, str], Any] = lambda title, text: QMessageBox.information(
            self, title, text
        )
        self.warn: Callable[[str, str], Any] = lambda title, text: QMessageBox.warning(self, title, text)
        self.file_actions = FileActions(self)
        self.views = OptionalViews(self)
        self.build_layout()  # DeskLayout: the widgets, in gradeapp.ui.desk_layout
        self.audit_mode = AuditMode(self)
        build_actions(self)
        build_menus(self)
        self.evidence = EvidenceController(self)  # evidence: its own actions, menu and highlights
        remember_recent(settings, self.store_path)
        package = f" — package for {self.package_for}" if self.package_for else ""
        package += " — read-only" if self.readonly else ""
        self.setWindowTitle(
            f"{self.store.project.get('name', self.store_path.stem)}{package} — gradeapp desk"
        )
        self._restore_geometry()
        self._update_blind_label()
        self.refresh_progress()
        self.show_start()
        self.queue_view.setFocus()

    # the session holds the item on screen, its timer and blind mode; the window only shows them
    @property
    def item(self) -> Item | None:
        return self.session.item

    @property
    def timer(self) -> ItemTimer:
        return self.session.timer

    @property
    def blind(self) -> bool:
        return self.session.blind

    @property
    def audit_panel(self):
        return self.audit_mode.panel

    @property
    def audit_dock(self):
        return self.audit_mode.dock

    # -- writing ------------------------------------------------------------------------------------
    def run_write(self, what: Callable[[], T]) -> T | None:
        """Run one write; show 'saved' only once it has committed, explain a busy or broken file."""
        if self.readonly:
            self.statusBar().showMessage(
                f"{self.store_path} is read-only here: nothing can be graded (copy it to a writable folder)",
                6000,
            )
            return None
        self.saved_label.setText("saving…")
        try:
            result = what()
        except sqlite3.OperationalError as exc:
            self.saved_label.setText("NOT saved")
            busy = "locked" in str(exc) or "busy" in str(exc)
            self.warn(
                "Not saved",
                (
                    f"The project {self.store_path} is busy in another program (another gradeapp?) and did not "
                    "answer in time. This change was NOT saved; try again in a moment."
                )
                if busy
                else f"This change was NOT saved: {exc}",
            )
            return None
        except EnvironmentFailure as exc:  # e.g. another process restored a backup over the project
            self.saved_label.setText("NOT saved")
            self.warn("Not saved", f"This change was NOT saved: {exc}")
            return None
        except GradeappError as exc:
            self.saved_label.setText("")
            self.statusBar().showMessage(str(exc), 6000)
            return None
        self.saved_label.setText(f"saved ✓ {datetime.now():%H:%M:%S}")
        return result

    def _require_item(self) -> Item | None:
        if self.item is None:
            self.statusBar().showMessage("The queue is empty.", 4000)
        return self.item

    def _decide(self, act: Callable[[], Change]) -> None:
        """Run a decision (a criterion key or accept), push its undo command, show what it changed."""
        if self._require_item() is None:
            return
        self.feedback.dismiss()  # a new decision: the last item's verdicts have been seen
        change = self.run_write(act)
        if change is None:
            return
        words = ", ".join(
            f"{c} → {'–' if v is None else ('pass' if v else 'fail')}" for c, v in change.values.items()
        )
        self.undo_stack.push(
            DecisionsCommand(self, change.generation_id, change.values, change.previous, words)
        )
        self.show_change(change)

    def press_skill(self, n: int) -> None:
        self._decide(lambda: self.session.press(self.session.skill_criterion(n)))

    def press(self, criterion: str) -> None:
        """Apply a criterion's key: the opposite of its default first, then toggle."""
        self._decide(lambda: self.session.press(criterion))

    def accept_rest(self) -> None:
        if self.item is not None and self.item.undecided():
            self._decide(self.session.accept_rest)

    def show_change(self, change: Change) -> None:
        """Show what one write changed: its queue row, and the rubric when it is the item on screen."""
        self.model.set_status(change.generation_id, change.status)
        if self.item is not None and self.item.generation_id == change.generation_id:
            self.render_item()
        else:
            self.show_generation(change.generation_id)  # undo and U bring their item back on screen
        self.judgment_recorded.emit(change.generation_id)

    def submit(self) -> None:
        """Submit the item (every criterion decided), open the next one, keep the judge's verdicts in view."""
        item = self._require_item()
        if item is None:
            return
        if item.undecided():
            self.statusBar().showMessage(
                f"{len(item.undecided())} criteria undecided: press their keys, or A to accept the rest.",
                5000,
            )
            return
        if item.submitted:
            self.move(+1)
            return
        self.save_note()
        result = self.run_write(self.session.submit)
        if result is None:
            return
        change, feedback = result
        self.undo_stack.push(SubmitCommand(self, item.generation_id, True, f"submit {item.uid}"))
        self.model.set_status(change.generation_id, change.status)
        self.judgment_recorded.emit(change.generation_id)
        # the next item replaces this one at once; the progress figures wait until it is painted
        self._after_paint.append(self.refresh_progress)
        QTimer.singleShot(100, self._flush_after_paint)  # in case nothing gets painted (hidden window)
        self.move(+1)
        self.feedback.show_feedback(feedback)

    def reopen_last(self) -> None:
        """Take back the last submitted item and show it (undo with Ctrl+Z)."""
        change = self.run_write(self.session.reopen_last)
        if change is None:
            return
        self.feedback.dismiss()
        self.undo_stack.push(SubmitCommand(self, change.generation_id, False, "reopen last submitted"))
        self.refresh_progress()
        self.show_change(change)

    def toggle_flag(self) -> None:
        if self._require_item() is None:
            return
        change = self.run_write(self.session.toggle_flag)
        if change is not None:
            self.undo_stack.push(
                FlagCommand(
                    self, change.generation_id, bool(change.flagged), "flag" if change.flagged else "unflag"
                )
            )
            self.show_change(change)

    def skip(self) -> None:
        if self._require_item() is None:
            return
        self.save_note()
        change = self.run_write(self.session.skip)
        if change is not None:
            self.model.set_status(change.generation_id, change.status)
            self.move(+1)

    def save_note(self) -> None:
        """Store the note box's text when it changed."""
        if self.item is None or self._closed:
            return
        text = self.note_box.toPlainText().strip()
        if text != self.item.note:
            self.run_write(lambda: self.session.save_note(text))

    def escape(self) -> None:
        """Esc: leave the note box (saving the note), else hide the judge's verdicts on the last item."""
        if self.note_box.hasFocus():
            self.save_note()
            self.queue_view.setFocus()
            return
        self.feedback.dismiss()

    # -- undo targets (gradeapp.ui.undo.Desk) -------------------------------------------------------
    def apply_values(self, generation_id: int, values: dict[str, int | None]) -> None:
        change = self.run_write(lambda: self.session.set_values(generation_id, values))
        if change is not None:
            self.show_change(change)

    def apply_submitted(self, generation_id: int, submitted: bool) -> None:
        change = self.run_write(lambda: self.session.set_submitted(generation_id, submitted))
        if change is not None:
            self.refresh_progress()
            self.show_change(change)

    def apply_flag(self, generation_id: int, flagged: bool) -> None:
        change = self.run_write(lambda: self.session.set_flag(generation_id, flagged))
        if change is not None:
            self.show_change(change)

    # -- navigation and queue -----------------------------------------------------------------------
    def move(self, step: int) -> None:
        row = self.current_row if self.current_row is not None else -1
        target = self.model.next_row(row) if step > 0 else (row - 1 if row > 0 else None)
        if target is None:
            self.statusBar().showMessage("End of the queue." if step > 0 else "Start of the queue.", 4000)
            return
        self.show_row(target)

    def filter_values(self) -> dict[str, Any]:
        return {k: c.currentData() for k, c in self.filters.items() if c.currentData() is not None}

    def show_start(self) -> None:
        """Show where this person left off: the first item of the queue (in its order) not submitted."""
        self.current_row = None
        if not self.model.rowCount():
            self.show_empty(
                "No item matches these filters." if self.model.order is None else "The audit queue is empty."
            )
            return
        generation_id = self.session.resume_point(self.filter_values(), self.model.order)
        row = self.model.load_until(generation_id) if generation_id is not None else None
        self.show_row(row if row is not None else 0)

    def on_filter_changed(self) -> None:
        self.model.set_filters(self.filter_values())
        self.fit_queue_columns()
        self._total = None
        self.refresh_progress()
        self.show_start()

    def set_queue_order(self, ids: list[int] | None) -> None:
        """Serve these generations in this order (audit mode), or the queue by id again on the same item."""
        keep = self.item.generation_id if self.item is not None else None
        self.model.set_order(ids)
        self.fit_queue_columns()
        self._total = None
        self.refresh_progress()
        row = self.model.load_until(keep) if ids is None and keep is not None else None
        if row is not None:
            self.show_row(row)
        else:
            self.show_start()

    def queue_changed(self) -> None:
        """Read the queue again after an import (new generations), on the same item where it still is."""
        self.set_queue_order(self.model.order)

    def add_draw_choice(self, name: str) -> None:
        """Offer a new audit draw in the Draw filter (without switching the queue to it)."""
        combo = self.filters["draw"]
        if combo.findData(name) < 0:
            combo.blockSignals(True)
            combo.addItem(name, name)
            combo.blockSignals(False)

    def refresh_progress(self) -> None:
        """Show done / total in the queue and the median seconds per item."""
        p = grading.progress(self.store, self.grader_id, self.filter_values(), total=self._total)
        self._total = p["total"]
        median = "–" if p["median_seconds"] is None else f"{p['median_seconds']:.0f}"
        self.progress_label.setText(f"done {p['done']:,} / {self._total:,}  ·  median {median} s/item")

    def toggle_blind(self) -> None:
        blind = self.actions_by_id["blind"].isChecked()
        self.settings.setValue("blind", blind)
        self.session.set_blind(blind)
        self._update_blind_label()
        self.render_item()

    def _update_blind_label(self) -> None:
        self.blind_label.setText(
            "blind: judge hidden until submit" if self.blind else "blind OFF: post-reveal"
        )
        self.blind_banner.setText(BLIND_OFF)
        self.blind_banner.setVisible(not self.blind)

    # -- showing ------------------------------------------------------------------------------------
    def show_row(self, row: int) -> None:
        generation_id = self.model.generation_id(row)
        if generation_id is not None:
            self.show_generation(generation_id)

    def show_generation(self, generation_id: int) -> None:
        """Show one generation (and select it in the queue when it is loaded there)."""
        if self.item is not None and self.item.generation_id != generation_id:
            self.save_note()
        self.session.show(generation_id)
        self.current_row = self.model.row_of(generation_id)
        self.render_item()
        self._prefetch_wanted = True
        if self.current_row is not None:
            self.select_row(self.current_row)
        self.item_shown.emit(generation_id)

    def on_text_painted(self) -> None:
        # prefetch only once the new item is on screen, so that reading ahead never delays a paint
        if self._prefetch_wanted:
            self._prefetch_wanted = False
            QTimer.singleShot(0, self._prefetch_next)
        if self._after_paint:
            QTimer.singleShot(0, self._flush_after_paint)

    def _flush_after_paint(self) -> None:
        while self._after_paint and not self._closed:
            self._after_paint.pop(0)()

    def _prefetch_next(self) -> None:
        """Read the next item while the person looks at this one, so that Enter shows it at once."""
        if self._closed or self.current_row is None:
            return
        generation_id = self.model.generation_id(self.current_row + 1)
        if generation_id is not None:
            self.session.prefetch(generation_id)

    def on_queue_current_changed(self, current, _previous) -> None:
        if not self.selecting and current.isValid():
            self.show_row(current.row())

    # -- lifecycle ----------------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*first_size(self.screen().availableGeometry() if self.screen() else None))
        state = self.settings.value("splitter")
        if state is None or not self.splitter.restoreState(state):
            self.splitter.setSizes([round(self.width() * share) for share in SPLIT])

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self._closed:
            event.accept()
            return
        self.save_note()
        self.audit_mode.shutdown()
        self.file_actions.exporter.wait()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.sync()
        self._closed = True
        # a project restored over by another process: its writes were refused and said so already
        with contextlib.suppress(EnvironmentFailure):
            self.store.close()
        super().closeEvent(event)
        self.closed.emit()
