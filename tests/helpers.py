"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [
    REPO.parent / "shared" / "data" / "skillmix-reference",
    REPO.parents[1] / "shared" / "data" / "skillmix-reference",
    Path("/work/shared/data/skillmix-reference"),
]


def find_reference() -> Path | None:
    """Return the folder of the public Skill-Mix reference data beside the repo, if it is there."""
    for c in _CANDIDATES:
        if (c / "skills.csv").exists():
            return c
    return None


def dump(store) -> list[str]:
    """Return the whole database as SQL text, to prove that a failed operation changed nothing."""
    return list(store.conn.iterdump())


@contextlib.contextmanager
def readonly_mount(source: Path, target: Path) -> Iterator[Path]:
    """Bind-mount source on target read-only, a real read-only medium (needs root and mount rights).

    Skips the test, saying why, where the machine does not allow it (permissions on a file are no
    substitute: root ignores them).
    """
    target.mkdir()
    done = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here (needs root and mount rights): {done.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], capture_output=True, text=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {ro.stderr.strip()}")
        yield target
    finally:
        # lazy when something (a window not yet collected) still holds a file: never leave a mount behind
        if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(target)], check=False)


@contextlib.contextmanager
def children_take_ctrl_c():
    """Start child processes with SIGINT handled, even when this test run itself ignores it.

    A shell starts a background job (`python -m pytest ... &`) with SIGINT ignored; exec keeps an
    ignored signal ignored and Python then installs no KeyboardInterrupt handler, so the judge never
    saw the test's Ctrl+C and the test timed out in background (full-suite) runs. A handled signal is
    reset to the default on exec, so the child gets Python's own Ctrl+C handling.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def hold_write_lock(path: Path) -> subprocess.Popen:
    """Start another process that holds SQLite's write lock on path (as a large import does) until a line
    is written to its stdin (`holder.communicate("\\n")`); return once it holds the lock."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def count(path: Path, sql: str) -> int:
    """Return the single number a query gives on a project file (its own short connection)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()
