"""The widgets of the desk window and how one item is drawn in them (a mixin of MainWindow).

Queue and filters on the left; header, text, rubric and note in the centre; on the right the judge's
verdicts on the item just submitted (the feedback strip), the context and the guideline. Another panel
(evidence, say) is one more widget in `_build_right` and one line in `render_item`.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gradeapp.services import grading
from gradeapp.ui.feedback_view import FeedbackStrip
from gradeapp.ui.item_view import ContextView, GuidelineView, TextView
from gradeapp.ui.queue_model import COLUMNS, STATUS_TEXTS, QueueModel
from gradeapp.ui.rubric_view import RubricView

ROW_HEIGHT = 22
STATUS_CHOICES = [
    ("all", "All"),
    ("ungraded", "Ungraded"),
    ("graded", "Graded"),
    ("flagged", "Flagged"),
    ("skipped", "Skipped"),
]
FILTERS = (("status", "Status"), ("student", "Student"), ("k", "k"), ("topic", "Topic"), ("draw", "Draw"))
SPLIT = (0.27, 0.46, 0.27)  # queue, centre, right: shares of the window's width on first start


class _NoteFocus(QObject):
    """Save the note when the note box loses the focus (Esc is the window's 'dismiss' action)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.FocusOut:
            self.window.save_note()
        return False


class DeskLayout:
    """Builds the desk's widgets and draws the item on screen; MainWindow supplies the data and actions."""

    def build_layout(self) -> None:
        """Build the window: queue panel | text and rubric | feedback, context and guidelines; the status bar."""
        self.selecting = False
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self._build_queue_panel())
        self.splitter.addWidget(self._build_center())
        self.splitter.addWidget(self._build_right())
        for index, share in enumerate(SPLIT):
            self.splitter.setStretchFactor(index, round(100 * share))
        self.setCentralWidget(self.splitter)
        self._build_status_bar()

    def _build_queue_panel(self) -> QWidget:
        self.model = QueueModel(self.store, self.grader_id, {}, self)
        self.queue_view = QTableView()
        self.queue_view.setModel(self.model)
        self.queue_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.queue_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.queue_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.queue_view.setTabKeyNavigation(False)
        rows = self.queue_view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # fixed heights: no per-row sizing on 1M rows
        rows.setDefaultSectionSize(ROW_HEIGHT)
        rows.hide()
        header = self.queue_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        # the topic takes what the other columns leave (its whole text on hover); they fit their contents
        header.setSectionResizeMode(COLUMNS.index("Topic"), QHeaderView.ResizeMode.Stretch)
        self.fit_queue_columns()
        self.queue_view.selectionModel().currentRowChanged.connect(self.on_queue_current_changed)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_filters())
        layout.addWidget(self.queue_view)
        return panel

    def fit_queue_columns(self) -> None:
        """Size the queue's columns to their contents (the loaded rows, every status) once per reset."""
        metrics = self.queue_view.fontMetrics()
        pad = 18
        for column, name in enumerate(COLUMNS):
            if name == "Topic":
                continue
            texts = [
                name,
                *(str(self.model.index(r, column).data()) for r in range(min(self.model.rowCount(), 256))),
            ]
            if name == "Status":
                texts += list(STATUS_TEXTS)
            self.queue_view.setColumnWidth(column, max(metrics.horizontalAdvance(t) for t in texts) + pad)

    def _build_filters(self) -> QWidget:
        """Return the queue's filter combos (status, student, k, topic, draw) in a two-column grid."""
        self.filters: dict[str, QComboBox] = {}
        values = grading.queue_filter_values(self.store)
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(2, 2, 2, 2)
        for n, (key, label) in enumerate(FILTERS):
            combo = QComboBox()
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(6)
            if key == "status":
                for value, text in STATUS_CHOICES:
                    combo.addItem(text, value)
            else:
                combo.addItem("Any", None)
                for value in values[key]:
                    combo.addItem(str(value), value)
                    combo.setItemData(combo.count() - 1, str(value), Qt.ItemDataRole.ToolTipRole)
            combo.currentIndexChanged.connect(self.on_filter_changed)
            self.filters[key] = combo
            caption = QLabel(label)
            caption.setBuddy(combo)
            grid.addWidget(caption, n // 2, (n % 2) * 2)
            grid.addWidget(combo, n // 2, (n % 2) * 2 + 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        return box

    def _build_center(self) -> QSplitter:
        """Return the header and text above the blind-mode banner, the rubric and the note box."""
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        # a new item must not re-lay out the window (a full repaint): the header keeps its size
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.text_view = TextView()
        self.text_view.painted.connect(self.on_text_painted)
        self.rubric_view = RubricView()
        self.note_box = QPlainTextEdit()
        self.note_box.setPlaceholderText(
            "Note (N to write, Esc to leave; Alt+key or Ctrl+Return still work here)"
        )
        self.note_box.setMaximumHeight(70)
        self.note_box.setTabChangesFocus(True)
        self.note_box.installEventFilter(_NoteFocus(self))
        # the saved indicator sits in the header row: header and indicator change together on every key,
        # and keeping both in one strip lets Qt repaint that strip instead of the whole window
        self.saved_label = QLabel("")
        self.saved_label.setTextFormat(Qt.TextFormat.PlainText)
        self.saved_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.saved_label.setFixedWidth(
            self.saved_label.fontMetrics().horizontalAdvance("saved ✓ 00:00:00 ") + 8
        )
        self.saved_label.setAccessibleName("Saved indicator")
        self.blind_banner = QLabel()
        self.blind_banner.setWordWrap(True)
        self.blind_banner.setObjectName("blind_banner")
        self.blind_banner.setStyleSheet("background-color: rgba(255, 196, 0, 120); padding: 3px;")
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.header, 1)
        head.addWidget(self.saved_label)
        top_layout.addLayout(head)
        top_layout.addWidget(self.text_view)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.blind_banner)
        bottom_layout.addWidget(self.rubric_view, 1)
        bottom_layout.addWidget(self.note_box)
        center = QSplitter(Qt.Orientation.Vertical)
        center.addWidget(top)
        center.addWidget(bottom)
        center.setSizes([260, 300])
        return center

    def _build_right(self) -> QWidget:
        """Return the judge's verdicts on the item just submitted above the context and the guidelines."""
        self.feedback = FeedbackStrip()
        self.context_view = ContextView()
        self.guideline_view = GuidelineView()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.context_view)
        split.addWidget(self.guideline_view)
        split.setSizes([400, 150])
        right = QWidget()
        layout = QVBoxLayout(right)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.feedback)
        layout.addWidget(split, 1)
        return right

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress_label = QLabel()
        self.blind_label = QLabel()
        self.who_label = QLabel(f"annotator: {self.annotator}")
        for label in (self.progress_label, self.blind_label, self.who_label):
            label.setTextFormat(Qt.TextFormat.PlainText)
            bar.addPermanentWidget(label)

    # -- drawing the item ---------------------------------------------------------------------------
    def render_item(self) -> None:
        """Draw the item on screen: header, text and context (when it is a new item), rubric."""
        item = self.item
        if item is None:
            return
        if item.submitted:
            state = "submitted"
        else:
            state = "draft" if any(v is not None for v in item.decisions.values()) else "new"
        flag = "  ·  FLAGGED" if item.flagged else ""
        self.header.setText(f"{item.uid}  ·  {item.topic}  ·  k = {item.k}  ·  {state}{flag}")
        if self.text_view.property("generation") != item.generation_id:
            self.text_view.show_item(item)
            self.text_view.setProperty("generation", item.generation_id)
            self.context_view.show_item(item)
            self.guideline_view.show_item(item)
            self.note_box.setPlainText(item.note)
        self.rubric_view.show_item(item)

    def show_empty(self, reason: str) -> None:
        """Show no item, saying why: the screen never shows an item that is not in the queue shown."""
        self.save_note()
        self.session.item = None
        self.current_row = None
        self.header.setText(reason)
        self.text_view.setPlainText(reason)
        self.text_view.setProperty("generation", None)
        self.context_view.setPlainText("")
        self.note_box.setPlainText("")
        self.rubric_view.clear_item()
        self.queue_view.clearSelection()

    def select_row(self, row: int) -> None:
        """Select a queue row without showing its item again."""
        self.selecting = True
        self.queue_view.selectRow(row)
        self.selecting = False
