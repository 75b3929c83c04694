"""The rubric of one item: a row per criterion with its key, the check's suggestion, the person and the judge."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from gradeapp.grading import Item
from gradeapp.rubric import criterion_label, is_skill_criterion
from gradeapp.ui.shortcuts import BY_ACTION, skill_action

COLUMNS = ("Key", "Criterion", "Check suggests", "You", "Judge")
PASS = QColor(46, 160, 67, 90)
FAIL = QColor(218, 54, 51, 90)
DISAGREE = QColor(255, 140, 0, 150)


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
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setAccessibleName("Rubric")

    def show_item(self, item: Item) -> None:
        self.setRowCount(len(item.criteria))
        disagree = set(item.disagreements())
        skill_no = 0
        for row, crit in enumerate(item.criteria):
            if is_skill_criterion(crit):
                skill_no += 1
            sugg = item.suggestions.get(crit)
            value = item.decisions.get(crit)
            judge = item.judge.get(crit)
            if item.revealed:
                judge_text = judge.label() if judge else "n/a"
            else:
                judge_text = "hidden until submit"
            cells = [
                criterion_key(crit, skill_no),
                criterion_label(crit, item.topic, item.k),
                f"{_word(sugg.value)}: {sugg.reason}" if sugg else "",
                _word(value),
                judge_text + ("  ≠ you" if crit in disagree else ""),
            ]
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.setItem(row, col, cell)
            you = self.item(row, 3)
            if value is not None:
                you.setBackground(QBrush(PASS if value else FAIL))
                font = you.font()
                font.setBold(True)
                you.setFont(font)
            if judge and judge.majority is not None and item.revealed:
                self.item(row, 4).setBackground(QBrush(PASS if judge.majority else FAIL))
            if crit in disagree:
                cell = self.item(row, 4)
                cell.setBackground(QBrush(DISAGREE))
                font = QFont(cell.font())
                font.setBold(True)
                cell.setFont(font)
        self.resizeColumnsToContents()
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

    def cell_text(self, criterion_row: int, column: str) -> str:
        """Return the text of a cell (tests and accessibility)."""
        return self.item(criterion_row, COLUMNS.index(column)).text()
