"""The generated text (plain text, numbered sentences, named skills highlighted) and its context panel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from gradeapp.core.rubric import skill_stem
from gradeapp.services.grading import Item

NUMBER_WIDTH = 4  # "12  " before each sentence


def numbered_text(item: Item) -> str:
    """Return the text as the desk shows it: one sentence per line, numbered from 1."""
    if not item.sentences:
        return item.text
    return "\n".join(f"{i:>2}  {s.strip()}" for i, s in enumerate(item.sentences, 1))


class SkillHighlighter(QSyntaxHighlighter):
    """Highlight skill names the text mentions and dim the sentence numbers (formats only, no markup)."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.stems: list[str] = []
        self.name_format = QTextCharFormat()
        self.name_format.setBackground(QColor(255, 196, 0, 110))
        self.name_format.setFontWeight(QFont.Weight.Bold)
        self.number_format = QTextCharFormat()
        self.number_format.setForeground(QColor(128, 128, 128))

    def set_skills(self, names: list[str]) -> None:
        self.stems = [s for s in (skill_stem(n) for n in names) if s]

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt's name
        head = text[:NUMBER_WIDTH]
        if head.strip().isdigit():
            self.setFormat(0, NUMBER_WIDTH, self.number_format)
        low = text.lower()
        for stem in self.stems:
            start = low.find(stem)
            while start >= 0:
                self.setFormat(start, len(stem), self.name_format)
                start = low.find(stem, start + len(stem))


class TextView(QPlainTextEdit):
    """The generation's text: read-only plain text, never interpreted as HTML or rich text."""

    painted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.highlighter = SkillHighlighter(self.document())
        self.setAccessibleName("Generated text")

    def show_item(self, item: Item) -> None:
        self.highlighter.set_skills([s["name"] for s in item.skills])
        self.setPlainText(numbered_text(item))

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        self.painted.emit()


class ContextView(QPlainTextEdit):
    """Topic, sentence limit and each required skill with its definition and example (plain text)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setAccessibleName("Topic and skills")

    def show_item(self, item: Item) -> None:
        lines = [
            f"{item.uid}  ·  {item.student}  ·  k = {item.k}",
            f"Topic: {item.topic}",
            f"Sentence limit: at most {item.limit} (this text: {len(item.sentences)})",
            "",
        ]
        for n, skill in enumerate(item.skills, 1):
            named = "   [named in the text]" if skill["name"] in item.named else ""
            lines.append(f"{n}. {skill['name']}{named}")
            if skill.get("definition"):
                lines.append(f"   Definition: {skill['definition']}")
            if skill.get("example"):
                lines.append(f"   Example: {skill['example']}")
            lines.append("")
        self.setPlainText("\n".join(lines).rstrip())


class GuidelineView(QPlainTextEdit):
    """The newest grading guideline of the project (plain text; edited elsewhere)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setAccessibleName("Guideline")
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)

    def show_item(self, item: Item) -> None:
        if item.guideline_version is None:
            self.setPlainText("No guideline yet.")
        else:
            self.setPlainText(f"Guideline v{item.guideline_version}\n\n{item.guideline_text}")
