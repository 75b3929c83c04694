"""Simulated annotators for the team-workflow tests: a fake clock and the core grading operation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gradeapp.core.rubric import criteria
from gradeapp.db import open_project
from gradeapp.services.guidelines import current_version


class Clock:
    """Hand out strictly increasing ISO timestamps, one step apart, from a fixed start."""

    def __init__(self, start: datetime | None = None, step_s: float = 7.0) -> None:
        self.t = start or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        self.step = timedelta(seconds=step_s)

    def __call__(self) -> str:
        self.t += self.step
        return self.t.isoformat(timespec="microseconds")


def grade(
    store,
    person: str,
    uid: str,
    values: dict[str, int],
    *,
    seconds: float,
    created: str,
    note: str | None = None,
) -> None:
    """Record a person's verdicts on one generation and submit it (what the desk does on submit)."""
    gid = store.generation_id(uid)
    grader = store.grader_id("human", person)
    version = current_version(store)
    with store.atomic():
        store.add_verdicts(
            {
                "grader_id": grader,
                "generation_id": gid,
                "criterion": crit,
                "value": value,
                "raw_value": str(value),
                "seconds": round(seconds / len(values), 2),
                "guideline_version": version,
                "note": note,
                "created": created,
            }
            for crit, value in values.items()
        )
        store.add_review(grader, gid, "submit", seconds=seconds, created=created)


def criteria_of(store, uid: str) -> list[str]:
    """Return the k + 3 criteria of a generation."""
    gen = store.generation(store.generation_id(uid))
    return criteria([s["name"] for s in gen["skills"]])


def package_uids(path: Path) -> list[str]:
    """Return the uids of the generations in a package, in id order."""
    with open_project(path, create=False) as pkg:
        return [r[0] for r in pkg.execute("SELECT uid FROM generations ORDER BY id")]


def simulate(
    path: Path, person: str, clock: Clock, *, seed: int, uids: list[str] | None = None, fast_every: int = 0
) -> int:
    """Grade the given (default: all) generations of a package as a person would; return the count.

    Values come from a seeded RNG; every third item gets a later correction of its first criterion,
    every fifth a note; with fast_every=n, every n-th item is submitted in under 5 s.
    """
    rng = random.Random(f"{person}:{seed}")
    with open_project(path, create=False) as pkg:
        todo = (
            uids
            if uids is not None
            else [r[0] for r in pkg.execute("SELECT uid FROM generations ORDER BY id")]
        )
        for i, uid in enumerate(todo):
            crits = criteria_of(pkg, uid)
            values = {c: int(rng.random() < 0.75) for c in crits}
            secs = 2.5 if fast_every and i % fast_every == 0 else round(rng.uniform(12, 60), 1)
            grade(
                pkg,
                person,
                uid,
                values,
                seconds=secs,
                created=clock(),
                note="unsure about the topic" if i % 5 == 0 else None,
            )
            if i % 3 == 0:
                grade(pkg, person, uid, {crits[0]: 1 - values[crits[0]]}, seconds=4.0 + i, created=clock())
    return len(todo)
