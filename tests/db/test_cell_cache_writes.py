"""The judge-cell cache tells a read-only project and a lock apart from a real failure."""

from __future__ import annotations

import sqlite3

import pytest

from gradeapp.db import open_project
from gradeapp.services.audit import load_audit_data


def _forget_cells(path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM judge_cells")
        conn.execute("DELETE FROM judge_cells_state")
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM")  # no free pages left: writing the cells again needs new ones


def _cache_rows(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM judge_cells").fetchone()[0]


def test_a_full_disk_while_the_cells_are_kept_is_reported_not_taken_for_read_only(demo_path):
    _forget_cells(demo_path)
    with open_project(demo_path) as store:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: SQLITE_FULL
        with pytest.raises(sqlite3.OperationalError, match="full"):
            load_audit_data(store)


def test_a_lock_held_past_the_limit_loads_the_same_audit_without_keeping_the_cells(demo_path, monkeypatch):
    with open_project(demo_path) as store:
        expected = load_audit_data(store).judge_gen
    _forget_cells(demo_path)
    monkeypatch.setenv("GRADEAPP_LOCK_TIMEOUT", "0.05")
    holder = sqlite3.connect(demo_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with open_project(demo_path) as store:
            loaded = load_audit_data(store).judge_gen
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert loaded.equals(expected)
    assert _cache_rows(demo_path) == 0


def test_a_read_only_project_loads_the_audit_without_keeping_the_cells(demo_path):
    _forget_cells(demo_path)
    with open_project(demo_path, readonly=True) as store:
        assert not load_audit_data(store).judge_gen.empty
    assert _cache_rows(demo_path) == 0
