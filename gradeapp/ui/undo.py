"""Undo commands of the desk: each runs a core operation; undo writes the earlier state as new rows.

A command is pushed after its first write has committed (so a failed write leaves no command), hence
the first redo() that QUndoStack.push() calls is skipped.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtGui import QUndoCommand


class Desk(Protocol):
    """What the commands need of the main window: writes through the core, then a redraw."""

    def apply_values(self, generation_id: int, values: dict[str, int | None]) -> None: ...
    def apply_submitted(self, generation_id: int, submitted: bool) -> None: ...
    def apply_flag(self, generation_id: int, flagged: bool) -> None: ...


class _DoneOnPush(QUndoCommand):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._pushed = False

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True
            return
        self.do()

    def do(self) -> None:
        raise NotImplementedError


class DecisionsCommand(_DoneOnPush):
    """Decisions on some criteria of one item; undo writes the previous values (or clears them)."""

    def __init__(
        self,
        desk: Desk,
        generation_id: int,
        values: dict[str, int | None],
        previous: dict[str, int | None],
        text: str,
    ) -> None:
        super().__init__(text)
        self.desk, self.generation_id = desk, generation_id
        self.values, self.previous = dict(values), dict(previous)

    def do(self) -> None:
        self.desk.apply_values(self.generation_id, self.values)

    def undo(self) -> None:
        self.desk.apply_values(self.generation_id, self.previous)


class SubmitCommand(_DoneOnPush):
    """Submitting (or, with submitted=False, reopening) an item; undo writes the opposite review."""

    def __init__(self, desk: Desk, generation_id: int, submitted: bool, text: str) -> None:
        super().__init__(text)
        self.desk, self.generation_id, self.submitted = desk, generation_id, submitted

    def do(self) -> None:
        self.desk.apply_submitted(self.generation_id, self.submitted)

    def undo(self) -> None:
        self.desk.apply_submitted(self.generation_id, not self.submitted)


class FlagCommand(_DoneOnPush):
    """Flagging or unflagging an item."""

    def __init__(self, desk: Desk, generation_id: int, flagged: bool, text: str) -> None:
        super().__init__(text)
        self.desk, self.generation_id, self.flagged = desk, generation_id, flagged

    def do(self) -> None:
        self.desk.apply_flag(self.generation_id, self.flagged)

    def undo(self) -> None:
        self.desk.apply_flag(self.generation_id, not self.flagged)
