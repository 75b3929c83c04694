"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
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
