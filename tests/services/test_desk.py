"""The desk's logic without Qt: a DeskSession graded headless, each key's Change and its queue status."""

from __future__ import annotations

import pytest

from gradeapp.core.rubric import TOPIC
from gradeapp.db import desk_queries, open_project
from gradeapp.errors import GradeappError
from gradeapp.services.desk import DeskSession


@pytest.fixture
def session(demo_path):
    with open_project(demo_path, create=False) as store:
        yield DeskSession(store, store.grader_id("human", "sam (test)"))


def status_in_queue(session: DeskSession, generation_id: int) -> str:
    """The row status the queue reads for this item (the same rule, from its own query)."""
    rows = desk_queries.queue_rows(session.store, session.grader_id, [generation_id])
    return rows[0][5]


def test_each_key_returns_the_change_and_the_status_the_queue_would_show(session):
    item = session.show(1)
    change = session.press(TOPIC)
    assert change.values == {TOPIC: 0} and change.previous == {TOPIC: None}
    assert item.decisions[TOPIC] == 0  # the item on screen follows the change: no re-read
    assert change.status == status_in_queue(session, 1) == "draft"
    change = session.toggle_flag()
    assert item.flagged and change.status == status_in_queue(session, 1) == "draft, flagged"
    session.accept_rest()
    change, feedback = session.submit()
    assert (
        item.submitted and item.revealed and change.status == status_in_queue(session, 1) == "done, flagged"
    )
    assert feedback.uid == item.uid and feedback.judge_name is not None
    assert [r.criterion for r in feedback.rows] == item.criteria
    assert {r.criterion for r in feedback.rows if r.disagrees} == set(item.disagreements())
    assert all(" of " in r.judge and "runs passed" in r.judge for r in feedback.rows)
    change = session.reopen_last()
    assert not item.submitted and change.status == status_in_queue(session, 1) == "draft, flagged"


def test_a_skipped_item_and_the_resume_point(session):
    session.show(1)
    session.accept_rest()
    session.submit()
    session.show(2)
    assert session.skip().status == status_in_queue(session, 2) == "skipped"
    assert session.resume_point({}) == 3  # neither submitted nor skipped
    assert session.resume_point({}, order=[2, 1, 5]) == 2  # an order of its own: the first not submitted
    assert session.resume_point({"status": "skipped"}) == 2


def test_submitting_an_undecided_item_is_refused_in_words(session):
    session.show(1)
    with pytest.raises(GradeappError, match="criteria undecided"):
        session.submit()
    with pytest.raises(GradeappError, match="This item has"):
        session.skill_criterion(9)
