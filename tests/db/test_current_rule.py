"""One rule everywhere: the verdict (or review) that counts is the latest by created, then id.

Merged packages insert a person's rows in the order of merging, not of grading, so every reader must
order by the timestamp; these tests insert the newer row first.
"""

import pytest

from gradeapp.db import audit_store, desk_queries


@pytest.fixture
def item(store):
    store.upsert_skills([{"name": "metaphor"}])
    store.add_topics(["Kites"])
    cid = store.combination_id([store.skill_ids()["metaphor"]], store.topic_ids()["Kites"])
    store.insert_generations([("g1", cid, "m", 1, None, None, "text", None, None, "2026-01-01T00:00:00")])
    return store, store.generation_id("g1")


def test_every_reader_takes_the_latest_by_created_not_the_highest_id(item):
    store, gid = item
    ann = store.grader_id("human", "ann")
    judge = store.grader_id("judge", "j", model="j")
    late, early = "2026-05-02T10:00:00.000000+00:00", "2026-05-01T10:00:00.000000+00:00"
    for grader in (ann, judge):
        store.add_verdicts(
            [{"grader_id": grader, "generation_id": gid, "criterion": "topic", "value": 1, "created": late}]
        )
        store.add_verdicts(
            [{"grader_id": grader, "generation_id": gid, "criterion": "topic", "value": 0, "created": early}]
        )
    store.add_review(ann, gid, "submit", created=late)
    store.add_review(ann, gid, "unsubmit", created=early)

    view = dict(
        store.execute("SELECT grader_id, value FROM current_verdicts WHERE criterion = 'topic'").fetchall()
    )
    assert view == {ann: 1, judge: 1}
    assert store.current_verdict(ann, gid, "topic")["value"] == 1
    assert audit_store.judge_points(store, judge)["value"].tolist() == [1.0]
    people = audit_store.human_points(store)
    assert people["value"].tolist() == [1.0] and people["submitted"].tolist() == [1]
    assert audit_store.is_submitted(store, ann, gid)
    assert desk_queries.person_decisions(store, ann, gid)["topic"]["value"] == 1
    assert desk_queries.review_state(store, ann, gid)["submitted"] is True
    _, votes = desk_queries.judge_votes(store, gid)
    assert votes["topic"] == [1]
