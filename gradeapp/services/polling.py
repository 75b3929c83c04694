"""Cheap reads that the desk's windows poll to know when to recompute (read-only)."""

from __future__ import annotations

from gradeapp.db import audit_store
from gradeapp.db.store import Store


def change_marker(store: Store) -> tuple[int, int]:
    """Return the project's change marker (the highest verdict and review ids): it moves on every write."""
    return audit_store.change_marker(store)


def judge_count(store: Store) -> int:
    """Return how many judge configurations graded this project."""
    return len(audit_store.judge_graders(store))
