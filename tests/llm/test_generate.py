"""Generation against the loopback server: two turns, the answer extracted, everything raw, resumable."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from gradeapp.core.prompts import generation_prompts, render_generation
from gradeapp.db import open_project
from gradeapp.llm.client import Endpoint
from gradeapp.llm.generate import generation_uid, plan_combinations, run_generate
from gradeapp.services.sampling import sample_into
from tests.fakeopenai import make_project


def generate(path, server, **kw):
    endpoint = Endpoint(model="student-x", base_url=server.base_url, max_retries=0, concurrency=4)
    with open_project(path) as store:
        return asyncio.run(run_generate(store, endpoint, **kw))


def generated(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT uid, combination_id, round, prompt, raw_reply, text, meta FROM generations "
            "WHERE student = 'student-x' ORDER BY uid"
        ).fetchall()
    finally:
        conn.close()


def test_generation_runs_two_turns_and_stores_the_extracted_answer(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=0)
    report = generate(path, fake_openai, ks=[2], combinations=2, rounds=2, seed=3)
    assert report.saved == 4 and report.failed == 0
    rows = generated(path)
    assert len(rows) == 4
    calls = fake_openai.chat_calls()
    assert len(calls) == 8
    # turn two carries turn one and the model's first reply
    second_turns = [c["body"]["messages"] for c in calls if len(c["body"]["messages"]) == 3]
    assert len(second_turns) == 4 and all(m[1]["role"] == "assistant" for m in second_turns)
    uid, cid, round_, prompt, raw, text, meta = rows[0]
    assert uid == generation_uid("student-x", cid, round_, "gradeapp-v1")
    assert raw.startswith("Answer: ") and "Explanation:" in raw
    assert text.startswith("A short text about ") and text.endswith("draft 2.")
    conversation = json.loads(prompt)
    assert [m["role"] for m in conversation] == ["user", "assistant", "user"]
    with open_project(path) as store:
        combo = store.combination(cid)
    assert (
        conversation[0]["content"]
        == render_generation(generation_prompts(), combo["skills"], combo["topic"])[0]
    )
    meta = json.loads(meta)
    assert (
        meta["prompt_version"] == "gradeapp-v1"
        and meta["answer_found"]
        and meta["usage"]["prompt_tokens"] > 0
    )


def test_rerun_reuses_combinations_and_only_adds_missing_rounds(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=0)
    generate(path, fake_openai, ks=[2, 3], combinations=2, rounds=1)
    first = {r[0] for r in generated(path)}
    assert generate(path, fake_openai, ks=[2, 3], combinations=2, rounds=1).todo == 0
    report = generate(path, fake_openai, ks=[2, 3], combinations=2, rounds=2)
    assert report.todo == len(first)
    uids = {r[0] for r in generated(path)}
    assert first < uids and all(u.endswith(":r2:gradeapp-v1") for u in uids - first)


def test_generation_draws_the_same_combinations_as_sample(tmp_path):
    a = make_project(tmp_path / "a.gradeapp", n_generations=0)
    b = make_project(tmp_path / "b.gradeapp", n_generations=0)
    with open_project(a) as store:
        ids = plan_combinations(store, [2, 3], 4, seed=10)
        mine = {
            store.combination(i)["topic"] + "|" + ",".join(s["name"] for s in store.combination(i)["skills"])
            for i in ids
        }
    with open_project(b) as store:
        sample_into(store, [2, 3], 4, 10)
        df = store.combinations_df()
        theirs = {row.topic + "|" + ",".join(row.skills) for row in df.itertuples()}
    assert mine == theirs


def test_failed_generations_are_not_stored_and_are_redone(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=0)
    fake_openai.push("500")
    endpoint = Endpoint(model="student-x", base_url=fake_openai.base_url, max_retries=0, concurrency=1)
    with open_project(path) as store:
        report = asyncio.run(run_generate(store, endpoint, ks=[2], combinations=2, rounds=1))
    assert report.failed == 1 and len(generated(path)) == 1
    assert generate(path, fake_openai, ks=[2], combinations=2, rounds=1).saved == 1
    assert len(generated(path)) == 2
