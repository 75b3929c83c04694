"""The desk's logic without Qt: one person grading one project, one method per key, each returning its Change.

The window (gradeapp.ui.main_window) renders what these methods return and nothing else: a key press
writes through gradeapp.services.grading (committed before it returns), the session applies the
Change to the item on screen, and the window redraws that item's rubric and queue row. Headless tests
drive a DeskSession exactly as the window does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gradeapp.core.rubric import criterion_label, is_skill_criterion
from gradeapp.db.store import Store
from gradeapp.errors import GradeappError
from gradeapp.services import grading
from gradeapp.services.grading import Change, Item, ItemTimer


@dataclass
class FeedbackRow:
    """One criterion of a submitted item: the person's value beside the judge's, and whether they differ."""

    criterion: str
    label: str
    yours: int | None
    judge: str
    disagrees: bool


@dataclass
class Feedback:
    """The judge's verdicts on the item just submitted, shown beside the next item until dismissed."""

    generation_id: int
    uid: str
    judge_name: str | None
    rows: list[FeedbackRow] = field(default_factory=list)

    @property
    def disagreements(self) -> int:
        return sum(r.disagrees for r in self.rows)

    def headline(self) -> str:
        """Return one line: which item, which judge, how many disagreements."""
        if self.judge_name is None:
            return f"{self.uid} submitted: no judge has graded it yet."
        n = self.disagreements
        differ = "agrees with you on every criterion" if n == 0 else f"disagrees with you on {n}"
        return f"{self.uid} submitted. The judge ({self.judge_name}) {differ}."


def feedback_of(item: Item) -> Feedback:
    """Return the feedback of a submitted item whose judge was read (grading.judge_feedback)."""
    disagree = set(item.disagreements())
    rows = [
        FeedbackRow(
            criterion,
            criterion_label(criterion, item.topic, item.k),
            item.decisions.get(criterion),
            item.judge[criterion].label() if criterion in item.judge else "not graded by the judge",
            criterion in disagree,
        )
        for criterion in item.criteria
    ]
    return Feedback(item.generation_id, item.uid, item.judge_name, rows)


class DeskSession:
    """One person's grading session on an open project: the item on screen and the actions on it."""

    def __init__(self, store: Store, grader_id: int, *, blind: bool = True, timer: ItemTimer | None = None):
        self.store, self.grader_id, self.blind = store, grader_id, blind
        self.timer = timer or ItemTimer()
        self.item: Item | None = None
        self._prefetched: dict[int, Item] = {}

    # -- reading ------------------------------------------------------------------------------------
    def show(self, generation_id: int) -> Item:
        """Make this generation the item on screen (read ahead when prefetched); restart its timer."""
        if self.item is None or self.item.generation_id != generation_id:
            self.timer.restart()
        prefetched = self._prefetched.pop(generation_id, None)
        self.item = prefetched or grading.load_item(
            self.store, self.grader_id, generation_id, blind=self.blind
        )
        return self.item

    def prefetch(self, generation_id: int) -> None:
        """Read an item ahead while the person looks at the current one, so that Enter shows it at once."""
        if generation_id not in self._prefetched:
            item = grading.load_item(self.store, self.grader_id, generation_id, blind=self.blind)
            self._prefetched = {generation_id: item}

    def forget_prefetched(self) -> None:
        """Drop the item read ahead (the queue changed under it)."""
        self._prefetched.clear()

    def set_blind(self, blind: bool) -> Item | None:
        """Switch blind mode; the item on screen is read again (the judge shown or hidden)."""
        self.blind = blind
        self._prefetched.clear()
        if self.item is not None:
            self.item = grading.load_item(self.store, self.grader_id, self.item.generation_id, blind=blind)
        return self.item

    def resume_point(self, filters: Mapping[str, Any], order: list[int] | None = None) -> int | None:
        """Return where this person left off: the first item of the queue (in its order) not submitted."""
        if order is not None:
            return grading.first_unsubmitted_of(self.store, self.grader_id, order)
        return grading.resume_point(self.store, self.grader_id, filters)

    # -- the keys -----------------------------------------------------------------------------------
    def _current(self) -> Item:
        if self.item is None:
            raise GradeappError("The queue is empty.")
        return self.item

    def skill_criterion(self, n: int) -> str:
        """Return the criterion of skill key n of the item on screen."""
        skills = [c for c in self._current().criteria if is_skill_criterion(c)]
        if n > len(skills):
            raise GradeappError(f"This item has {len(skills)} skills.")
        return skills[n - 1]

    def press(self, criterion: str) -> Change:
        """Apply a criterion's key: the opposite of its default first, then toggle."""
        item = self._current()
        value = grading.next_value(item.decisions.get(criterion), item.default(criterion))
        return self.set_values(item.generation_id, {criterion: value})

    def accept_rest(self) -> Change | None:
        """Give every undecided criterion its default; None when nothing is undecided."""
        item = self._current()
        values = {c: item.default(c) for c in item.undecided()}
        return self.set_values(item.generation_id, values) if values else None

    def set_values(self, generation_id: int, values: dict[str, int | None]) -> Change:
        """Write values for some criteria of an item (a key, accept, undo or redo)."""
        seconds = self.timer.touch()
        change = grading.set_decisions(
            self.store, self.grader_id, generation_id, values, blind=self.blind, seconds=seconds
        )
        self._apply(change)
        return change

    def submit(self) -> tuple[Change, Feedback]:
        """Submit the item on screen; return the change and the judge's verdicts on it (now revealed)."""
        item = self._current()
        undecided = item.undecided()
        if undecided:
            raise GradeappError(
                f"{len(undecided)} criteria undecided: press their keys, or A to accept the rest."
            )
        seconds = self.timer.touch()
        change = grading.submit(self.store, self.grader_id, item.generation_id, seconds=seconds)
        self._apply(change)  # reads the judge's verdicts: the item is revealed now
        return change, feedback_of(item)

    def set_submitted(self, generation_id: int, submitted: bool) -> Change:
        """Submit or reopen an item (undo and redo of a submit, and U)."""
        if submitted:
            change = grading.submit(self.store, self.grader_id, generation_id)
        else:
            change = grading.unsubmit(self.store, self.grader_id, generation_id)
        self._apply(change)
        return change

    def reopen_last(self) -> Change:
        """Take back the last submitted item (U)."""
        generation_id = grading.last_submitted(self.store, self.grader_id)
        if generation_id is None:
            raise GradeappError("Nothing submitted yet.")
        return self.set_submitted(generation_id, False)

    def set_flag(self, generation_id: int, flagged: bool) -> Change:
        """Flag or unflag an item."""
        change = grading.set_flag(self.store, self.grader_id, generation_id, flagged)
        self._apply(change)
        return change

    def toggle_flag(self) -> Change:
        """Flag the item on screen, or clear its flag."""
        item = self._current()
        return self.set_flag(item.generation_id, not item.flagged)

    def skip(self) -> Change:
        """Record that the person skipped the item on screen (the window then moves on)."""
        item = self._current()
        change = grading.skip(self.store, self.grader_id, item.generation_id, self.timer.touch())
        self._apply(change)
        return change

    def save_note(self, text: str) -> Change | None:
        """Store the note of the item on screen when it changed; None when it did not."""
        item = self.item
        if item is None or text == item.note:
            return None
        change = grading.add_note(self.store, self.grader_id, item.generation_id, text)
        item.note = text
        return change

    # -- keeping the item on screen in step with what was written ------------------------------------
    def _apply(self, change: Change) -> None:
        """Apply a change to the item on screen (when it is that item); drop a stale read-ahead copy."""
        self._prefetched.pop(change.generation_id, None)
        item = self.item
        if item is None or item.generation_id != change.generation_id:
            return
        item.decisions.update({c: v for c, v in change.values.items() if c in item.decisions})
        if change.submitted is not None:
            item.submitted = change.submitted
        if change.flagged is not None:
            item.flagged = change.flagged
        if change.submitted and item.judge_name is None:
            grading.judge_feedback(self.store, item)
