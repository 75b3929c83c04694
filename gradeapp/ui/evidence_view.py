"""Evidence in the desk: select words of the text, press Ctrl+Alt + a criterion's key to attach them.

The desk shows the text one numbered sentence a line, so a selection's positions are mapped back to
character offsets of the stored text (`DisplayMap`) before `services.evidence.mark_evidence` stores
them. Marks are highlighted per criterion (an extra selection over the text, which leaves the skill
highlighter alone), removed with Ctrl+Alt+X over the selection or the cursor, and undone and redone
through the desk's undo stack. The plain keys of grading are untouched: evidence is only ever the
Ctrl+Alt form of a criterion's key, and a verdict without evidence is complete.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QKeySequence, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QMainWindow, QTextEdit

from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, TOPIC, is_skill_criterion
from gradeapp.services import evidence
from gradeapp.ui import shortcuts
from gradeapp.ui.item_view import numbered_text
from gradeapp.ui.undo import _DoneOnPush

if TYPE_CHECKING:
    from gradeapp.services.grading import Item

# One colour per criterion position (skills 1..9, then topic, makes sense, sentence limit), light enough
# to read black text on; alpha keeps the skill-name highlight visible beneath.
_COLOURS = [
    (102, 194, 165), (252, 141, 98), (141, 160, 203), (231, 138, 195), (166, 216, 84), (255, 217, 47),
    (229, 196, 148), (179, 179, 179), (127, 201, 127), (190, 174, 212), (253, 192, 134), (56, 108, 176),
]  # fmt: skip


@dataclass(frozen=True)
class _Segment:
    shown: int  # where the sentence starts in the shown text
    stored: int  # where it starts in the stored text
    length: int


class DisplayMap:
    """Map positions of the shown text (numbered sentences, Qt's UTF-16 units) to stored-text offsets."""

    def __init__(self, item: Item) -> None:
        self.shown = numbered_text(item)
        self.segments: list[_Segment] = []
        if not item.sentences:
            self.segments.append(_Segment(0, 0, len(item.text)))
        else:
            shown_at, stored_at = 0, 0
            for n, sentence in enumerate(item.sentences, 1):
                words = sentence.strip()
                prefix = len(f"{n:>2}  ")
                found = item.text.find(words, stored_at)
                if found >= 0:
                    self.segments.append(_Segment(shown_at + prefix, found, len(words)))
                    stored_at = found + len(words)
                shown_at += prefix + len(words) + 1
        # Qt counts UTF-16 units: a character outside the BMP (an emoji) is two of them.
        self._qt_of = [0]
        for char in self.shown:
            self._qt_of.append(self._qt_of[-1] + (2 if ord(char) > 0xFFFF else 1))

    def _python(self, qt_position: int) -> int:
        lo, hi = 0, len(self._qt_of) - 1
        while lo < hi:  # the first Python index whose UTF-16 position reaches qt_position
            mid = (lo + hi) // 2
            if self._qt_of[mid] < qt_position:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def to_stored(self, qt_start: int, qt_end: int) -> tuple[int, int] | None:
        """Return the stored-text offsets [start, end) of a shown selection, or None if it holds no words."""
        start, end = self._python(qt_start), self._python(qt_end)
        inside = [s for s in self.segments if s.shown < end and start < s.shown + s.length]
        if not inside:
            return None
        first, last = inside[0], inside[-1]
        begin = first.stored + max(0, start - first.shown)
        finish = last.stored + min(last.length, end - last.shown)
        return (begin, finish) if finish > begin else None

    def to_shown(self, start: int, end: int) -> list[tuple[int, int]]:
        """Return the shown [start, end) ranges (Qt units) of stored offsets, one per sentence it touches."""
        out = []
        for s in self.segments:
            lo, hi = max(start, s.stored), min(end, s.stored + s.length)
            if lo < hi:
                out.append((self._qt_of[s.shown + lo - s.stored], self._qt_of[s.shown + hi - s.stored]))
        return out


def criterion_colour(item: Item, criterion: str) -> QColor:
    """Return the highlight colour of a criterion (its position in the rubric)."""
    index = item.criteria.index(criterion) if criterion in item.criteria else 0
    if not is_skill_criterion(criterion):
        index = shortcuts.MAX_SKILL_KEYS + [TOPIC, MAKES_SENSE, SENTENCE_LIMIT].index(criterion)
    red, green, blue = _COLOURS[index % len(_COLOURS)]
    return QColor(red, green, blue, 150)


def side_by_side_html(text: str, marks_by_grader: dict[str, list[dict]]) -> str:
    """Return an HTML table: one column per grader, the text with that grader's marked words highlighted.

    A judge quote that was not found in the text is listed under the column, struck through.
    """
    if not marks_by_grader:
        return "<p><i>No evidence marked for this criterion.</i></p>"
    cells, heads = [], []
    for name, marks in marks_by_grader.items():
        spans = sorted((m["start_char"], m["end_char"]) for m in marks if m["start_char"] is not None)
        parts, at = [], 0
        for start, end in spans:
            start = max(start, at)
            if end <= start:
                continue
            parts += [
                html.escape(text[at:start]),
                f"<span style='background:#ffd54f'>{html.escape(text[start:end])}</span>",
            ]
            at = end
        parts.append(html.escape(text[at:]))
        missing = [m["quote"] for m in marks if m["start_char"] is None]
        parts += [f"<br><s>{html.escape(q)}</s> (not in the text)" for q in missing]
        heads.append(f"<th>{html.escape(name)}</th>")
        cells.append(f"<td valign='top'>{''.join(parts)}</td>")
    return f"<h4>Evidence</h4><table border='1' cellpadding='4'><tr>{''.join(heads)}</tr><tr>{''.join(cells)}</tr></table>"


class MarkCommand(_DoneOnPush):
    """A mark attached (undo removes it, redo adds it again) or, with removed=True, a mark removed."""

    def __init__(self, controller: EvidenceController, mark_id: int, removed: bool, text: str) -> None:
        super().__init__(text)
        self.controller, self.mark_id, self.removed = controller, mark_id, removed

    def do(self) -> None:
        self.mark_id = self.controller.apply(self.mark_id, present=not self.removed)

    def undo(self) -> None:
        self.mark_id = self.controller.apply(self.mark_id, present=self.removed)


class EvidenceController:
    """The desk's evidence: its actions (Ctrl+Alt + criterion key), highlights, legend and undo commands."""

    def __init__(self, window: QMainWindow) -> None:
        # The desk's main window (not imported: it imports this module). Used: text_view, item, store,
        # grader_id, undo_stack, item_shown, _write (its one way to write), show_generation.
        self.window = window
        self.view = window.text_view
        self.marks: list[dict] = []
        self.display: DisplayMap | None = None
        flags = Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        self.view.setTextInteractionFlags(flags)
        self.legend = QLabel("")
        self.legend.setTextFormat(Qt.TextFormat.PlainText)
        self.legend.setAccessibleName("Evidence")
        self.legend.setWordWrap(True)
        layout = self.view.parentWidget().layout()
        layout.insertWidget(layout.indexOf(self.view) + 1, self.legend)
        menu = window.menuBar().addMenu("E&vidence")
        self.actions: dict[str, QAction] = {}
        for sc in shortcuts.EVIDENCE:
            action = QAction(sc.label, window)
            action.setShortcuts([QKeySequence(k) for k in sc.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _checked=False, name=sc.action: self.on_action(name))
            window.addAction(action)
            menu.addAction(action)
            self.actions[sc.action] = action
        window.item_shown.connect(self.on_item_shown)

    # -- actions ----------------------------------------------------------------------------------
    def on_action(self, name: str) -> None:
        """Run one evidence action: focus the text, remove marks, or attach the selection to a criterion."""
        if name == "evidence_focus":
            self.view.setFocus()
        elif name == "evidence_remove":
            self.remove_selected()
        else:
            self.attach(name.removeprefix("evidence_"))

    def _criterion(self, key: str) -> str | None:
        item = self.window.item
        if item is None:
            return None
        if key.startswith("skill"):
            skills = [c for c in item.criteria if is_skill_criterion(c)]
            n = int(key[len("skill") :])
            return skills[n - 1] if n <= len(skills) else None
        return key

    def _selection(self) -> tuple[int, int] | None:
        cursor = self.view.textCursor()
        if self.display is None or not cursor.hasSelection():
            return None
        return self.display.to_stored(cursor.selectionStart(), cursor.selectionEnd())

    def attach(self, key: str) -> None:
        """Attach the selected words to the criterion of this key (Ctrl+Alt + the criterion's key)."""
        window, criterion = self.window, self._criterion(key)
        span = self._selection()
        if criterion is None or span is None:
            window.statusBar().showMessage(
                "Select words of the text first (mouse, or Ctrl+2 then Shift+arrows).", 4000
            )
            return
        item = window.item
        change = window._write(
            lambda: evidence.mark_evidence(
                window.store, window.grader_id, item.generation_id, criterion, *span
            )
        )
        if change is None:
            return
        window.undo_stack.push(MarkCommand(self, change.mark_id, False, f"evidence for {criterion}"))
        window.statusBar().showMessage(f"evidence for {criterion}: {change.quote!r}", 4000)
        self.refresh()

    def remove_selected(self) -> None:
        """Remove this person's marks under the selection (or the cursor)."""
        cursor = self.view.textCursor()
        if self.display is None:
            return
        span = self.display.to_stored(
            cursor.selectionStart(), max(cursor.selectionEnd(), cursor.position() + 1)
        )
        hits = [m for m in self.marks if span and m["start_char"] < span[1] and span[0] < m["end_char"]]
        for mark in hits:
            change = self.window._write(
                lambda m=mark: evidence.remove_evidence(self.window.store, self.window.grader_id, m["id"])
            )
            if change is not None:
                self.window.undo_stack.push(
                    MarkCommand(self, change.mark_id, True, f"remove evidence for {mark['criterion']}")
                )
        if not hits:
            self.window.statusBar().showMessage("No evidence of yours under the cursor.", 3000)
        self.refresh()

    def apply(self, mark_id: int, *, present: bool) -> int:
        """Make a mark present (adding it again as a new row) or absent; return the mark's current id."""
        window = self.window
        op = evidence.restore_evidence if present else evidence.remove_evidence
        change = window._write(lambda: op(window.store, window.grader_id, mark_id))
        if (
            change is not None
            and window.item is not None
            and window.item.generation_id != change.generation_id
        ):
            window.show_generation(change.generation_id)
        self.refresh()
        return change.mark_id if change is not None else mark_id

    # -- drawing ----------------------------------------------------------------------------------
    def on_item_shown(self, _generation_id: int) -> None:
        self.display = DisplayMap(self.window.item) if self.window.item is not None else None
        self.refresh()

    def refresh(self) -> None:
        """Read this person's marks on the shown item and highlight them per criterion."""
        item = self.window.item
        if item is None or self.display is None:
            self.marks = []
            self.view.setExtraSelections([])
            self.legend.setText("")
            return
        self.marks = evidence.generation_evidence(
            self.window.store, item.generation_id, [self.window.grader_id]
        )
        selections = []
        for mark in self.marks:
            fmt = QTextCharFormat()
            fmt.setBackground(criterion_colour(item, mark["criterion"]))
            fmt.setToolTip(f"evidence for {mark['criterion']}")
            for start, end in self.display.to_shown(mark["start_char"], mark["end_char"]):
                selection = QTextEdit.ExtraSelection()
                selection.format = fmt
                cursor = QTextCursor(self.view.document())
                cursor.setPosition(start)
                cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                selection.cursor = cursor
                selections.append(selection)
        self.view.setExtraSelections(selections)
        counts: dict[str, int] = {}
        for mark in self.marks:
            counts[mark["criterion"]] = counts.get(mark["criterion"], 0) + 1
        self.legend.setText(
            "Evidence: " + ", ".join(f"{c.removeprefix('skill:')} ({n})" for c, n in counts.items())
            if counts
            else "Evidence: none (optional; select words and press Ctrl+Alt + a criterion's key)"
        )
