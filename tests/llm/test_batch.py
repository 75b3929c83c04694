"""Batch API files and vllm run-batch output: written, submitted, polled and ingested exactly once."""

from __future__ import annotations

import json
import sqlite3

import pytest

from gradeapp.cli import main
from gradeapp.core.prompts import grading_prompts
from gradeapp.db import open_project
from gradeapp.errors import InputError
from gradeapp.llm.batch import ingest_file, parse_custom_id, poll_batches, submit_batch, write_batch
from gradeapp.llm.client import Endpoint
from tests.fakeopenai import make_project


def count(path, sql="SELECT COUNT(*) FROM verdicts"):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def write(path, server, out, runs=2):
    endpoint = Endpoint(model="gpt-4o-mini", base_url=server.base_url, max_retries=0)
    with open_project(path) as store:
        return write_batch(store, endpoint, grading_prompts(), runs=runs, out=out), endpoint


def vllm_output(server, batch_path, out, behaviours=()):
    """Answer a batch input file the way `vllm run-batch` writes its output."""
    server.push(*behaviours)
    server.files["in"] = batch_path.read_bytes()
    out.write_bytes(server.files[server.run_batch("in")])
    return out


def test_batch_file_has_one_request_per_pending_run(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=2)
    (file, n, grader), _ = write(path, fake_openai, tmp_path / "in.jsonl")
    lines = [json.loads(x) for x in file.read_text().splitlines()]
    assert n == len(lines) == 6
    ids = [parse_custom_id(x["custom_id"]) for x in lines]
    assert len(set(ids)) == 6 and {g for _, g, _ in ids} == {grader} and {r for *_, r in ids} == {1, 2}
    line = lines[0]
    assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
    assert line["body"]["model"] == "gpt-4o-mini" and line["body"]["response_format"]["type"] == "json_schema"


def test_vllm_output_is_ingested_once(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=2)
    (file, n, _), _ = write(path, fake_openai, tmp_path / "in.jsonl")
    out = vllm_output(fake_openai, file, tmp_path / "out.jsonl", behaviours=["500", "garbage"])
    with open_project(path) as store:
        first = ingest_file(store, out)
        second = ingest_file(store, out)
    assert first == {"stored": 5, "already_stored": 0, "failed": 1}
    assert second == {"stored": 0, "already_stored": 5, "failed": 1}
    assert count(path) == 5 * 5
    assert count(path, "SELECT COUNT(*) FROM replies WHERE parse_status = 'empty'") == 1
    # the failed line is still pending: the next batch file asks only for it
    (again, n_again, _), _ = write(path, fake_openai, tmp_path / "in2.jsonl")
    assert n_again == 1


def test_submit_poll_and_ingest_against_the_loopback_server(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=3)
    (file, n, grader), endpoint = write(path, fake_openai, tmp_path / "in.jsonl", runs=3)
    with open_project(path) as store:
        batch_id = submit_batch(store, endpoint, file, grader)
        first = list(poll_batches(store))
        second = list(poll_batches(store))
        third = list(poll_batches(store))
    assert fake_openai.files and any(f.startswith("file-out") for f in fake_openai.files)
    assert first == [f"batch {batch_id}: in_progress"]
    assert second[0].startswith(f"batch {batch_id}: completed; stored 6, already stored 0, failed 0")
    assert third == ["no batch waiting"]
    assert count(path) == 2 * 3 * 6
    assert (
        count(
            path, "SELECT COUNT(*) FROM jobs WHERE kind = 'batch' AND status = 'done' AND prompt_tokens > 0"
        )
        == 1
    )
    assert (tmp_path / "in.output.jsonl").exists()


def test_foreign_lines_are_refused_with_their_line_number(tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=1, k=2)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "1:1:1", "response": {"status_code": 500}}\n{"custom_id": "request-7"}\n')
    with open_project(path) as store, pytest.raises(InputError, match="line 1"):
        ingest_file(store, bad)  # grader 1 does not exist in this project


def test_cli_batch_write_then_ingest_a_vllm_output(tmp_path, fake_openai, capsys):

    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    requests = tmp_path / "req.jsonl"
    args = [
        "--project",
        str(path),
        "--model",
        "local-llama",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--runs",
        "1",
    ]
    assert main(["batch", "write", *args, "--out", str(requests)]) == 0
    assert f"wrote 2 requests to {requests}" in capsys.readouterr().out
    out = vllm_output(fake_openai, requests, tmp_path / "out.jsonl")
    assert main(["batch", "ingest", "--project", str(path), str(out)]) == 0
    assert capsys.readouterr().out.strip() == "stored 2, already stored 0, failed 0"
    assert main(["batch", "ingest", "--project", str(path), str(out)]) == 0
    assert capsys.readouterr().out.strip() == "stored 0, already stored 2, failed 0"
    assert main(["batch", "ingest", "--project", str(path), str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_batch_file_is_refused_and_changes_nothing(tmp_path, content, capsys):
    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    empty = tmp_path / "out.jsonl"
    empty.write_bytes(content)
    before = count(path, "SELECT COUNT(*) FROM jobs") + count(path)
    assert main(["batch", "ingest", "--project", str(path), str(empty)]) == 2
    assert f"{empty}: no result lines" in capsys.readouterr().err
    assert count(path, "SELECT COUNT(*) FROM jobs") + count(path) == before


def test_a_batch_file_past_the_line_limit_is_refused_with_nothing_stored(tmp_path, monkeypatch):
    from gradeapp.llm import batch

    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    monkeypatch.setattr(batch, "MAX_INGEST_LINES", 3)
    big = tmp_path / "out.jsonl"
    big.write_text("\n" * 4)
    with open_project(path) as store, pytest.raises(InputError, match="more than 3 lines"):
        ingest_file(store, big)
