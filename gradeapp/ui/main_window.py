"""The grading desk's main window: queue, text, rubric, context; every action on a key."""

from __future__ import annotations

import importlib
import importlib.util
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QEvent, QObject, QProcess, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gradeapp import __version__
from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, TOPIC, is_skill_criterion
from gradeapp.db import open_project
from gradeapp.errors import GradeappError
from gradeapp.services import backup, grading, guidelines, team
from gradeapp.ui import shortcuts
from gradeapp.ui.evidence_view import EvidenceController
from gradeapp.ui.item_view import ContextView, GuidelineView, TextView
from gradeapp.ui.queue_model import QueueModel
from gradeapp.ui.rubric_view import RubricView
from gradeapp.ui.undo import DecisionsCommand, FlagCommand, SubmitCommand

T = TypeVar("T")
ROW_HEIGHT = 22
MAX_RECENT = 8
OPTIONAL_VIEWS = {
    "stats": ("gradeapp.ui.stats_view", "open_stats_view", "Statistics"),
    "adjudication": ("gradeapp.ui.adjudication_view", "open_adjudication_view", "Adjudication"),
    "run": ("gradeapp.ui.run_dialog", "open_run_dialog", "Run generation/judge"),
    "annotators": ("gradeapp.ui.annotators_view", "open_annotators_view", "Annotators"),
    "guidelines": ("gradeapp.ui.guidelines_view", "open_guidelines_editor", "Guidelines"),
}
STATUS_CHOICES = [("all", "All"), ("ungraded", "Ungraded"), ("graded", "Graded"), ("flagged", "Flagged")]


SCREEN_SHARE = 0.85  # of the available screen, on first start (then the saved geometry)


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


class _NoteKeys(QObject):
    """Let Esc leave the note box (saving the note) so plain keys grade again."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
            self.window.save_note()
            self.window.queue_view.setFocus()
            return True
        if event.type() == QEvent.Type.FocusOut:
            self.window.save_note()
        return False


class MainWindow(QMainWindow):
    """One project's desk; open several for several projects."""

    item_shown = Signal(int)
    judgment_recorded = Signal(int)
    open_requested = Signal(Path)
    closed = Signal()

    def __init__(self, store_path: Path, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.store = open_project(Path(store_path), create=False)
        self.store_path = Path(store_path)
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
        self.blind = settings.value("blind", True, type=bool)
        self.undo_stack = QUndoStack(self)
        self.timer = grading.ItemTimer()
        self.item: grading.Item | None = None
        self.current_row: int | None = None
        self._showing = False
        self._note_saved = ""
        self._total: int | None = None
        self._closed = False
        self._prefetched: dict[int, grading.Item] = {}
        self._prefetch_wanted = False
        self._after_paint: list[Callable[[], None]] = []
        self.inform: Callable[[str, str], Any] = lambda title, text: QMessageBox.information(
            self, title, text
        )
        self.warn: Callable[[str, str], Any] = lambda title, text: QMessageBox.warning(self, title, text)

        self._build_widgets()
        self._build_actions()
        self._build_menus()
        self._build_audit_mode()
        self.evidence = EvidenceController(self)  # evidence: its own actions, menu and highlights
        self._remember_recent(self.store_path)
        package = f" — package for {self.package_for}" if self.package_for else ""
        package += " — read-only" if self.readonly else ""
        self.setWindowTitle(
            f"{self.store.project.get('name', self.store_path.stem)}{package} — gradeapp desk"
        )
        self._restore_geometry()
        self.refresh_progress()
        if self.model.rowCount():
            self.show_row(0)
        self.queue_view.setFocus()

    # -- construction -----------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        """Build the window: queue panel | text and rubric | context and guidelines, then the status bar."""
        queue_panel = self._build_queue_panel()
        center = self._build_center()
        right = self._build_right()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(queue_panel)
        self.splitter.addWidget(center)
        self.splitter.addWidget(right)
        self.splitter.setSizes([380, 620, 340])
        self.setCentralWidget(self.splitter)
        self._build_status_bar()

    def _build_queue_panel(self) -> QWidget:
        """Return the queue table with its filters above it."""
        self._build_queue_view()
        queue_panel = QWidget()
        qlay = QVBoxLayout(queue_panel)
        qlay.setContentsMargins(0, 0, 0, 0)
        qlay.addWidget(self._build_filters())
        qlay.addWidget(self.queue_view)
        return queue_panel

    def _build_queue_view(self) -> None:
        self.model = QueueModel(self.store, self.grader_id, {}, self)
        self.queue_view = QTableView()
        self.queue_view.setModel(self.model)
        self.queue_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.queue_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.queue_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.queue_view.setTabKeyNavigation(False)
        vh = self.queue_view.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # fixed heights: no per-row sizing on 1M rows
        vh.setDefaultSectionSize(ROW_HEIGHT)
        vh.hide()
        hh = self.queue_view.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        for col, width in enumerate((70, 104, 22, 104)):
            self.queue_view.setColumnWidth(col, width)
        self.queue_view.selectionModel().currentRowChanged.connect(self._on_queue_current_changed)

    def _build_filters(self) -> QWidget:
        """Return the queue's filter combos (status, student, k, topic, draw) in a two-column grid."""
        self.filters: dict[str, QComboBox] = {}
        values = grading.queue_filter_values(self.store)
        filter_box = QWidget()
        grid = QGridLayout(filter_box)
        grid.setContentsMargins(2, 2, 2, 2)
        for n, (key, label) in enumerate(
            (
                ("status", "Status"),
                ("student", "Student"),
                ("k", "k"),
                ("topic", "Topic"),
                ("draw", "Draw"),
            )
        ):
            combo = QComboBox()
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(6)
            if key == "status":
                for value, text in STATUS_CHOICES:
                    combo.addItem(text, value)
            else:
                combo.addItem("Any", None)
                for v in values[key]:
                    combo.addItem(str(v), v)
            combo.currentIndexChanged.connect(self._on_filter_changed)
            self.filters[key] = combo
            caption = QLabel(label)
            caption.setBuddy(combo)
            grid.addWidget(caption, n // 2, (n % 2) * 2)
            grid.addWidget(combo, n // 2, (n % 2) * 2 + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        return filter_box

    def _build_center(self) -> QSplitter:
        """Return the header and text above the rubric and the note box."""
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        # a new item must not re-lay out the window (a full repaint): the header keeps its size
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.text_view = TextView()
        self.text_view.painted.connect(self._on_text_painted)
        self.rubric_view = RubricView()
        self.note_box = QPlainTextEdit()
        self.note_box.setPlaceholderText(
            "Note (N to write, Esc to leave; Alt+key or Ctrl+Return still work here)"
        )
        self.note_box.setMaximumHeight(70)
        self.note_box.setTabChangesFocus(True)
        self.note_box.installEventFilter(_NoteKeys(self))
        center = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tlay = QVBoxLayout(top)
        tlay.setContentsMargins(0, 0, 0, 0)
        # the saved indicator sits in the header row: header and indicator change together on every
        # key, and keeping both in one strip lets Qt repaint that strip instead of the whole window
        self.saved_label = QLabel("")
        self.saved_label.setTextFormat(Qt.TextFormat.PlainText)
        self.saved_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.saved_label.setFixedWidth(
            self.saved_label.fontMetrics().horizontalAdvance("saved ✓ 00:00:00 ") + 8
        )
        self.saved_label.setAccessibleName("Saved indicator")
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.header, 1)
        head.addWidget(self.saved_label)
        tlay.addLayout(head)
        tlay.addWidget(self.text_view)
        center.addWidget(top)
        bottom = QWidget()
        blay = QVBoxLayout(bottom)
        blay.setContentsMargins(0, 0, 0, 0)
        blay.addWidget(self.rubric_view)
        blay.addWidget(self.note_box)
        center.addWidget(bottom)
        center.setSizes([260, 300])
        return center

    def _build_right(self) -> QSplitter:
        """Return the context (topic, limit, skills) above the guidelines."""
        self.context_view = ContextView()
        self.guideline_view = GuidelineView()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.context_view)
        right.addWidget(self.guideline_view)
        right.setSizes([400, 150])
        return right

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress_label = QLabel()
        self.blind_label = QLabel()
        self.who_label = QLabel(f"annotator: {self.annotator}")
        for w in (self.progress_label, self.blind_label, self.who_label):
            w.setTextFormat(Qt.TextFormat.PlainText)
            bar.addPermanentWidget(w)
        self._update_blind_label()

    def _build_actions(self) -> None:
        self.actions_by_id: dict[str, QAction] = {}
        handlers: dict[str, Callable[[], None]] = {
            "topic": lambda: self.press(TOPIC),
            "makes_sense": lambda: self.press(MAKES_SENSE),
            "sentence_limit": lambda: self.press(SENTENCE_LIMIT),
            "accept": self.accept_rest,
            "submit": self.submit,
            "reopen": self.reopen_last,
            "flag": self.toggle_flag,
            "skip": self.skip,
            "note": self.note_box.setFocus,
            "next": lambda: self.move(+1),
            "previous": lambda: self.move(-1),
            "undo": self.undo_stack.undo,
            "redo": self.undo_stack.redo,
            "blind": self.toggle_blind,
            "filters": lambda: self.filters["status"].setFocus(),
            "queue": self.queue_view.setFocus,
            "stats": lambda: self.open_optional("stats"),
            "adjudication": lambda: self.open_optional("adjudication"),
            "run": lambda: self.open_optional("run"),
            "annotators": lambda: self.open_optional("annotators"),
            "guidelines": lambda: self.open_optional("guidelines"),
            "new": self.new_project,
            "open": self.open_project_dialog,
            "import": self.import_dialog,
            "export": self.export,
            "close": self.close,
            "quit": self._quit,
            "cheatsheet": self.show_cheat_sheet,
            "about": self.show_about,
        }
        for n in range(1, shortcuts.MAX_SKILL_KEYS + 1):
            handlers[shortcuts.skill_action(n)] = lambda n=n: self.press_skill(n)
        for sc in shortcuts.ALL:
            action = QAction(sc.label, self)
            action.setShortcuts([QKeySequence(k) for k in sc.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            # triggered(bool) would pass 'checked' into the handler: call it without arguments
            action.triggered.connect(lambda _checked=False, h=handlers[sc.action]: h())
            self.addAction(action)
            self.actions_by_id[sc.action] = action
        blind = self.actions_by_id["blind"]
        blind.setCheckable(True)
        blind.setChecked(self.blind)
        self.undo_stack.canUndoChanged.connect(self.actions_by_id["undo"].setEnabled)
        self.undo_stack.canRedoChanged.connect(self.actions_by_id["redo"].setEnabled)
        self.actions_by_id["undo"].setEnabled(False)
        self.actions_by_id["redo"].setEnabled(False)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        menus = {name: bar.addMenu(f"&{name}") for name in ("File", "Edit", "View", "Grade", "Help")}
        self.recent_menu = None
        for sc in shortcuts.ALL:
            menus[sc.menu].addAction(self.actions_by_id[sc.action])
            if sc.action == "open":
                self.recent_menu = menus["File"].addMenu("Open &recent")
                self.recent_menu.aboutToShow.connect(self._fill_recent)

    # -- audit mode: the draw served widest interval first --------------------------------------------
    def _build_audit_mode(self) -> None:
        self.audit_panel = None
        self.audit_dock = None
        self._audit_reorder = False
        action = QAction("&Audit mode: widest interval first", self)
        action.setCheckable(True)
        action.toggled.connect(self.set_audit_mode)
        self.actions_by_id["audit_mode"] = action
        view = next(a.menu() for a in self.menuBar().actions() if a.text() == "&View")
        view.addSeparator()
        view.addAction(action)
        self.judgment_recorded.connect(self._on_audit_judgment)

    def set_audit_mode(self, on: bool) -> None:
        """Serve the audit draw widest interval first with its intervals in a panel (off: the queue by id)."""
        if on and self.audit_panel is None:
            from gradeapp.ui.audit_panel import AuditPanel  # deferred: it loads the statistics (matplotlib)

            self.audit_panel = AuditPanel(self.store_path, self)
            self.audit_panel.progress_ready.connect(self._on_audit_progress)
            self.audit_panel.reorder_button.clicked.connect(self._audit_reorder_now)
            self.audit_dock = QDockWidget("Audit: intervals and items left", self)
            self.audit_dock.setObjectName("audit_dock")
            self.audit_dock.setWidget(self.audit_panel)
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.audit_dock)
        if self.audit_dock is not None:
            self.audit_dock.setVisible(on)
        if on:
            self.audit_panel.draw = self.filters["draw"].currentData()
            self._audit_reorder_now()
        else:
            self.model.set_order(None)
            self._after_reorder()

    def _audit_reorder_now(self) -> None:
        self._audit_reorder = True
        self.audit_panel.refresh()

    def _on_audit_progress(self, progress) -> None:
        if self._audit_reorder and self.actions_by_id["audit_mode"].isChecked():
            self._audit_reorder = False
            self.model.set_order(progress.order)
            self._after_reorder()
        if progress.all_reached:
            self.statusBar().showMessage(progress.message, 10_000)

    def _after_reorder(self) -> None:
        self.current_row = None
        self._total = None
        self.refresh_progress()
        if self.model.rowCount():
            self.show_row(0)

    def _on_audit_judgment(self, _generation_id: int) -> None:
        if self.audit_panel is not None and self.actions_by_id["audit_mode"].isChecked():
            self.audit_panel.refresh()

    # -- showing ----------------------------------------------------------------------------------
    def show_row(self, row: int) -> None:
        gid = self.model.generation_id(row)
        if gid is not None:
            self.show_generation(gid)

    def show_generation(self, generation_id: int) -> None:
        """Show one generation (and select it in the queue when it is loaded there)."""
        if self.item is None or self.item.generation_id != generation_id:
            self.save_note()
            self.timer.restart()
        prefetched = self._prefetched.pop(generation_id, None)
        self.item = prefetched or grading.load_item(
            self.store, self.grader_id, generation_id, blind=self.blind
        )
        self.current_row = self.model.row_of(generation_id)
        self._render()
        self._prefetch_wanted = True
        if self.current_row is not None:
            self._showing = True
            self.queue_view.selectRow(self.current_row)
            self._showing = False
        self.item_shown.emit(generation_id)

    def _on_text_painted(self) -> None:
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
        gid = self.model.generation_id(self.current_row + 1)
        if gid is not None and gid not in self._prefetched:
            self._prefetched = {gid: grading.load_item(self.store, self.grader_id, gid, blind=self.blind)}

    def _render(self) -> None:
        item = self.item
        if item is None:
            return
        state = (
            "submitted"
            if item.submitted
            else ("draft" if any(v is not None for v in item.decisions.values()) else "new")
        )
        flag = "  ·  FLAGGED" if item.flagged else ""
        self.header.setText(f"{item.uid}  ·  {item.topic}  ·  k = {item.k}  ·  {state}{flag}")
        if self.text_view.property("generation") != item.generation_id:
            self.text_view.show_item(item)
            self.text_view.setProperty("generation", item.generation_id)
            self.context_view.show_item(item)
            self.guideline_view.show_item(item)
            self.note_box.setPlainText(item.note)
            self._note_saved = item.note
        self.rubric_view.show_item(item)

    def _on_queue_current_changed(self, current, _previous) -> None:
        if not self._showing and current.isValid():
            self.show_row(current.row())

    # -- writing ----------------------------------------------------------------------------------
    def _write(self, what: Callable[[], T]) -> T | None:
        """Run one core write; show 'saved' only once it has committed, explain a busy or broken file."""
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
        except GradeappError as exc:
            self.saved_label.setText("")
            self.statusBar().showMessage(str(exc), 6000)
            return None
        self.saved_label.setText(f"saved ✓ {datetime.now():%H:%M:%S}")
        return result

    def _require_item(self) -> grading.Item | None:
        if self.item is None:
            self.statusBar().showMessage("The queue is empty.", 4000)
        return self.item

    def press_skill(self, n: int) -> None:
        item = self._require_item()
        if item is None:
            return
        skills = [c for c in item.criteria if is_skill_criterion(c)]
        if n > len(skills):
            self.statusBar().showMessage(f"This item has {len(skills)} skills.", 3000)
            return
        self.press(skills[n - 1])

    def press(self, criterion: str) -> None:
        """Apply a criterion's key: the opposite of its default first, then toggle."""
        item = self._require_item()
        if item is None:
            return
        value = grading.next_value(item.decisions.get(criterion), item.default(criterion))
        self._decide({criterion: value}, f"{criterion} → {'pass' if value else 'fail'}")

    def accept_rest(self) -> None:
        item = self._require_item()
        if item is None:
            return
        values = {c: item.default(c) for c in item.undecided()}
        if values:
            self._decide(values, f"accept {len(values)} criteria")

    def _decide(self, values: dict[str, int | None], text: str) -> None:
        item = self.item
        assert item is not None
        seconds = self.timer.touch()
        change = self._write(
            lambda: grading.set_decisions(
                self.store, self.grader_id, item.generation_id, values, blind=self.blind, seconds=seconds
            )
        )
        if change is None:
            return
        self.undo_stack.push(DecisionsCommand(self, item.generation_id, change.values, change.previous, text))
        self._after_change(item.generation_id)

    def _after_change(self, generation_id: int, *, reload: bool = True) -> None:
        self._prefetched.pop(generation_id, None)
        if reload:
            self.show_generation(generation_id)
        status = grading.queue_page(self.store, self.grader_id, {}, generation_id - 1, 1)
        if status and status[0][0] == generation_id:
            self.model.set_status(generation_id, status[0][5])
        self.judgment_recorded.emit(generation_id)

    def submit(self) -> None:
        """Submit the item (every criterion decided) and open the next one."""
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
        seconds = self.timer.touch()
        change = self._write(
            lambda: grading.submit(self.store, self.grader_id, item.generation_id, seconds=seconds)
        )
        if change is None:
            return
        self.undo_stack.push(SubmitCommand(self, item.generation_id, True, f"submit {item.uid}"))
        # the next item replaces this one at once; the queue row and the progress need no re-read first
        self._prefetched.pop(item.generation_id, None)
        self.model.set_status(item.generation_id, "flagged" if item.flagged else "done")
        self.judgment_recorded.emit(item.generation_id)
        self._after_paint.append(self.refresh_progress)
        QTimer.singleShot(100, self._flush_after_paint)  # in case nothing gets painted (hidden window)
        self.move(+1)

    def reopen_last(self) -> None:
        """Take back the last submitted item and show it (undo with Ctrl+Z)."""
        gid = grading.last_submitted(self.store, self.grader_id)
        if gid is None:
            self.statusBar().showMessage("Nothing submitted yet.", 4000)
            return
        if self._write(lambda: grading.unsubmit(self.store, self.grader_id, gid)) is None:
            return
        self.undo_stack.push(SubmitCommand(self, gid, False, "reopen last submitted"))
        self.refresh_progress()
        self._after_change(gid)

    def toggle_flag(self) -> None:
        item = self._require_item()
        if item is None:
            return
        flagged = not item.flagged
        if (
            self._write(lambda: grading.set_flag(self.store, self.grader_id, item.generation_id, flagged))
            is None
        ):
            return
        self.undo_stack.push(FlagCommand(self, item.generation_id, flagged, "flag" if flagged else "unflag"))
        self._after_change(item.generation_id)

    def skip(self) -> None:
        item = self._require_item()
        if item is None:
            return
        seconds = self.timer.touch()
        if (
            self._write(lambda: grading.skip(self.store, self.grader_id, item.generation_id, seconds))
            is not None
        ):
            self.move(+1)

    def save_note(self) -> None:
        """Store the note box's text when it changed."""
        if self.item is None or self._closed:
            return
        text = self.note_box.toPlainText().strip()
        if text == self._note_saved:
            return
        gid = self.item.generation_id
        if self._write(lambda: grading.add_note(self.store, self.grader_id, gid, text)) is not None:
            self._note_saved = text
            self.item.note = text

    # -- undo targets (gradeapp.ui.undo.Desk) -----------------------------------------------------
    def apply_values(self, generation_id: int, values: dict[str, int | None]) -> None:
        self.timer.touch()
        if (
            self._write(
                lambda: grading.set_decisions(
                    self.store, self.grader_id, generation_id, values, blind=self.blind
                )
            )
            is not None
        ):
            self._after_change(generation_id)

    def apply_submitted(self, generation_id: int, submitted: bool) -> None:
        op = grading.submit if submitted else grading.unsubmit
        if self._write(lambda: op(self.store, self.grader_id, generation_id)) is not None:
            self.refresh_progress()
            self._after_change(generation_id)

    def apply_flag(self, generation_id: int, flagged: bool) -> None:
        if (
            self._write(lambda: grading.set_flag(self.store, self.grader_id, generation_id, flagged))
            is not None
        ):
            self._after_change(generation_id)

    # -- navigation and queue ---------------------------------------------------------------------
    def move(self, step: int) -> None:
        row = self.current_row if self.current_row is not None else -1
        target = self.model.next_row(row) if step > 0 else (row - 1 if row > 0 else None)
        if target is None:
            self.statusBar().showMessage("End of the queue." if step > 0 else "Start of the queue.", 4000)
            return
        self.show_row(target)

    def _filter_values(self) -> dict[str, Any]:
        return {k: c.currentData() for k, c in self.filters.items() if c.currentData() is not None}

    def _on_filter_changed(self) -> None:
        self.model.set_filters(self._filter_values())
        self._total = None
        self.refresh_progress()
        self.current_row = None
        if self.model.rowCount():
            self.show_row(0)

    def refresh_progress(self) -> None:
        """Show done / total in the queue and the median seconds per item."""
        p = grading.progress(self.store, self.grader_id, self._filter_values(), total=self._total)
        self._total = p["total"]
        median = "–" if p["median_seconds"] is None else f"{p['median_seconds']:.0f}"
        self.progress_label.setText(f"done {p['done']:,} / {self._total:,}  ·  median {median} s/item")

    def toggle_blind(self) -> None:
        self.blind = self.actions_by_id["blind"].isChecked()
        self.settings.setValue("blind", self.blind)
        self._update_blind_label()
        self._prefetched.clear()
        if self.item is not None:
            self.show_generation(self.item.generation_id)

    def _update_blind_label(self) -> None:
        self.blind_label.setText(
            "blind: judge hidden until submit" if self.blind else "blind OFF: judge shown"
        )

    # -- files and other windows ------------------------------------------------------------------
    def _remember_recent(self, path: Path) -> None:
        recent = [p for p in (self.settings.value("recent", [], type=list) or []) if p != str(path)]
        self.settings.setValue("recent", [str(path), *recent][:MAX_RECENT])

    def _fill_recent(self) -> None:
        assert self.recent_menu is not None
        self.recent_menu.clear()
        for p in self.settings.value("recent", [], type=list) or []:
            self.recent_menu.addAction(p, lambda p=p: self.open_requested.emit(Path(p)))

    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "New project", str(Path.home()), "gradeapp projects (*.gradeapp)"
        )
        if path:
            if not path.endswith(".gradeapp"):
                path += ".gradeapp"
            open_project(Path(path), create=True).close()
            self.open_requested.emit(Path(path))

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", str(Path.home()), "gradeapp projects (*.gradeapp);;All files (*)"
        )
        if path:
            self.open_requested.emit(Path(path))

    def import_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import generations or verdicts", str(Path.home()))
        if not paths:
            return

        from gradeapp.services.imports import import_sources  # deferred: it loads pandas (~0.7 s of start-up)

        report = self._write(lambda: import_sources(self.store, [Path(p) for p in paths]))
        if report is not None:
            self.model.set_filters(self._filter_values())
            self._total = None
            self.refresh_progress()
            self.inform("Import", "\n".join(f"{src}: {counts}" for src, counts in report.items()))

    def export(self) -> None:
        """Run `gradeapp export` for this project in a background process, when that command exists."""
        if importlib.util.find_spec("gradeapp.services.export") is None:
            self.inform(
                "Export", "Export is not part of this build yet (gradeapp.services.export is missing)."
            )
            return
        out = QFileDialog.getExistingDirectory(self, "Export to folder", str(Path.home()))
        if not out:
            return
        proc = QProcess(self)
        proc.setProgram(sys.executable)
        proc.setArguments(["-m", "gradeapp", "export", "--project", str(self.store_path), "--out", out])
        proc.finished.connect(
            lambda code, _status: self.inform(
                "Export", f"Exported to {out}" if code == 0 else f"Export failed ({code})."
            )
        )
        proc.start()

    def open_optional(self, key: str) -> None:
        """Open a view other engineers provide, when it is installed."""
        module_name, func, title = OPTIONAL_VIEWS[key]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            self.inform(title, f"{title} is not part of this build yet.")
            return
        getattr(module, func)(self, self.store_path)

    def show_cheat_sheet(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        lay = QVBoxLayout(dialog)
        text = QPlainTextEdit(shortcuts.cheat_sheet(self.item.k if self.item else None))
        text.setReadOnly(True)
        font = text.font()
        font.setFamily("monospace")
        text.setFont(font)
        lay.addWidget(text)
        dialog.resize(720, 640)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setObjectName("cheat_sheet")
        dialog.show()
        self.cheat_sheet_dialog = dialog

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About gradeapp",
            f"gradeapp {__version__}\nThe Skill-Mix grading desk.\nProject: {self.store_path}",
        )

    def _quit(self) -> None:
        from PySide6.QtWidgets import QApplication

        QApplication.closeAllWindows()

    # -- lifecycle --------------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*first_size(self.screen().availableGeometry() if self.screen() else None))
        state = self.settings.value("splitter")
        if state is not None:
            self.splitter.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self._closed:
            event.accept()
            return
        self.save_note()
        if self.audit_panel is not None:
            self.audit_panel.shutdown()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.sync()
        self._closed = True
        self.store.close()
        super().closeEvent(event)
        self.closed.emit()
