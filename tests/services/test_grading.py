"""The desk's core operations on real project files, and the kill -9 test of 'nothing is lost'."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
from pathlib import Path

import pytest

from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, TOPIC
from gradeapp.db import desk_queries, open_project
from gradeapp.errors import GradeappError
from gradeapp.services import grading


@pytest.fixture
def store(demo_path):
    with open_project(demo_path, create=False) as s:
        yield s


@pytest.fixture
def person(store) -> int:
    return store.grader_id("human", "pat (test)")


def rows(store, generation_id: int) -> list[tuple]:
    return store.execute(
        "SELECT criterion, value, status, post_reveal FROM verdicts WHERE generation_id = ? AND grader_id = "
        "(SELECT id FROM graders WHERE key = 'human:pat (test)') ORDER BY id",
        [generation_id],
    ).fetchall()


def test_next_value_flips_the_default_then_toggles():
    assert grading.next_value(None, 1) == 0
    assert grading.next_value(None, 0) == 1
    assert grading.next_value(0, 1) == 1
    assert grading.next_value(1, 1) == 0


def test_decisions_are_appended_and_undo_writes_new_rows(store, person):
    item = grading.load_item(store, person, 5)
    first = grading.press_criterion(store, person, item, TOPIC)
    assert first.values == {TOPIC: 0} and first.previous == {TOPIC: None}
    grading.press_criterion(store, person, item, TOPIC)
    # undo twice, as the desk does: write the previous values again
    grading.set_decisions(store, person, 5, {TOPIC: 0})
    grading.set_decisions(store, person, 5, first.previous)
    assert rows(store, 5) == [
        (TOPIC, 0, "ok", 0),
        (TOPIC, 1, "ok", 0),
        (TOPIC, 0, "ok", 0),
        (TOPIC, None, "retracted", 0),
    ]
    assert grading.load_item(store, person, 5).decisions[TOPIC] is None


def test_guideline_version_is_stored_with_each_verdict(store, person):
    store.conn.execute("INSERT INTO guidelines(version, text, created) VALUES (3, 'Be strict.', 'now')")
    item = grading.load_item(store, person, 1)
    assert (item.guideline_version, item.guideline_text) == (3, "Be strict.")
    change = grading.accept_remaining(store, person, item)
    versions = store.execute(
        f"SELECT DISTINCT guideline_version FROM verdicts WHERE id IN ({','.join(map(str, change.verdict_ids))})"
    ).fetchall()
    assert versions == [(3,)]


def test_accept_takes_the_suggestion_of_the_checks(store, person):
    item = grading.load_item(store, person, 1)  # two sentences, k = 2: over the limit
    assert item.suggestions[SENTENCE_LIMIT].value == 0
    grading.accept_remaining(store, person, item)
    assert item.decisions[SENTENCE_LIMIT] == 0
    assert item.decisions[TOPIC] == 1 and item.decisions[MAKES_SENSE] == 1


def test_submit_refuses_an_incomplete_item(store, person):
    grading.decide(store, person, 2, TOPIC, 1)
    with pytest.raises(GradeappError, match="undecided"):
        grading.submit(store, person, 2)


def test_judge_is_hidden_until_submit_and_later_changes_are_post_reveal(store, person):
    item = grading.load_item(store, person, 3)
    assert not item.revealed and item.judge == {}
    grading.accept_remaining(store, person, item)
    grading.submit(store, person, 3, seconds=12.0)
    item = grading.load_item(store, person, 3)
    assert item.revealed and item.submitted and set(item.judge) == set(item.criteria)
    change = grading.press_criterion(store, person, item, MAKES_SENSE)
    assert change.post_reveal and change.submitted
    assert rows(store, 3)[-1] == (MAKES_SENSE, 0, "ok", 1)
    assert grading.load_item(store, person, 3).submitted  # the revision re-submits
    # the person now says 0: a disagreement exactly when the judge's majority says 1
    disagrees = MAKES_SENSE in grading.load_item(store, person, 3).disagreements()
    assert disagrees == (item.judge[MAKES_SENSE].majority == 1)
    # without blind mode the judge shows at once, and decisions count as made after the reveal
    open_item = grading.load_item(store, person, 4, blind=False)
    assert open_item.revealed and open_item.judge
    assert grading.decide(store, person, 4, TOPIC, 1, blind=False).post_reveal


def test_judge_majority_over_runs():
    assert grading.judge_view([1, 1, 0]).majority == 1
    assert grading.judge_view([0, None, 0]).majority == 0
    assert grading.judge_view([1, 0]).majority is None
    assert grading.judge_view([None, None]).majority is None
    assert grading.judge_view([1, 0, 0]).label() == "fail (1/3)"


def test_unsubmit_flag_skip_and_note_are_reviews(store, person):
    item = grading.load_item(store, person, 6)
    grading.accept_remaining(store, person, item)
    grading.submit(store, person, 6)
    assert grading.last_submitted(store, person) == 6
    grading.unsubmit(store, person, 6)
    grading.set_flag(store, person, 6, True)
    grading.add_note(store, person, 6, "odd <b>text</b>")
    grading.skip(store, person, 7, seconds=3)
    again = grading.load_item(store, person, 6)
    assert not again.submitted and again.revealed and again.flagged and again.note == "odd <b>text</b>"
    assert grading.last_submitted(store, person) is None
    actions = [
        r[0] for r in store.execute("SELECT action FROM reviews WHERE grader_id = ? ORDER BY id", [person])
    ]
    assert actions == ["submit", "unsubmit", "flag", "note", "skip"]


def test_item_timer_caps_idle_time():
    now = [0.0]
    timer = grading.ItemTimer(clock=lambda: now[0], idle_cap=120)
    now[0] = 30
    assert timer.touch() == 30
    now[0] = 1030  # away for 1000 s
    assert timer.touch() == 150
    now[0] = 1040
    assert timer.seconds == 160
    timer.restart()
    assert timer.seconds == 0


def test_queue_pages_by_key_and_filters(store, person):
    pages, after = [], 0
    while page := grading.queue_page(store, person, {}, after, 7):
        pages += page
        after = page[-1][0]
    everything = grading.queue_page(store, person, {}, 0, 1000)
    assert pages == everything and len(everything) == store.info()["generations"] == 163
    k3 = grading.queue_page(store, person, {"k": 3}, 0, 1000)
    assert k3 and {r[3] for r in k3} == {3}
    topic = everything[0][4]
    assert {r[4] for r in grading.queue_page(store, person, {"topic": topic}, 0, 1000)} == {topic}
    item = grading.load_item(store, person, 1)
    grading.accept_remaining(store, person, item)
    grading.submit(store, person, 1, seconds=20)
    grading.decide(store, person, 2, TOPIC, 1)
    assert [r[0] for r in grading.queue_page(store, person, {"status": "graded"}, 0, 100)] == [1]
    ungraded = grading.queue_page(store, person, {"status": "ungraded"}, 0, 1000)
    assert len(ungraded) == 162 and ungraded[0][5] == "draft"
    assert grading.progress(store, person, {}) == {"done": 1, "total": 163, "median_seconds": 20}
    # a caller that knows the total (the desk caches it) gets it back without a recount
    assert grading.progress(store, person, {}, total=7) == {"done": 1, "total": 7, "median_seconds": 20}
    assert grading.progress(store, person, {"k": 3})["done"] == 0


def test_a_second_connection_waits_instead_of_corrupting(store, person, tmp_path):
    other = sqlite3.connect(store.path, isolation_level=None, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")
    store.conn.execute("PRAGMA busy_timeout = 100")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            grading.decide(store, person, 1, TOPIC, 1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    grading.decide(store, person, 1, TOPIC, 1)
    assert store.integrity_check() == "ok"


def test_a_second_process_holding_the_file_makes_a_write_fail_cleanly(store, person):
    """Another program writing the same file: the desk's write waits, then fails whole, never corrupts."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(store.path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "c.execute(\"INSERT INTO project(key, value) VALUES ('other', '1')\")\n"
            "print('holding', flush=True)\n"
            "sys.stdin.readline()\n"
            "c.execute('COMMIT')\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        store.conn.execute("PRAGMA busy_timeout = 200")
        before = store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            grading.decide(store, person, 1, TOPIC, 1)
        assert store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == before
    finally:
        holder.communicate("go\n", timeout=10)
    assert holder.returncode == 0
    grading.decide(store, person, 1, TOPIC, 1)  # the other program is done: the write goes through
    assert store.execute("SELECT value FROM project WHERE key = 'other'").fetchone()[0] == "1"
    assert store.integrity_check() == "ok"


@pytest.mark.slow
def test_kill_9_loses_nothing_reported_saved(demo_path):
    """Kill grading processes at random moments; everything they reported as saved must be on disk."""
    import multiprocessing

    from tests import desk_crash_child

    path = demo_path
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["gradeapp.services.grading", "tests.desk_crash_child"])
    rng = random.Random(7)
    # a list, not a dict by id: a row lost in a crash frees its id for the next process, and that
    # process reporting the same id again must not hide the loss
    saved_verdicts: list[tuple[int, int, str, int | None]] = []
    saved_reviews: list[tuple[int, int, str]] = []
    kills = 0
    for n in range(25):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=desk_crash_child.grade_forever, args=(str(path), n, send), daemon=True)
        proc.start()
        send.close()
        assert receive.poll(30) and receive.recv() == ("ready",)
        # kill after a random number of reported writes (a condition, not a time: a busy machine
        # only makes the child slower), i.e. somewhere inside one of its next writes
        messages = []
        for _ in range(rng.randint(4, 16)):
            assert receive.poll(60), "the child stopped grading"
            messages.append(receive.recv())
        proc.kill()  # SIGKILL, mid-write or not
        proc.join(10)
        kills += proc.exitcode == -signal.SIGKILL
        while True:
            try:
                messages.append(receive.recv())
            except (EOFError, OSError):  # a message cut off by the kill was never reported
                break
        receive.close()
        for kind, row_id, gid, *rest in messages:
            if kind == "V":
                saved_verdicts.append((row_id, gid, rest[0], rest[1]))
            else:
                saved_reviews.append((row_id, gid, rest[0]))
    print(f"{kills} kills; {len(saved_verdicts)} verdicts and {len(saved_reviews)} submits reported saved")
    assert kills == 25
    with open_project(path, create=False) as s:
        assert s.integrity_check() == "ok"
        on_disk = desk_queries.verdicts_by_id(s, [v[0] for v in saved_verdicts])
        lost = [v for v in saved_verdicts if v[0] not in on_disk or on_disk[v[0]][1:4] != v[1:]]
        assert lost == []
        for rid, gid, action in saved_reviews:
            assert s.execute("SELECT generation_id, action FROM reviews WHERE id = ?", [rid]).fetchone() == (
                gid,
                action,
            )


def test_cli_grades_headless_and_lists_the_queue(demo_path, capsys):
    from gradeapp.cli import main

    path = demo_path
    base = ["--project", str(path), "--annotator", "cli (test)"]
    assert main(["grade", "demo-004", *base, "--set", "topic=0", "--accept", "--submit", "--note", "hm"]) == 0
    out = capsys.readouterr().out
    assert "demo-004 (submitted)" in out and "topic=0" in out and "judge demo-judge" in out
    assert main(["queue", *base, "--status", "graded", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [i["uid"] for i in listed["items"]] == ["demo-004"] and listed["done"] == 1
    assert main(["grade", "demo-004", *base, "--set", "nonsense=1"]) == 2
    assert "CRITERION=1|0|none" in capsys.readouterr().err
    with open_project(path, create=False) as s:
        person = s.grader_id("human", "cli (test)")
        assert grading.load_item(s, person, 4).note == "hm"


def test_queue_filters_by_audit_draw_and_student(store, person):
    draw = store.conn.execute(
        "INSERT INTO audit_draws(name, design, created) VALUES ('spring', 'srs', '2026-01-01')"
    ).lastrowid
    store.conn.executemany(
        "INSERT INTO audit_items(draw_id, generation_id, inclusion_prob) VALUES (?, ?, 0.5)",
        [(draw, 3), (draw, 40)],
    )
    assert [r[0] for r in grading.queue_page(store, person, {"draw": "spring"})] == [3, 40]
    assert grading.progress(store, person, {"draw": "spring"})["total"] == 2
    student = grading.queue_page(store, person, {})[0][2]
    assert {r[2] for r in grading.queue_page(store, person, {"student": student}, 0, 100)} == {student}


def test_the_core_of_the_desk_does_not_import_qt():
    import subprocess
    import sys

    code = (
        "import sys, gradeapp.services.grading, gradeapp.db.desk_queries, gradeapp.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('PySide6')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_every_human_verdict_records_a_guideline_version_even_without_one_yet(tmp_path):
    from gradeapp.services.imports import import_sources

    with open_project(tmp_path / "p.gradeapp") as s:
        s.upsert_skills([{"name": "irony"}])
        s.add_topics(["Kites"])
        gens = tmp_path / "g.jsonl"
        gens.write_text(
            json.dumps(
                {
                    "id": "g1",
                    "student": "m",
                    "k": 1,
                    "skills": ["irony"],
                    "topic": "Kites",
                    "text": "Lovely rain.",
                }
            )
        )
        import_sources(s, [gens])
        assert s.execute("SELECT COUNT(*) FROM guidelines").fetchone()[0] == 0
        person = s.grader_id("human", "pat")
        grading.decide(s, person, s.generation_id("g1"), TOPIC, 1)
        assert s.execute("SELECT guideline_version FROM verdicts").fetchall() == [(1,)]
