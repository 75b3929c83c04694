"""A project graded by more than a thousand people keeps each person's item apart."""

from __future__ import annotations

from gradeapp.db import open_project
from gradeapp.services.audit import load_audit_data

PEOPLE = 1_100  # past 1,024: person codes packed as generation_id * 1024 + code collided from here on


def test_1100_graders_each_keep_their_own_scores(demo_path):
    with open_project(demo_path) as store:
        audited = sorted(load_audit_data(store).gens.index)
        # adjacent ids: a collision folds a person's item into another person's item of the next generation
        first = next(gid for gid in audited if gid + 1 in audited)
        second = first + 1
        rows, expected = [], set()
        for number in range(PEOPLE):
            name = f"person {number:04d}"
            grader_id = store.grader_id("human", name)
            # half of the people pass the topic of the first text, the other half fail it
            for gid, value in ((first, number % 2), (second, 1)):
                rows.append(
                    {"grader_id": grader_id, "generation_id": gid, "criterion": "topic", "run": 1,
                     "value": value, "status": "ok"}
                )  # fmt: skip
                expected.add((name, gid))
        with store.atomic():
            store.add_verdicts(rows)
            for name, gid in expected:
                store.add_review(store.grader_id("human", name), gid, "submit")
        by_grader = load_audit_data(store).human_gen_by_grader
    ours = by_grader[by_grader["grader"].str.startswith("person ")]
    assert set(zip(ours["grader"], ours["generation_id"], strict=True)) == expected
    assert len(ours) == 2 * PEOPLE
