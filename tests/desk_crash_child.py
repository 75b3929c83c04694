"""Grade a project at random through the desk's core, reporting each write only after it committed.

Used by tests/test_grading.py, which runs grade_forever() in child processes (forked from a server
that has already imported gradeapp, so a child starts in milliseconds) and kills each with SIGKILL at
a random moment. Reports go over a pipe: ('V', verdict id, generation id, criterion, value) and
('R', review id, generation id, action).
"""

from __future__ import annotations

import random
from multiprocessing.connection import Connection

from gradeapp.db import desk_queries, open_project
from gradeapp.services import grading


def grade_forever(path: str, seed: int, report: Connection) -> None:
    rng = random.Random(seed)
    store = open_project(path, create=False)
    grader = store.grader_id("human", f"crash-{seed % 3}")
    ids = [r[0] for r in store.execute("SELECT id FROM generations")]
    report.send(("ready",))
    while True:
        gid = rng.choice(ids)
        item = grading.load_item(store, grader, gid)
        roll = rng.random()
        if roll < 0.6:
            change = grading.press_criterion(
                store, grader, item, rng.choice(item.criteria), seconds=rng.random()
            )
        elif roll < 0.85:
            change = grading.accept_remaining(store, grader, item)
            for vid, (crit, value) in zip(change.verdict_ids, change.values.items(), strict=True):
                report.send(("V", vid, gid, crit, value))
            grading.submit(store, grader, gid, seconds=rng.random() * 30)
            report.send(("R", desk_queries.last_rowid(store), gid, "submit"))
            continue
        else:
            change = grading.set_decisions(store, grader, gid, {rng.choice(item.criteria): None})
        for vid, (crit, value) in zip(change.verdict_ids, change.values.items(), strict=True):
            report.send(("V", vid, gid, crit, value))
