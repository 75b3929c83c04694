"""Waiting instead of dying: writers that find the project busy wait (with a notice) and lose nothing.

Real processes on a real project file: one holds SQLite's write lock (as a large import does) while a
judge run (against the loopback server), a headless grading session, a large import and a merge start;
each says it is waiting; once the lock is released all of them finish with every row present.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from gradeapp.db import open_project
from gradeapp.services.team import assign
from tests.fakeopenai import SKILLS, TOPICS, make_project
from tests.helpers import children_take_ctrl_c, hold_write_lock


class Child:
    """A gradeapp process whose stderr is collected as it arrives (progress bars use \\r, not lines)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gradeapp", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err = ""
        self.said = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self.proc.stderr.read(1):
            self.err += chunk
            if "the project is busy" in self.err:
                self.said.set()
        self.said.set()  # ended: let the waiter look at what it said

    def finish(self) -> tuple[int, str]:
        out = self.proc.stdout.read()  # stderr belongs to the reader thread
        self.proc.wait(timeout=120)
        self._reader.join(timeout=10)
        return self.proc.returncode, out


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, OPENAI_API_KEY="sk-test-lock-123456", PYTHONUNBUFFERED="1", **extra)


def _big_generations(path: Path, n: int) -> Path:
    names = [s["name"] for s in SKILLS]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            row = {
                "id": f"big-{i}",
                "student": "student-b",
                "k": 2,
                "skills": [names[i % 5], names[(i + 1) % 5]],
                "topic": TOPICS[i % 3],
                "text": f"Big text {i}.",
            }
            fh.write(json.dumps(row) + "\n")
    return path


def test_judge_grading_import_and_merge_wait_for_a_held_lock_and_finish_whole(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=30, k=2)
    with open_project(path) as store:
        pkg = Path(
            assign(store, ["ann"], tmp_path / "pkgs", overlap=0.0, use_all=True)["packages"][0]["path"]
        )
    env = _env()
    graded = subprocess.run(
        [sys.executable, "-m", "gradeapp", "grade", "test-1", "--set", "topic=0", "--accept", "--submit"]
        + ["--annotator", "ann", "--project", str(pkg)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert graded.returncode == 0, graded.stderr
    big = _big_generations(tmp_path / "big.jsonl", 3000)

    holder = hold_write_lock(path)
    try:
        children = {
            "judge": Child(
                ["judge", "--project", str(path), "--model", "m", "--base-url", fake_openai.base_url]
                + ["--runs", "1", "--concurrency", "4", "--max-retries", "0", "--limit", "30"],
                env,
            ),
            "grade": Child(
                [
                    "grade",
                    "test-0",
                    "--set",
                    "topic=1",
                    "--accept",
                    "--submit",
                    "--annotator",
                    "bob",
                    "--project",
                    str(path),
                ],
                env,
            ),
            "import": Child(["import", str(big), "--project", str(path)], env),
            "merge": Child(["merge", str(pkg), "--project", str(path)], env),
        }
        for name, child in children.items():
            assert child.said.wait(60), name
            assert child.proc.poll() is None, f"{name} gave up: {child.err}"
            assert "the project is busy" in child.err and "Traceback" not in child.err
    finally:
        holder.communicate("\n", timeout=30)
    results = {name: child.finish() for name, child in children.items()}
    for name, (code, _out) in results.items():
        assert code == 0, f"{name}: {children[name].err}"

    conn = sqlite3.connect(path)
    try:
        replies = conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
        big_rows = conn.execute("SELECT COUNT(*) FROM generations WHERE uid LIKE 'big-%'").fetchone()[0]
        by_person = dict(
            conn.execute(
                "SELECT gr.name, v.value FROM verdicts v JOIN graders gr ON gr.id = v.grader_id "
                "JOIN generations g ON g.id = v.generation_id WHERE gr.kind = 'human' AND v.criterion = 'topic'"
            ).fetchall()
        )
    finally:
        conn.close()
    assert replies == 30  # --limit 30: its first 30 calls, every one stored once

    assert big_rows == 3000
    assert by_person == {"bob": 1, "ann": 0}


def test_a_writer_gives_up_after_the_configured_limit_with_one_line_and_exit_1(tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=2)
    before = sqlite3.connect(path).execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
    holder = hold_write_lock(path)
    try:
        child = Child(
            ["grade", "test-0", "--set", "topic=1", "--annotator", "bob", "--project", str(path)],
            _env(GRADEAPP_LOCK_TIMEOUT="1.5"),
        )
        code, _ = child.finish()
    finally:
        holder.communicate("\n", timeout=30)
    assert code == 1
    lines = [line for line in child.err.splitlines() if line.startswith("gradeapp: error")]
    assert len(lines) == 1 and "busy" in lines[0] and "GRADEAPP_LOCK_TIMEOUT" in lines[0]
    assert "Traceback" not in child.err
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == before


def test_ctrl_c_while_waiting_for_a_busy_project_stops_at_once_and_changes_nothing(tmp_path):
    # SQLite's busy wait does not return to Python: one wait of the whole limit (600 s here) kept a
    # Ctrl+C unseen until the limit ran out. The wait is now taken in short slices.
    path = make_project(tmp_path / "p.gradeapp", n_generations=3, k=2)
    before = sqlite3.connect(path).execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
    holder = hold_write_lock(path)
    try:
        with children_take_ctrl_c():
            child = Child(
                ["grade", "test-0", "--set", "topic=1", "--annotator", "bob", "--project", str(path)],
                _env(GRADEAPP_LOCK_TIMEOUT="600"),
            )
        try:
            assert child.said.wait(timeout=120) and "the project is busy" in child.err
            child.proc.send_signal(signal.SIGINT)
            child.proc.wait(timeout=120)  # only stops a broken run: the lock limit is 600 s
            code, _ = child.finish()
        finally:
            if child.proc.poll() is None:
                child.proc.kill()
    finally:
        holder.communicate("\n", timeout=30)
    assert code == 130 and "gradeapp: interrupted" in child.err and "Traceback" not in child.err
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == before


def test_a_bad_lock_limit_is_a_user_error(tmp_path):
    path = make_project(tmp_path / "p.gradeapp", n_generations=1, k=2)
    r = subprocess.run(
        [sys.executable, "-m", "gradeapp", "info", "--project", str(path)],
        env=_env(GRADEAPP_LOCK_TIMEOUT="soon"),
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "GRADEAPP_LOCK_TIMEOUT" in r.stderr and "Traceback" not in r.stderr
