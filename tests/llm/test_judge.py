"""The judge pipeline against the loopback server: complete, non-duplicated, resumable, honest."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradeapp.cli import main
from gradeapp.core.prompts import grading_prompts
from gradeapp.db import open_project
from gradeapp.db.judge_store import reply_history, start_job
from gradeapp.llm.client import Endpoint
from gradeapp.llm.jobs import process_owner
from gradeapp.llm.judge import run_judge
from tests.fakeopenai import make_project
from tests.helpers import children_take_ctrl_c
from tests.helpers import find_reference as reference_dir

KEY = "sk-test-LEAKCHECK-123"


def endpoint_for(server, **kw) -> Endpoint:
    kw.setdefault("max_retries", 0)
    kw.setdefault("concurrency", 4)
    return Endpoint(model="gpt-4o-mini", base_url=server.base_url, **kw)


def judge(path: Path, server, prompts=None, **kw):
    endpoint = endpoint_for(server, **{k: kw.pop(k) for k in list(kw) if k in ("max_retries", "concurrency")})
    with open_project(path) as store:
        return asyncio.run(run_judge(store, endpoint, prompts, **kw))


def rows(path: Path, sql: str, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def assert_exactly_one_verdict_each(path: Path, runs: int, n_generations: int, k: int) -> None:
    dupes = rows(
        path,
        "SELECT generation_id, criterion, run, COUNT(*) FROM verdicts v JOIN graders g ON g.id = v.grader_id "
        "WHERE g.kind = 'judge' GROUP BY v.grader_id, generation_id, criterion, run HAVING COUNT(*) > 1",
    )
    assert dupes == []
    (n,) = rows(path, "SELECT COUNT(*) FROM verdicts")[0]
    assert n == n_generations * runs * (k + 3)
    (n_replies,) = rows(path, "SELECT COUNT(*) FROM replies")[0]
    assert n_replies == n_generations * runs


def test_judge_grades_every_run_once_with_its_configuration(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=5, k=3)
    report = judge(path, fake_openai, runs=3)
    assert report.saved == 15 and report.failed == 0 and report.parse_counts == {"ok": 15}
    assert_exactly_one_verdict_each(path, runs=3, n_generations=5, k=3)
    # the verdict values are the server's (computed from the request), not a constant
    values = {v for (v,) in rows(path, "SELECT value FROM verdicts")}
    assert values == {0, 1}
    grader = rows(
        path, "SELECT model, endpoint_host, temperature, prompt_version, prompt_hash, kind FROM graders"
    )
    host = fake_openai.base_url.split("//")[1].split("/")[0]
    assert grader == [("gpt-4o-mini", host, 0.7, "gradeapp-v2", grading_prompts().hash, "judge")]
    # structured output was asked for, with every criterion required
    body = fake_openai.chat_calls()[0]["body"]
    schema = body["response_format"]["json_schema"]["schema"]
    assert len(schema["required"]) == 6 and "topic" in schema["required"]
    job = rows(
        path, "SELECT kind, status, calls, failures, prompt_tokens, completion_tokens, cost_usd FROM jobs"
    )
    assert job[0][:4] == ("judge", "done", 15, 0)
    assert job[0][4] > 0 and job[0][5] > 0 and job[0][6] == pytest.approx(report.cost_usd) and job[0][6] > 0
    # a second run has nothing to do
    again = judge(path, fake_openai, runs=3)
    assert again.todo == 0 and len(fake_openai.chat_calls()) == 15


def test_rerun_does_only_the_failed_work(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=4, k=2)
    fake_openai.push("500", "500", "429")
    report = judge(path, fake_openai, runs=2, concurrency=1)
    assert report.failed == 3 and report.saved == 5
    assert rows(path, "SELECT status, failures FROM jobs") == [("incomplete", 3)]
    calls_before = len(fake_openai.chat_calls())
    again = judge(path, fake_openai, runs=2)
    assert again.todo == 3 and again.saved == 3
    assert len(fake_openai.chat_calls()) == calls_before + 3
    assert_exactly_one_verdict_each(path, runs=2, n_generations=4, k=2)


def test_more_runs_later_adds_only_the_new_runs(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=2)
    judge(path, fake_openai, runs=1)
    report = judge(path, fake_openai, runs=3)
    assert report.todo == 6
    assert_exactly_one_verdict_each(path, runs=3, n_generations=3, k=2)


def test_unparseable_replies_are_stored_as_such_and_not_retried(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    fake_openai.push("garbage")
    report = judge(path, fake_openai, runs=1, concurrency=1)
    assert report.parse_counts == {"empty": 1, "ok": 1}
    [(reply_id, raw, status)] = rows(
        path, "SELECT id, raw, parse_status FROM replies WHERE parse_status != 'ok'"
    )
    assert raw == "I am sorry, I cannot grade this text." and status == "empty"
    verdicts = rows(path, "SELECT value, status FROM verdicts WHERE reply_id = ?", [reply_id])
    assert verdicts == [(None, "empty")] * 5
    assert judge(path, fake_openai, runs=1).todo == 0
    # --retry-unparsed asks again; the replaced reply is kept in the history, the new verdicts count
    again = judge(path, fake_openai, runs=1, retry_unparsed=True)
    assert again.todo == 1 and again.saved == 1
    with open_project(path) as store:
        history = reply_history(store, reply_id)
        assert [h["raw"] for h in history] == ["I am sorry, I cannot grade this text."]
        current = store.current_verdicts_df()
    assert len(current) == 2 * 5 and set(current["status"]) == {"ok"}
    assert rows(path, "SELECT parse_status FROM replies WHERE id = ?", [reply_id]) == [("ok",)]


def test_table_with_missing_renamed_and_fractional_rows_is_matched_by_name(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=3)
    fake_openai.push("table_missing_row", "table_renamed", "fractional")
    judge(path, fake_openai, runs=1, concurrency=1)
    by_gen = {}
    for gid, status, crit, vstatus, raw_value in rows(
        path,
        "SELECT r.generation_id, r.parse_status, v.criterion, v.status, v.raw_value FROM replies r "
        "JOIN verdicts v ON v.reply_id = r.id ORDER BY r.generation_id, v.id",
    ):
        by_gen.setdefault(gid, {"status": status, "points": {}})["points"][crit] = (vstatus, raw_value)
    missing, renamed, fractional = (by_gen[g] for g in sorted(by_gen))
    # the first skill's row is gone: only it is missing, the later rows are not shifted
    first = next(iter(missing["points"]))
    assert missing["points"][first] == ("missing", None)
    assert missing["status"] == "partial"
    assert all(s == "ok" for c, (s, _) in missing["points"].items() if c != first)
    # the first row renamed beyond recognition is the one row left for the one criterion left, in
    # rubric order: matched by elimination, and the verdict says so
    first = next(iter(renamed["points"]))
    assert renamed["points"][first][0] == "ok" and renamed["status"] == "ok"
    assert rows(path, "SELECT DISTINCT match_method FROM verdicts WHERE status = 'missing'") == [(None,)]
    assert ("elimination",) in rows(path, "SELECT match_method FROM verdicts WHERE reply_id IS NOT NULL")
    first = next(iter(fractional["points"]))
    assert fractional["points"][first] == ("fractional", "0.5")
    assert rows(path, "SELECT value FROM verdicts WHERE status IN ('fractional', 'missing')") == [(None,)] * 2


def test_reference_prompt_folder_is_asked_in_text_and_parsed_by_name(tmp_path, fake_openai):
    ref = reference_dir()
    if ref is None:
        pytest.skip("the Skill-Mix reference data (shared/data/skillmix-reference) is not on this machine")
    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    prompts = grading_prompts(ref / "prompts", "gpt")
    fake_openai.push("table_missing_row", "fractional")
    report = judge(path, fake_openai, prompts=prompts, runs=1, concurrency=1)
    assert report.saved == 2
    body = fake_openai.chat_calls()[0]["body"]
    assert "response_format" not in body
    assert "Correctly illustrates" in body["messages"][0]["content"]
    assert rows(path, "SELECT prompt_version FROM graders") == [("ref-gpt",)]
    statuses = sorted(s for (s,) in rows(path, "SELECT status FROM verdicts"))
    assert statuses.count("missing") == 1 and statuses.count("fractional") == 1 and statuses.count("ok") == 8


def _cli(path: Path, server, *extra: str, env=None, **kw):
    cmd = [sys.executable, "-m", "gradeapp", "judge", "--project", str(path), "--model", "gpt-4o-mini"]
    cmd += ["--base-url", server.base_url, "--runs", "3", "--max-retries", "0", *extra]
    env = dict(os.environ, OPENAI_API_KEY=KEY, PYTHONUNBUFFERED="1", **(env or {}))
    return cmd, env


def _wait_for_replies(path: Path, at_least: int, proc: subprocess.Popen, timeout: float = 120.0) -> int:
    """Poll the project until it holds at_least replies (the timeout only stops a broken run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            (n,) = rows(path, "SELECT COUNT(*) FROM replies")[0]
        except sqlite3.OperationalError:
            n = 0
        if n >= at_least:
            return n
        time.sleep(0.05)
    raise AssertionError("the judge made no progress")


def _whole_replies_only(path: Path) -> bool:
    """Tell whether every stored reply has all its verdicts (k = 2: five criteria)."""
    return (
        rows(
            path,
            "SELECT r.id FROM replies r WHERE (SELECT COUNT(*) FROM verdicts v WHERE v.reply_id = r.id) != 5",
        )
        == []
    )


def test_run_killed_midway_and_resumed_has_exactly_one_verdict_each(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=40, k=2)
    fake_openai.hold_after(20)  # the 21st call and later wait: the kill comes while 8 are in flight
    cmd, env = _cli(path, fake_openai, "--concurrency", "8")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_replies(path, 20, proc)
        fake_openai.wait_held(8)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        fake_openai.release()
    (kept,) = rows(path, "SELECT COUNT(*) FROM replies")[0]
    assert kept == 20
    assert _whole_replies_only(path)  # what was written is whole
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "100 of 100 judge runs stored" in done.stdout
    assert_exactly_one_verdict_each(path, runs=3, n_generations=40, k=2)
    # the killed run never recorded its end: the next run found its process gone
    assert rows(path, "SELECT status, finished IS NOT NULL FROM jobs ORDER BY id") == [
        ("interrupted", 1),
        ("done", 1),
    ]


def test_a_running_job_is_settled_only_when_its_process_is_gone(tmp_path, capsys):
    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    me, host = process_owner(), socket.gethostname()
    gone_pid = int(child.stdout)
    owners = {
        "alive": me,
        "gone": f"{host}|{gone_pid}|1.00",
        "pid reused": f"{host}|{os.getpid()}|1.00",  # our pid, another start time
        "other host": f"{host}-elsewhere|{gone_pid}|1.00",
        "batch": None,  # a remote batch has no process: it runs until polled
    }
    with open_project(path) as store:
        ids = {name: start_job(store, "judge", None, {}, owner=owner) for name, owner in owners.items()}
        before = store.execute("SELECT id, status FROM jobs ORDER BY id").fetchall()
    assert main(["info", "--project", str(path)]) == 0  # a reading command writes nothing
    with open_project(path) as store:
        assert store.execute("SELECT id, status FROM jobs ORDER BY id").fetchall() == before
    assert main(["sample", "--k", "2", "--combinations", "1", "--project", str(path)]) == 0
    capsys.readouterr()
    status = dict(rows(path, "SELECT id, status FROM jobs"))
    assert {name: status[job_id] for name, job_id in ids.items()} == {
        "alive": "running",
        "gone": "interrupted",
        "pid reused": "interrupted",
        "other host": "running",
        "batch": "running",
    }


def test_ctrl_c_keeps_finished_calls_and_exits_130(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=40, k=2)
    fake_openai.hold_after(8)  # the 9th call and later wait: Ctrl+C comes while 4 are in flight
    cmd, env = _cli(path, fake_openai, "--concurrency", "4")
    with children_take_ctrl_c():
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_replies(path, 8, proc)
        fake_openai.wait_held(4)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        fake_openai.release()
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("gradeapp: interrupted:") and "kept" in last
    (kept,) = rows(path, "SELECT COUNT(*) FROM replies")[0]
    assert kept == 8 and int(last.split("interrupted: ")[1].split()[0]) == kept
    assert rows(path, "SELECT status FROM jobs") == [("interrupted",)]
    assert _whole_replies_only(path)


def test_api_key_appears_nowhere(tmp_path, fake_openai, capsys, monkeypatch):

    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=2)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    common = ["--project", str(path), "--base-url", fake_openai.base_url, "--max-retries", "0"]
    fake_openai.push("401")  # the server quotes the key back in its error message
    assert main(["judge", "--model", "gpt-4o-mini", "--runs", "1", "--concurrency", "1", *common]) == 2
    assert (
        main(
            ["generate", "--model", "student-b", "--k", "2", "--combinations", "2", "--rounds", "1", *common]
        )
        == 0
    )
    batch_file = tmp_path / "b.jsonl"
    assert main(["judge", "--model", "other-judge", "--batch", "--batch-file", str(batch_file), *common]) == 0
    exports = tmp_path / "exports"
    assert main(["export", "--project", str(path), "--out", str(exports), "--bootstrap", "0"]) == 0
    printed = capsys.readouterr()
    assert "HTTP 401" in printed.err
    # a real CLI process with the openai client's debug logging on
    cmd, env = _cli(path, fake_openai, env={"OPENAI_LOG": "debug"})
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HTTP Request" in proc.stderr  # the log was on
    assert f"Bearer {KEY}" in fake_openai.auth_headers  # the key was really sent
    for text in (printed.out, printed.err, proc.stdout, proc.stderr):
        assert KEY not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert batch_file in files and path in files and exports / "verdicts.csv" in files
    for p in files:
        assert KEY.encode() not in p.read_bytes(), p
    # also while a connection is open and the WAL is not checkpointed
    store = open_project(path)
    try:
        store.execute("INSERT INTO project(key, value) VALUES ('probe', '1')")
        for p in tmp_path.rglob("*"):
            if p.is_file():
                assert KEY.encode() not in p.read_bytes(), p
    finally:
        store.close()


def test_missing_key_for_openai_is_one_line_and_records_no_job(tmp_path, capsys, monkeypatch):

    path = make_project(tmp_path / "p.gradeapp", n_generations=1, k=2)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["judge", "--project", str(path), "--model", "gpt-4o-mini", "--key-env", "MY_JUDGE_KEY"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gradeapp: error: no API key: set the environment variable MY_JUDGE_KEY"]
    assert rows(path, "SELECT COUNT(*) FROM jobs") == [(0,)]
