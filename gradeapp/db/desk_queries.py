"""SQL of the grading desk: the queue, one item's state, and a person's progress.

Every function takes a Store. Reads are read-only; the few writes (verdicts, reviews) go through the
Store's own append methods, so history stays append-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradeapp.db.store import Store

QUEUE_STATUSES = ("all", "ungraded", "graded", "flagged", "skipped")

# Latest submit/unsubmit (resp. flag/unflag) of one grader on one generation; the reviews_identity
# index (grader_id, generation_id, id) answers each with one short backwards range scan.
_SUBMIT_STATE = (
    "(SELECT r.action FROM reviews r WHERE r.grader_id = :grader AND r.generation_id = g.id "
    "AND r.action IN ('submit', 'unsubmit') ORDER BY r.id DESC LIMIT 1)"
)
_FLAG_STATE = (
    "(SELECT r.action FROM reviews r WHERE r.grader_id = :grader AND r.generation_id = g.id "
    "AND r.action IN ('flag', 'unflag') ORDER BY r.id DESC LIMIT 1)"
)
_HAS_VERDICT = "EXISTS (SELECT 1 FROM verdicts v WHERE v.grader_id = :grader AND v.generation_id = g.id)"
_SKIPPED = (
    "EXISTS (SELECT 1 FROM reviews r WHERE r.grader_id = :grader AND r.generation_id = g.id "
    "AND r.action = 'skip')"
)
# the columns that row_status() turns into a queue row's status, in its argument order
_STATUS_COLUMNS = f"{_SUBMIT_STATE}, {_FLAG_STATE}, {_HAS_VERDICT}, {_SKIPPED}"
_ROW_SQL = (
    f"SELECT g.id, g.uid, g.student, cc.k, t.name, {_STATUS_COLUMNS} FROM generations g "
    "JOIN combinations cc ON cc.id = g.combination_id JOIN topics t ON t.id = cc.topic_id"
)


def row_status(submit: str | None, flag: str | None, has_verdict: int, skipped: int) -> str:
    """Return a queue row's status: 'done', 'draft', 'skipped' or '', with ', flagged' when flagged.

    The one rule of the queue's Status column (the queue's pages and a changed row both use it).
    """
    if submit == "submit":
        status = "done"
    elif has_verdict:
        status = "draft"
    else:
        status = "skipped" if skipped else ""
    if flag == "flag":
        return f"{status}, flagged" if status else "flagged"
    return status


def _queue_where(filters: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Return (joins, where, params) of the queue filters (student, k, topic, status, draw)."""
    joins, where, params = [], [], {}
    if filters.get("k") is not None or filters.get("topic"):
        joins.append("JOIN combinations c ON c.id = g.combination_id")
    if filters.get("k") is not None:
        where.append("c.k = :k")
        params["k"] = int(filters["k"])
    if filters.get("topic"):
        where.append("c.topic_id = (SELECT id FROM topics WHERE name = :topic)")
        params["topic"] = filters["topic"]
    if filters.get("student"):
        where.append("g.student = :student")
        params["student"] = filters["student"]
    if filters.get("draw"):
        where.append(
            "g.id IN (SELECT ai.generation_id FROM audit_items ai JOIN audit_draws d ON d.id = ai.draw_id "
            "WHERE d.name = :draw)"
        )
        params["draw"] = filters["draw"]
    status = filters.get("status") or "all"
    if status == "ungraded":
        where.append(f"IFNULL({_SUBMIT_STATE}, '') != 'submit'")
    elif status == "graded":
        where.append(f"{_SUBMIT_STATE} = 'submit'")
    elif status == "flagged":
        where.append(f"{_FLAG_STATE} = 'flag'")
    elif status == "skipped":
        where.append(f"{_SKIPPED} AND IFNULL({_SUBMIT_STATE}, '') != 'submit'")
    return " ".join(joins), " AND ".join(where), params


def queue_page(
    store: Store, grader_id: int, filters: dict[str, Any], after_id: int, limit: int
) -> list[tuple[int, str, str, int, str, str]]:
    """Return up to limit queue rows with id > after_id: (id, uid, student, k, topic, status).

    Keyset paging on the primary key, so page n costs the same as page 1 (read-only); status as
    row_status() gives it for this grader.
    """
    joins, where, params = _queue_where(filters)
    params.update(grader=grader_id, after=after_id, limit=limit)
    sql = (
        f"{_ROW_SQL} {joins} WHERE g.id > :after {'AND ' + where if where else ''} ORDER BY g.id LIMIT :limit"
    )
    return [(*row[:5], row_status(*row[5:])) for row in store.execute(sql, params)]


def queue_rows(store: Store, grader_id: int, ids: Sequence[int]) -> list[tuple[int, str, str, int, str, str]]:
    """Return the queue rows of the given generation ids, in the order given (read-only).

    The rows of queue_page; used where the queue is served in an order of its own (the audit, widest
    interval first) rather than by id.
    """
    rows: dict[int, tuple] = {}
    for start in range(0, len(ids), 500):
        chunk = [int(i) for i in ids[start : start + 500]]
        sql = f"{_ROW_SQL} WHERE g.id IN ({', '.join(map(str, chunk))})"
        for row in store.execute(sql, {"grader": grader_id}):
            rows[row[0]] = (*row[:5], row_status(*row[5:]))
    return [rows[i] for i in ids if i in rows]


def item_status(store: Store, grader_id: int, generation_id: int) -> str:
    """Return the queue status of one generation for this grader, as row_status() gives it (read-only)."""
    row = store.execute(
        f"SELECT {_STATUS_COLUMNS} FROM generations g WHERE g.id = :gid",
        {"grader": grader_id, "gid": generation_id},
    ).fetchone()
    return row_status(*row) if row else ""


def first_unsubmitted(store: Store, grader_id: int, filters: dict[str, Any], *, skipped: bool) -> int | None:
    """Return the lowest generation id of the queue this grader has not submitted (read-only).

    skipped=False also passes over the items the grader skipped.
    """
    joins, where, params = _queue_where(filters)
    params["grader"] = grader_id
    where = " AND ".join(filter(None, [where, f"IFNULL({_SUBMIT_STATE}, '') != 'submit'"]))
    if not skipped and filters.get("status") != "skipped":
        where += f" AND NOT {_SKIPPED}"
    row = store.execute(
        f"SELECT g.id FROM generations g {joins} WHERE {where} ORDER BY g.id LIMIT 1", params
    ).fetchone()
    return row[0] if row else None


def unsubmitted_among(store: Store, grader_id: int, ids: Sequence[int]) -> set[int]:
    """Return which of the given generation ids this grader has not submitted (read-only)."""
    out: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = [int(i) for i in ids[start : start + 500]]
        sql = (
            f"SELECT g.id FROM generations g WHERE g.id IN ({', '.join(map(str, chunk))}) "
            f"AND IFNULL({_SUBMIT_STATE}, '') != 'submit'"
        )
        out.update(r[0] for r in store.execute(sql, {"grader": grader_id}))
    return out


def queue_count(store: Store, grader_id: int, filters: dict[str, Any]) -> int:
    """Return how many generations the queue holds (read-only)."""
    joins, where, params = _queue_where(filters)
    params["grader"] = grader_id
    sql = f"SELECT COUNT(*) FROM generations g {joins} {'WHERE ' + where if where else ''}"
    return store.execute(sql, params).fetchone()[0]


def _submitted_sql() -> str:
    return (
        # the latest submit/unsubmit by id (insertion order, see migration 020)
        "SELECT gid, seconds FROM (SELECT generation_id AS gid, seconds, action, ROW_NUMBER() OVER ("
        "PARTITION BY generation_id ORDER BY id DESC) AS latest FROM reviews "
        "WHERE grader_id = :grader AND action IN ('submit', 'unsubmit')) WHERE latest = 1 AND action = 'submit'"
    )


def queue_done(store: Store, grader_id: int, filters: dict[str, Any]) -> int:
    """Return how many generations of the queue this grader has submitted (read-only)."""
    flt = {**filters, "status": "all"}
    joins, where, params = _queue_where(flt)
    params["grader"] = grader_id
    sql = (
        f"SELECT COUNT(*) FROM ({_submitted_sql()}) s JOIN generations g ON g.id = s.gid {joins} "
        f"{'WHERE ' + where if where else ''}"
    )
    return store.execute(sql, params).fetchone()[0]


def submitted_seconds(store: Store, grader_id: int) -> list[float]:
    """Return the recorded seconds of each item this grader has submitted (read-only)."""
    rows = store.execute(
        f"SELECT seconds FROM ({_submitted_sql()}) WHERE seconds IS NOT NULL", {"grader": grader_id}
    )
    return [r[0] for r in rows]


def queue_filter_values(store: Store) -> dict[str, list]:
    """Return the choices of each queue filter: students, k values, topics, audit draws (read-only)."""
    return {
        "student": [r[0] for r in store.execute("SELECT name FROM students ORDER BY name")]
        or [
            r[0] for r in store.execute("SELECT DISTINCT student FROM generations ORDER BY student LIMIT 200")
        ],
        "k": [r[0] for r in store.execute("SELECT DISTINCT k FROM combinations ORDER BY k")],
        "topic": [r[0] for r in store.execute("SELECT name FROM topics ORDER BY name")],
        "draw": [r[0] for r in store.execute("SELECT name FROM audit_draws ORDER BY id")],
    }


def person_decisions(store: Store, grader_id: int, generation_id: int) -> dict[str, dict[str, Any]]:
    """Return criterion -> latest verdict row (value, status, post_reveal, id) of this person (read-only)."""
    cur = store.execute(
        "SELECT criterion, value, status, post_reveal, id FROM verdicts "
        "WHERE grader_id = ? AND generation_id = ? AND run = 1 ORDER BY id",
        [grader_id, generation_id],
    )
    # the last row of each criterion in id (insertion) order is its current one
    return {c: {"value": v, "status": s, "post_reveal": p, "id": i} for c, v, s, p, i in cur}


def review_state(store: Store, grader_id: int, generation_id: int) -> dict[str, Any]:
    """Return submitted, ever_submitted, flagged, skipped and the latest note of one person's item (read-only)."""
    rows = store.execute(
        "SELECT action, note FROM reviews WHERE grader_id = ? AND generation_id = ? ORDER BY id",
        [grader_id, generation_id],
    ).fetchall()
    state = {"submitted": False, "ever_submitted": False, "flagged": False, "skipped": False, "note": ""}
    for action, note in rows:
        if action in ("submit", "unsubmit"):
            state["submitted"] = action == "submit"
            state["ever_submitted"] |= action == "submit"
        elif action in ("flag", "unflag"):
            state["flagged"] = action == "flag"
        elif action == "note":
            state["note"] = note or ""
        elif action == "skip":
            state["skipped"] = True
    return state


def judge_votes(store: Store, generation_id: int) -> tuple[str | None, dict[str, list[int | None]]]:
    """Return (judge name, criterion -> current values over runs) of the newest judge of this item.

    Read-only. A run whose reply could not be parsed contributes None.
    """
    cur = store.execute(
        "SELECT v.grader_id, gr.name, gr.model, v.criterion, v.value FROM verdicts v "
        "JOIN graders gr ON gr.id = v.grader_id "
        "WHERE v.generation_id = :g AND gr.kind = 'judge' AND v.status != 'retracted' AND v.id IN ("
        "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY grader_id, criterion, run "
        "ORDER BY id DESC) AS latest FROM verdicts WHERE generation_id = :g) WHERE latest = 1) "
        "ORDER BY v.grader_id DESC, v.run",
        {"g": generation_id},
    )
    chosen, name, votes = None, None, {}
    for grader, gname, model, criterion, value in cur:
        if chosen is None:
            chosen, name = grader, model or gname
        if grader != chosen:
            break
        votes.setdefault(criterion, []).append(value)
    return name, votes


def cached_checks(store: Store, generation_id: int) -> tuple[int, str] | None:
    """Return (n_sentences, named_skills JSON) cached for a generation, or None (read-only)."""
    row = store.execute(
        "SELECT n_sentences, named_skills FROM checks WHERE generation_id = ?", [generation_id]
    ).fetchone()
    return (row[0], row[1]) if row else None


def last_submitted(store: Store, grader_id: int) -> int | None:
    """Return the generation this person submitted most recently and has not unsubmitted (read-only)."""
    row = store.execute(
        "SELECT generation_id FROM reviews WHERE id IN (SELECT MAX(id) FROM reviews WHERE grader_id = ? "
        "AND action IN ('submit', 'unsubmit') GROUP BY generation_id) AND action = 'submit' "
        "ORDER BY id DESC LIMIT 1",
        [grader_id],
    ).fetchone()
    return row[0] if row else None


def last_rowid(store: Store) -> int:
    """Return the rowid of the last row this connection inserted (read-only)."""
    return store.execute("SELECT last_insert_rowid()").fetchone()[0]


def verdicts_by_id(store: Store, ids: Sequence[int]) -> dict[int, tuple]:
    """Return id -> (grader_id, generation_id, criterion, value, status) for the given verdict ids (read-only)."""
    out: dict[int, tuple] = {}
    ids = list(ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        cur = store.execute(
            f"SELECT id, grader_id, generation_id, criterion, value, status FROM verdicts "
            f"WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        )
        out.update({r[0]: tuple(r[1:]) for r in cur})
    return out
