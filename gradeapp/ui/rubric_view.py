"""The rubric of one item: a row per criterion with its key, the check's suggestion, the person and the judge."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from gradeapp.core.rubric import criterion_label, is_skill_criterion
from gradeapp.services.grading import Item
from gradeapp.ui.shortcuts import BY_ACTION, skill_action

COLUMNS = ("Key", "Criterion", "Check", "You", "Judge")
HEADER_TIPS = (
    "The key that decides it",
    "",
    "What the deterministic checks suggest",
    "Your decision",
    "The judge's majority over its runs",
)
PASS = QColor(46, 160, 67, 90)
FAIL = QColor(218, 54, 51, 90)
DISAGREE = QColor(255, 140, 0, 150)
CAPS = {2: 0.22, 4: 0.22}  # most of the rubric's width the check and the judge may take (they wrap)


def criterion_key(criterion: str, position: int) -> str:
    """Return the plain key of a criterion (position counts skills from 1)."""
    action = skill_action(position) if is_skill_criterion(criterion) else criterion
    return BY_ACTION[action].keys[0] if action in BY_ACTION else ""


def _word(value: int | None) -> str:
    return {1: "pass", 0: "fail", None: "–"}[value]


class RubricView(QTableWidget):
    """A read-only table of the k + 3 criteria; keys decide them (see gradeapp.ui.shortcuts)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(HEADER_TIPS):
            self.horizontalHeaderItem(column).setToolTip(tip)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.verticalHeader().hide()
        # widths set from the table's own width (_fit_columns), never from the contents: sizing to contents
        # re-measures every cell on each key; the criterion takes the largest share and every text column wraps
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        # skill names are shown in full: wrapped, never elided; rows are re-measured only when the item's
        # labels change or the columns are resized (a key press changes values, not the labels)
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(28)
        header.sectionResized.connect(self._remeasure)
        self._labels: tuple[str, ...] = ()
        self.setAccessibleName("Rubric")

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Give each column but the criterion its longest word (capped), and the criterion the rest.

        Text wraps at spaces only: a column narrower than its longest word would cut that word, so the
        other columns give way down to their longest word and the criterion, wrapped, takes what is left.
        """
        metrics = self.fontMetrics()
        pad = 14
        width = self.viewport().width()
        widths = {}
        for column in (0, 2, 3, 4):
            words = [*COLUMNS[column].split(), *self._words(column)]
            longest = max(metrics.horizontalAdvance(word) for word in words) + pad
            widths[column] = min(longest, round(width * CAPS[column])) if column in CAPS else longest
        widths[1] = max(width - sum(widths.values()), round(width * 0.3))
        header = self.horizontalHeader()
        header.blockSignals(True)  # one re-measure of the rows below, not one per column
        for column in range(len(COLUMNS) - 1):  # the last column stretches to the edge
            self.setColumnWidth(column, widths[column])
        header.blockSignals(False)
        self._remeasure()

    def _words(self, column: str | int) -> list[str]:
        return [
            word
            for row in range(self.rowCount())
            if self.item(row, column)
            for word in self.item(row, column).text().split()
        ]

    def clear_item(self) -> None:
        """Show no criteria (the queue is empty)."""
        self.setRowCount(0)
        self._labels = ()

    def show_item(self, item: Item) -> None:
        self._fill(item)
        labels = tuple(
            self.item(r, 1).text() + self.item(r, 2).text() + self.item(r, 4).text()
            for r in range(self.rowCount())
        )
        if labels != self._labels:
            self._labels = labels
            self._fit_columns()

    def _remeasure(self, *_args) -> None:
        """Fit every row's height to its wrapped text (at least the default height)."""
        self.resizeRowsToContents()
        vh = self.verticalHeader()
        for row in range(self.rowCount()):
            if vh.sectionSize(row) < vh.defaultSectionSize():
                vh.resizeSection(row, vh.defaultSectionSize())

    def _fill(self, item: Item) -> None:
        if self.rowCount() != len(item.criteria):
            self.setRowCount(len(item.criteria))
        disagree = set(item.disagreements())
        skill_no = 0
        for row, crit in enumerate(item.criteria):
            if is_skill_criterion(crit):
                skill_no += 1
            sugg = item.suggestions.get(crit)
            value = item.decisions.get(crit)
            judge = item.judge.get(crit)
            judge_text = (judge.label() if judge else "n/a") if item.revealed else "hidden until you submit"
            cells = [
                criterion_key(crit, skill_no),
                criterion_label(crit, item.topic, item.k),
                f"{_word(sugg.value)}: {sugg.reason}" if sugg else "",
                _word(value),
                judge_text + ("  ≠ you" if crit in disagree else ""),
            ]
            backgrounds = [None, None, None, None, None]
            if value is not None:
                backgrounds[3] = PASS if value else FAIL
            if judge and judge.majority is not None and item.revealed:
                backgrounds[4] = PASS if judge.majority else FAIL
            if crit in disagree:
                backgrounds[4] = DISAGREE
            for col, text in enumerate(cells):
                cell = self.item(row, col)
                if cell is None:
                    cell = QTableWidgetItem()
                    cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
                    self.setItem(row, col, cell)
                cell.setText(text)
                # escaped rich text: a name holding "<b>" or "<img>" is shown as written, never rendered
                cell.setToolTip(f"<qt>{html.escape(text)}</qt>" if col in (1, 2) and text else "")
                cell.setBackground(QBrush(backgrounds[col]) if backgrounds[col] is not None else QBrush())
                bold = (col == 3 and value is not None) or (col == 4 and crit in disagree)
                if cell.font().bold() != bold:
                    font = QFont(cell.font())
                    font.setBold(bold)
                    cell.setFont(font)

    def cell_text(self, criterion_row: int, column: str) -> str:
        """Return the text of a cell (tests and accessibility)."""
        return self.item(criterion_row, COLUMNS.index(column)).text()
