"""The strip that keeps the judge's verdicts on the item just submitted in view beside the next item."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from gradeapp.services.desk import Feedback

DISAGREE_STYLE = "background-color: rgba(255, 140, 0, 150); font-weight: bold;"


class FeedbackStrip(QScrollArea):
    """The judge's verdicts on the previous item, disagreements marked; hidden by the next decision or Esc.

    A scroll area: on a short screen its lines scroll instead of being squeezed over each other.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("feedback_strip")
        self.setAccessibleName("The judge on the item just submitted")
        self.feedback: Feedback | None = None
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        self.lines: list[QLabel] = []
        self.hint = QLabel("Esc or your next decision hides this; U reopens that item.")
        self.hint.setEnabled(False)
        self.hint.setWordWrap(True)
        content = QWidget()
        self.layout_ = QVBoxLayout(content)
        self.layout_.setContentsMargins(6, 4, 6, 4)
        self.layout_.setSpacing(1)
        self.layout_.addWidget(self.headline)
        self.layout_.addWidget(self.hint)
        self.layout_.addStretch(1)
        self.setWidget(content)
        self.hide()

    def show_feedback(self, feedback: Feedback) -> None:
        """Show the judge's verdicts of a submitted item: one line per criterion, disagreements first."""
        self.feedback = feedback
        self.headline.setText(feedback.headline())
        for label in self.lines:
            self.layout_.removeWidget(label)
            label.deleteLater()
        self.lines = []
        if feedback.judge_name is not None:
            rows = sorted(feedback.rows, key=lambda r: not r.disagrees)
            for n, row in enumerate(rows):
                yours = {1: "pass", 0: "fail", None: "–"}[row.yours]
                mark = "≠ " if row.disagrees else "= "
                label = QLabel(f"{mark}{row.label}: you {yours}; judge {row.judge}")
                label.setTextFormat(Qt.TextFormat.PlainText)
                label.setWordWrap(True)
                if row.disagrees:
                    label.setStyleSheet(DISAGREE_STYLE)
                self.layout_.insertWidget(1 + n, label)
                self.lines.append(label)
        self.show()

    def dismiss(self) -> bool:
        """Hide the strip; return whether it was shown."""
        shown = self.isVisible()
        self.feedback = None
        self.hide()
        return shown

    def text(self) -> str:
        """Return what the strip says, one line each (tests and accessibility)."""
        return "\n".join([self.headline.text(), *(label.text() for label in self.lines)])
