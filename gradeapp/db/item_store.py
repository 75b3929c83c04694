"""SQL of a person's item (person x generation): is it submitted, which criteria it decides, is it drawn."""

from __future__ import annotations


def is_submitted(store, grader_id: int, generation_id: int) -> bool:
    """Tell whether a person's latest submit/unsubmit event on a generation is a submit (read-only)."""
    row = store.conn.execute(
        "SELECT action FROM reviews WHERE grader_id = ? AND generation_id = ? AND action IN ('submit', 'unsubmit') "
        "ORDER BY id DESC LIMIT 1",
        [grader_id, generation_id],
    ).fetchone()
    return row is not None and row[0] == "submit"


def decided_criteria(store, grader_id: int, generation_id: int) -> set[str]:
    """Return the criteria a grader's current verdicts on a generation decide with a 1 or 0 (read-only)."""
    rows = store.conn.execute(
        "SELECT criterion, value FROM verdicts WHERE grader_id = ? AND generation_id = ? "
        "ORDER BY criterion, run, id",
        [grader_id, generation_id],
    ).fetchall()
    latest: dict[str, object] = {}
    for criterion, value in rows:  # in insertion order (migration 020): the last row of a criterion counts
        latest[criterion] = value
    return {c for c, v in latest.items() if v is not None}


def active_draw_generations(store) -> tuple[str | None, set[int]]:
    """Return the latest audit draw's name and its generation ids ((None, set()) without a draw)."""
    row = store.conn.execute("SELECT id, name FROM audit_draws ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None, set()
    ids = store.conn.execute("SELECT generation_id FROM audit_items WHERE draw_id = ?", [row[0]]).fetchall()
    return row[1], {i for (i,) in ids}
