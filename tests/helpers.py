"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

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
