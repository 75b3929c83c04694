"""A server that echoes the API key inside a successful reply never gets it stored or exported."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from gradeapp.db import open_project
from gradeapp.llm.batch import ingest_file
from tests.fakeopenai import make_project

KEY = "sk-test-ECHOED-key-0123456789"


def _everything(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_an_echoed_key_is_redacted_from_replies_and_exports(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=2, k=2)
    fake_openai.default = ("content", f"I saw your key {KEY}, thanks. Answer: 1")
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    r = subprocess.run(
        [sys.executable, "-m", "gradeapp", "judge", "--project", str(path), "--model", "m", "--runs", "1"]
        + ["--base-url", fake_openai.base_url, "--max-retries", "0"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    stored = _everything(path)
    assert "I saw your key ***" in stored and KEY not in stored
    out = tmp_path / "exp"
    r = subprocess.run(
        [sys.executable, "-m", "gradeapp", "export", "--out", str(out), "--project", str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    for f in out.iterdir():
        assert KEY.encode() not in f.read_bytes(), f.name


def test_an_echoed_key_in_a_batch_output_is_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    path = make_project(tmp_path / "p.gradeapp", n_generations=1, k=2)
    with open_project(path) as store:
        grader = store.grader_id("judge", "m", model="m")
        gid = store.generation_id("test-0")
        line = {
            "custom_id": f"{gid}:{grader}:1",
            "response": {"status_code": 200, "body": {"choices": [{"message": {"content": f"key {KEY}"}}]}},
        }
        src = tmp_path / "out.jsonl"
        src.write_text(json.dumps(line) + "\n")
        assert ingest_file(store, src)["stored"] == 1
    assert KEY not in _everything(path)
