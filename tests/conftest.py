"""Shared fixtures: real project files in tmp_path, the public reference data when present."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from gradeapp.db import open_project

# Property tests check behaviour, not speed: no per-example deadline on a shared 2-core machine.
settings.register_profile("gradeapp", deadline=None)
settings.load_profile("gradeapp")

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


@pytest.fixture
def reference_dir() -> Path:
    ref = find_reference()
    if ref is None:
        pytest.skip(
            "the public Skill-Mix reference data (../shared/data/skillmix-reference) is not on this machine"
        )
    return ref


@pytest.fixture
def store(tmp_path):
    s = open_project(tmp_path / "project.gradeapp")
    yield s
    s.close()


@pytest.fixture
def demo_path(tmp_path) -> Path:
    from gradeapp.demo import build_demo

    return build_demo(tmp_path / "demo.gradeapp")


def dump(store) -> list[str]:
    """Return the whole database as SQL text, to prove that a failed operation changed nothing."""
    return list(store.conn.iterdump())
