"""Grade one generation: one function per user action of the desk, each committed before it returns.

Qt-free, so the desk, the CLI and the crash test share the same operations. A person's decision on a
criterion is a new verdict row (append-only); the item is a draft until a 'submit' review follows the
latest decision. Undo and redo write the earlier value again as a new row ('retracted' with value
NULL clears a decision that did not exist), never deleting history.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from gradeapp.core.rubric import (
    MAKES_SENSE,
    SENTENCE_LIMIT,
    TOPIC,
    criteria,
    named_skills,
    sentence_limit,
    skill_criterion,
    split_sentences,
)
from gradeapp.db import desk_queries as q
from gradeapp.db import team_store
from gradeapp.db.store import Store
from gradeapp.errors import GradeappError, InputError
from gradeapp.services import guidelines

IDLE_CAP_SECONDS = 120.0


@dataclass
class Suggestion:
    """A deterministic check's proposal for one criterion, which a person confirms or overrides."""

    value: int
    reason: str


@dataclass
class JudgeView:
    """The judge's majority over its runs on one criterion (None on a tie or when nothing parsed)."""

    majority: int | None
    votes: list[int | None]

    def label(self) -> str:
        ok = [v for v in self.votes if v is not None]
        verdict = {1: "pass", 0: "fail", None: "tie" if ok else "n/a"}[self.majority]
        return f"{verdict} ({sum(ok)}/{len(self.votes)})"


@dataclass
class Item:
    """Everything the desk shows of one generation for one person (read from the project)."""

    generation_id: int
    uid: str
    student: str
    k: int
    topic: str
    text: str
    skills: list[dict[str, Any]]
    criteria: list[str]
    sentences: list[str]
    limit: int
    named: list[str]
    suggestions: dict[str, Suggestion]
    decisions: dict[str, int | None]
    submitted: bool
    revealed: bool
    flagged: bool
    note: str
    judge_name: str | None = None
    judge: dict[str, JudgeView] = field(default_factory=dict)
    guideline_version: int | None = None
    guideline_text: str = ""

    def default(self, criterion: str) -> int:
        """Return the value the accept key gives an undecided criterion: the suggestion, else pass."""
        s = self.suggestions.get(criterion)
        return s.value if s else 1

    def undecided(self) -> list[str]:
        return [c for c in self.criteria if self.decisions.get(c) is None]

    def disagreements(self) -> list[str]:
        """Return the criteria where the person's decision and the judge's majority differ."""
        return [
            c
            for c in self.criteria
            if self.decisions.get(c) is not None
            and c in self.judge
            and self.judge[c].majority is not None
            and self.judge[c].majority != self.decisions[c]
        ]


@dataclass
class Change:
    """What one action wrote: new values per criterion (and their previous ones), review, row ids."""

    generation_id: int
    values: dict[str, int | None] = field(default_factory=dict)
    previous: dict[str, int | None] = field(default_factory=dict)
    verdict_ids: list[int] = field(default_factory=list)
    review: str | None = None
    submitted: bool | None = None
    post_reveal: bool = False


class ItemTimer:
    """Measure the active time spent on an item; a gap between two actions counts at most idle_cap."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, idle_cap: float = IDLE_CAP_SECONDS
    ) -> None:
        self.clock = clock
        self.idle_cap = idle_cap
        self._total = 0.0
        self._last = clock()

    def restart(self) -> None:
        self._total = 0.0
        self._last = self.clock()

    def touch(self) -> float:
        """Count the time since the last action (capped) and return the total so far."""
        now = self.clock()
        self._total += min(max(now - self._last, 0.0), self.idle_cap)
        self._last = now
        return self._total

    @property
    def seconds(self) -> float:
        return self._total + min(max(self.clock() - self._last, 0.0), self.idle_cap)


# -- reading -------------------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def _sentences(text: str) -> tuple[str, ...]:
    # pysbd takes milliseconds a text; revisiting an item (undo, back) should not pay again
    return tuple(split_sentences(text))


def judge_view(votes: list[int | None]) -> JudgeView:
    """Return the majority of a judge's runs (ties and all-unparsed give None)."""
    ok = [v for v in votes if v is not None]
    ones = sum(ok)
    majority = None if not ok or ones * 2 == len(ok) else int(ones * 2 > len(ok))
    return JudgeView(majority, list(votes))


def load_item(store: Store, grader_id: int, generation_id: int, *, blind: bool = True) -> Item:
    """Return the state of one generation for this person; the judge is left out while blind (read-only)."""
    gen = store.generation(generation_id)
    skills = [s["name"] for s in gen["skills"]]
    k = gen["k"]
    sentences = list(_sentences(gen["text"]))
    cached = q.cached_checks(store, generation_id)
    named = json.loads(cached[1]) if cached else named_skills(gen["text"], skills)
    limit = sentence_limit(k)
    suggestions = {
        SENTENCE_LIMIT: Suggestion(
            int(len(sentences) <= limit), f"{len(sentences)} sentence(s), limit {limit}"
        )
    }
    for name in named:
        suggestions[skill_criterion(name)] = Suggestion(0, f"names '{name}' (naming penalty)")
    mine = q.person_decisions(store, grader_id, generation_id)
    decisions = {c: (None if r["status"] == "retracted" else r["value"]) for c, r in mine.items()}
    state = q.review_state(store, grader_id, generation_id)
    revealed = state["ever_submitted"] or not blind
    guideline = team_store.latest_guideline(store)
    version, text = (guideline["version"], guideline["text"]) if guideline else (None, "")
    item = Item(
        generation_id=generation_id,
        uid=gen["uid"],
        student=gen["student"],
        k=k,
        topic=gen["topic"],
        text=gen["text"],
        skills=gen["skills"],
        criteria=criteria(skills),
        sentences=sentences,
        limit=limit,
        named=named,
        suggestions=suggestions,
        decisions={c: decisions.get(c) for c in criteria(skills)},
        submitted=state["submitted"],
        revealed=revealed,
        flagged=state["flagged"],
        note=state["note"],
        guideline_version=version,
        guideline_text=text,
    )
    if revealed:
        name, votes = q.judge_votes(store, generation_id)
        item.judge_name = name
        item.judge = {c: judge_view(v) for c, v in votes.items() if c in item.decisions}
    return item


def next_value(current: int | None, default: int) -> int:
    """Return a criterion's value after its key is pressed: first the opposite of the default, then toggles."""
    return 1 - default if current is None else 1 - current


# -- writing -------------------------------------------------------------------------------------
def _check_seconds(seconds: float | None) -> None:
    # a negative or endless time would skew the median seconds per item for good
    if seconds is not None and not 0 <= seconds < float("inf"):
        raise InputError(f"time spent must be 0 or more seconds, got {seconds}", field="seconds")


def set_decisions(
    store: Store,
    grader_id: int,
    generation_id: int,
    values: Mapping[str, int | None],
    *,
    blind: bool = True,
    seconds: float | None = None,
) -> Change:
    """Write the person's values for some criteria at once (None clears a decision); return the change.

    A change after the judge was revealed is marked post_reveal; a change to a submitted item is
    followed by a new 'submit', so the item stays submitted with its revised value.
    """
    _check_seconds(seconds)
    before = q.person_decisions(store, grader_id, generation_id)
    state = q.review_state(store, grader_id, generation_id)
    post_reveal = bool(state["ever_submitted"] or not blind)
    version = guidelines.current_version(store)  # installs the default guideline on first use
    change = Change(generation_id, post_reveal=post_reveal)
    with store.atomic():
        for criterion, value in values.items():
            old = before.get(criterion)
            change.previous[criterion] = None if old is None or old["status"] == "retracted" else old["value"]
            store.add_verdicts(
                [
                    {
                        "grader_id": grader_id,
                        "generation_id": generation_id,
                        "criterion": criterion,
                        "value": value,
                        "raw_value": None if value is None else str(value),
                        "status": "retracted" if value is None else "ok",
                        "seconds": seconds,
                        "post_reveal": post_reveal,
                        "guideline_version": version,
                    }
                ]
            )
            change.verdict_ids.append(q.last_rowid(store))
            change.values[criterion] = value
        if state["submitted"] and values:
            store.add_review(grader_id, generation_id, "submit", seconds=None, note="revised")
            change.review = "submit"
            change.submitted = True
    return change


def decide(
    store: Store,
    grader_id: int,
    generation_id: int,
    criterion: str,
    value: int | None,
    *,
    blind: bool = True,
    seconds: float | None = None,
) -> Change:
    """Record the person's decision on one criterion (1 pass, 0 fail, None clear); committed on return."""
    return set_decisions(store, grader_id, generation_id, {criterion: value}, blind=blind, seconds=seconds)


def press_criterion(
    store: Store,
    grader_id: int,
    item: Item,
    criterion: str,
    *,
    blind: bool = True,
    seconds: float | None = None,
) -> Change:
    """Apply a criterion's key to an item: the opposite of its default first, then toggle."""
    value = next_value(item.decisions.get(criterion), item.default(criterion))
    change = decide(store, grader_id, item.generation_id, criterion, value, blind=blind, seconds=seconds)
    item.decisions.update(change.values)
    return change


def accept_remaining(
    store: Store, grader_id: int, item: Item, *, blind: bool = True, seconds: float | None = None
) -> Change:
    """Give every undecided criterion its default (the check's suggestion, else pass) in one transaction."""
    values = {c: item.default(c) for c in item.undecided()}
    change = set_decisions(store, grader_id, item.generation_id, values, blind=blind, seconds=seconds)
    item.decisions.update(change.values)
    return change


def submit(
    store: Store, grader_id: int, generation_id: int, *, seconds: float | None = None, note: str | None = None
) -> Change:
    """Submit the item (all criteria must be decided); the judge can be revealed afterwards."""
    _check_seconds(seconds)
    decisions = q.person_decisions(store, grader_id, generation_id)
    gen = store.generation(generation_id)
    missing = [
        c
        for c in criteria([s["name"] for s in gen["skills"]])
        if c not in decisions or decisions[c]["status"] == "retracted"
    ]
    if missing:
        raise GradeappError(f"{len(missing)} criteria undecided: {', '.join(missing)}")
    store.add_review(grader_id, generation_id, "submit", seconds=seconds, note=note)
    return Change(generation_id, review="submit", submitted=True)


def unsubmit(store: Store, grader_id: int, generation_id: int) -> Change:
    """Take back a submission: the item becomes a draft again (its verdicts stay)."""
    store.add_review(grader_id, generation_id, "unsubmit")
    return Change(generation_id, review="unsubmit", submitted=False)


def set_flag(
    store: Store, grader_id: int, generation_id: int, flagged: bool, note: str | None = None
) -> Change:
    """Flag the item for a second look (or clear the flag)."""
    action = "flag" if flagged else "unflag"
    store.add_review(grader_id, generation_id, action, note=note)
    return Change(generation_id, review=action)


def skip(store: Store, grader_id: int, generation_id: int, seconds: float | None = None) -> Change:
    """Record that the person skipped the item (it stays ungraded)."""
    _check_seconds(seconds)
    store.add_review(grader_id, generation_id, "skip", seconds=seconds)
    return Change(generation_id, review="skip")


def add_note(store: Store, grader_id: int, generation_id: int, text: str) -> Change:
    """Store the person's note on the item (the latest note counts)."""
    store.add_review(grader_id, generation_id, "note", note=text)
    return Change(generation_id, review="note")


# -- queue ---------------------------------------------------------------------------------------
def queue_page(store: Store, grader_id: int, filters: Mapping[str, Any], after_id: int = 0, limit: int = 200):
    """Return queue rows (id, uid, student, k, topic, status) after after_id (read-only)."""
    return q.queue_page(store, grader_id, dict(filters), after_id, limit)


def queue_filter_values(store: Store) -> dict[str, list]:
    """Return the choices of each queue filter: students, k values, topics, audit draws (read-only)."""
    return q.queue_filter_values(store)


def progress(
    store: Store, grader_id: int, filters: Mapping[str, Any], total: int | None = None
) -> dict[str, Any]:
    """Return done / total in the queue and the median seconds per submitted item (read-only).

    A caller that already knows the queue's total (it changes only with the filters or an import)
    passes it as `total` to skip counting the queue again.
    """
    seconds = q.submitted_seconds(store, grader_id)
    if total is None:
        total = q.queue_count(store, grader_id, {**filters, "status": "all"})
    return {
        "done": q.queue_done(store, grader_id, dict(filters)),
        "total": total,
        "median_seconds": statistics.median(seconds) if seconds else None,
    }


def last_submitted(store: Store, grader_id: int) -> int | None:
    """Return the generation id this person submitted last (and has not taken back), or None."""
    return q.last_submitted(store, grader_id)


__all__ = [
    "MAKES_SENSE",
    "SENTENCE_LIMIT",
    "TOPIC",
    "Change",
    "Item",
    "ItemTimer",
    "JudgeView",
    "Suggestion",
    "accept_remaining",
    "add_note",
    "decide",
    "judge_view",
    "last_submitted",
    "load_item",
    "next_value",
    "press_criterion",
    "progress",
    "queue_filter_values",
    "queue_page",
    "set_decisions",
    "set_flag",
    "skip",
    "submit",
    "unsubmit",
]
