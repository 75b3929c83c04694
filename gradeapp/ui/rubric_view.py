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
CAP = 0.24  # most of the rubric's width the check and the judge may each take (past it they wrap)
CRITERION_SHARE = 0.4  # the check and the judge give way (down to their longest word) to keep this


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
        header.setStretchLastSection(False)
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
        """Size the columns from the table's width: Key and You fit, Check and Judge give way, Criterion the rest.

        Text wraps at spaces only, so a column is never made narrower than its longest word (that would cut
        the word); Check and Judge take their whole text up to CAP of the width, and give way down to their
        longest word so that the criterion keeps at least CRITERION_SHARE of the width.
        """
        width = self.viewport().width()
        natural = {c: self._text_width(c, whole=True) for c in range(len(COLUMNS))}
        word = {c: self._text_width(c, whole=False) for c in range(len(COLUMNS))}
        widths = {0: natural[0], 3: natural[3]}
        for column in (2, 4):
            widths[column] = min(natural[column], max(word[column], round(width * CAP)))
        for column in (2, 4):  # give way while the criterion has less than its share
            short = round(width * CRITERION_SHARE) - (width - sum(widths.values()))
            if short > 0:
                widths[column] = max(word[column], widths[column] - short)
        widths[1] = max(width - sum(widths.values()), word[1])
        header = self.horizontalHeader()
        header.blockSignals(True)  # one re-measure of the rows below, not one per column
        for column, size in widths.items():
            self.setColumnWidth(column, size)
        header.blockSignals(False)
        self._remeasure()

    def _text_width(self, column: int, *, whole: bool) -> int:
        """Return the width a column needs for its widest text (whole) or its longest word, with padding."""
        metrics = self.fontMetrics()
        texts = [
            COLUMNS[column],
            *(self.item(r, column).text() for r in range(self.rowCount()) if self.item(r, column)),
        ]
        parts = texts if whole else [w for t in texts for w in t.split()]
        return max(metrics.horizontalAdvance(t) for t in parts if t) + 14

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
