"""SQL of generation and judging runs: work lists, replies with their verdicts, jobs.

The anchor of idempotency is replies' UNIQUE (grader, generation, run): a reply and its verdicts are
written in one transaction, and a reply that is already there is never written twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gradeapp.db.connection import now_iso
from gradeapp.db.evidence_store import replace_reply_evidence
from gradeapp.db.store import GENERATION_COLUMNS, Store

OK_STATUS = "ok"


def is_parsed(parse_status: str | None) -> bool:
    """Tell whether a reply's every criterion was read ('ok', also with a note such as ',total_mismatch')."""
    return (parse_status or "").split(",")[0] == OK_STATUS


@dataclass
class Judgement:
    """One finished judge call: the raw reply, its parse status and one verdict per criterion."""

    grader_id: int
    generation_id: int
    run: int
    raw: str
    parse_status: str
    points: list[dict[str, Any]]  # criterion, value, raw_value, status, reason
    request: str | None = None
    usage: dict | None = None
    retry: bool = False  # replaces an unparsed reply (--retry-unparsed)
    meta: dict = field(default_factory=dict)


def judge_todo(
    store: Store,
    grader_id: int,
    runs: int,
    *,
    retry_unparsed: bool = False,
    students: Sequence[str] | None = None,
    generation_ids: Sequence[int] | None = None,
    limit: int | None = None,
) -> list[tuple[int, int, bool]]:
    """Return (generation_id, run, is_retry) of every run still to ask this judge (read-only).

    A run is to do when it has no reply; with retry_unparsed also when its reply is not fully parsed.
    API failures leave no reply, so they are always redone.
    """
    where, params = ["1=1"], [grader_id]
    if students:
        where.append(f"g.student IN ({', '.join('?' * len(students))})")
        params.extend(students)
    if generation_ids is not None:
        where.append(f"g.id IN ({', '.join(str(int(i)) for i in generation_ids) or 'NULL'})")
    sql = (
        "WITH RECURSIVE runs(run) AS (SELECT 1 UNION ALL SELECT run + 1 FROM runs WHERE run < ?) "
        "SELECT g.id, runs.run, r.parse_status FROM generations g CROSS JOIN runs "
        "LEFT JOIN replies r ON r.grader_id = ? AND r.generation_id = g.id AND r.run = runs.run "
        f"WHERE {' AND '.join(where)} ORDER BY g.id, runs.run"
    )
    out = []
    for gid, run, status in store.execute(sql, [runs, *params]):
        if status is None:
            out.append((gid, run, False))
        elif retry_unparsed and not is_parsed(status):
            out.append((gid, run, True))
        if limit and len(out) >= limit:
            break
    return out


def generation_contexts(store: Store, generation_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Return, per generation id, its text, k, topic and skills (name, definition, example) (read-only)."""
    ids = sorted(set(generation_ids))
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for gid, text, cid, k, topic in store.execute(
            "SELECT g.id, g.text, g.combination_id, c.k, t.name FROM generations g "
            "JOIN combinations c ON c.id = g.combination_id JOIN topics t ON t.id = c.topic_id "
            f"WHERE g.id IN ({marks})",
            chunk,
        ):
            out[gid] = {"id": gid, "text": text, "combination_id": cid, "k": k, "topic": topic, "skills": []}
        by_combo: dict[int, list[int]] = {}
        for gid, ctx in out.items():
            if gid in chunk:
                by_combo.setdefault(ctx["combination_id"], []).append(gid)
        combos = list(by_combo)
        if not combos:
            continue
        marks = ", ".join("?" * len(combos))
        for cid, name, definition, example in store.execute(
            "SELECT cs.combination_id, s.name, s.definition, s.example FROM combination_skills cs "
            f"JOIN skills s ON s.id = cs.skill_id WHERE cs.combination_id IN ({marks}) "
            "ORDER BY cs.combination_id, cs.position",
            combos,
        ):
            for gid in by_combo[cid]:
                out[gid]["skills"].append({"name": name, "definition": definition, "example": example})
    return out


def save_judgements(store: Store, items: Sequence[Judgement]) -> int:
    """Write replies and their verdicts in one transaction; skip runs already answered. Return how many."""
    saved = 0
    stamp = now_iso()
    with store.atomic():
        conn = store.conn
        for j in items:
            usage = json.dumps(j.usage) if j.usage else None
            if j.retry:
                row = conn.execute(
                    "SELECT id, request, raw, parse_status, usage, created FROM replies "
                    "WHERE grader_id = ? AND generation_id = ? AND run = ?",
                    [j.grader_id, j.generation_id, j.run],
                ).fetchone()
                if row is None or is_parsed(row[3]):
                    if row is not None:
                        continue
                    reply_id = _insert_reply(conn, j, usage, stamp)
                else:
                    reply_id = row[0]
                    conn.execute(
                        "INSERT INTO reply_history(reply_id, request, raw, parse_status, usage, created, replaced) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [*row, stamp],
                    )
                    conn.execute(
                        "UPDATE replies SET request = ?, raw = ?, parse_status = ?, usage = ?, created = ? WHERE id = ?",
                        [j.request, j.raw, j.parse_status, usage, stamp, reply_id],
                    )
            else:
                reply_id = _insert_reply(conn, j, usage, stamp)
            if reply_id is None:
                continue
            store.add_verdicts(
                {
                    "grader_id": j.grader_id,
                    "generation_id": j.generation_id,
                    "run": j.run,
                    "reply_id": reply_id,
                    "created": stamp,
                    **p,
                }
                for p in j.points
            )
            quotes = j.meta.get("evidence", ())
            base = {"grader_id": j.grader_id, "generation_id": j.generation_id, "run": j.run}
            replace_reply_evidence(conn, reply_id, ({**base, **q} for q in quotes), stamp)
            saved += 1
    return saved


def _insert_reply(conn, j: Judgement, usage: str | None, stamp: str) -> int | None:
    cur = conn.execute(
        "INSERT INTO replies(grader_id, generation_id, run, request, raw, parse_status, usage, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(grader_id, generation_id, run) DO NOTHING",
        [j.grader_id, j.generation_id, j.run, j.request, j.raw, j.parse_status, usage, stamp],
    )
    return cur.lastrowid if cur.rowcount == 1 else None


def reply_history(store: Store, reply_id: int) -> list[dict[str, Any]]:
    """Return the replies a retry replaced for this reply slot, oldest first (read-only)."""
    cur = store.execute("SELECT * FROM reply_history WHERE reply_id = ? ORDER BY id", [reply_id])
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur]


# -- generations ---------------------------------------------------------------------------------
def existing_uids(store: Store, uids: Iterable[str]) -> set[str]:
    """Return which of these generation uids are stored already (read-only)."""
    uids = list(uids)
    found: set[str] = set()
    for start in range(0, len(uids), 500):
        chunk = uids[start : start + 500]
        found.update(
            r[0]
            for r in store.execute(
                f"SELECT uid FROM generations WHERE uid IN ({', '.join('?' * len(chunk))})", chunk
            )
        )
    return found


def save_generations(store: Store, rows: Sequence[dict[str, Any]]) -> int:
    """Insert generations (dicts with GENERATION_COLUMNS keys) in one transaction; known uids are skipped."""
    stamp = now_iso()

    def column(row: dict[str, Any], name: str) -> Any:
        if name == "meta" and row.get("meta") is not None:
            return json.dumps(row["meta"], ensure_ascii=False)
        if name == "created":
            return row.get("created") or stamp
        return row.get(name)

    with store.atomic():
        return store.insert_generations(tuple(column(r, c) for c in GENERATION_COLUMNS) for r in rows)


# -- jobs ----------------------------------------------------------------------------------------
def start_job(
    store: Store, kind: str, grader_id: int | None, config: dict[str, Any], owner: str | None = None
) -> int:
    """Record the start of a generation, judging or batch job; return its id.

    owner: the process running the job, when the job lives only as long as that process.
    """
    with store.atomic():  # atomic(): waits for a busy project (patiently in a long job), with a notice
        cur = store.execute(
            "INSERT INTO jobs(kind, grader_id, config, started, status, owner) "
            "VALUES (?, ?, ?, ?, 'running', ?)",
            [kind, grader_id, json.dumps(config, sort_keys=True), now_iso(), owner],
        )
    return cur.lastrowid


def owned_running_jobs(store: Store) -> list[tuple[int, str]]:
    """Return (id, owner) of the running jobs that a process owns (read-only)."""
    return store.execute(
        "SELECT id, owner FROM jobs WHERE status = 'running' AND owner IS NOT NULL"
    ).fetchall()


def mark_interrupted(store: Store, job_ids: Sequence[int]) -> None:
    """Mark jobs interrupted (their process is gone), in one transaction; only ones still running."""
    with store.atomic():
        store.conn.executemany(
            "UPDATE jobs SET status = 'interrupted', finished = ? WHERE id = ? AND status = 'running'",
            [(now_iso(), job_id) for job_id in job_ids],
        )


def update_job(
    store: Store,
    job_id: int,
    *,
    calls: int,
    failures: int,
    prompt_tokens: int,
    completion_tokens: int,
    cost_usd: float | None,
    status: str | None = None,
    finished: bool = False,
    config: dict[str, Any] | None = None,
) -> None:
    """Set a job's counters (and, when given, its status, end time and config)."""
    with store.atomic():
        store.execute(
            "UPDATE jobs SET calls = ?, failures = ?, prompt_tokens = ?, completion_tokens = ?, cost_usd = ?, "
            "status = COALESCE(?, status), finished = CASE WHEN ? THEN ? ELSE finished END, "
            "config = COALESCE(?, config) WHERE id = ?",
            [
                calls,
                failures,
                prompt_tokens,
                completion_tokens,
                cost_usd,
                status,
                int(finished),
                now_iso(),
                json.dumps(config, sort_keys=True) if config is not None else None,
                job_id,
            ],
        )


def jobs(store: Store, kind: str | None = None) -> list[dict[str, Any]]:
    """Return jobs, newest first, with their config decoded (read-only)."""
    sql = "SELECT * FROM jobs" + (" WHERE kind = ?" if kind else "") + " ORDER BY id DESC"
    cur = store.execute(sql, [kind] if kind else [])
    cols = [c[0] for c in cur.description]
    out = []
    for r in cur:
        row = dict(zip(cols, r, strict=True))
        row["config"] = json.loads(row["config"]) if row["config"] else {}
        out.append(row)
    return out


def grader_row(store: Store, grader_id: int) -> dict[str, Any] | None:
    """Return one grader row, or None (read-only)."""
    cur = store.execute("SELECT * FROM graders WHERE id = ?", [grader_id])
    row = cur.fetchone()
    return dict(zip([c[0] for c in cur.description], row, strict=True)) if row else None


def generation_contents(store: Store, uids: Sequence[str]) -> dict[str, tuple]:
    """Return uid -> (combination_id, student, round, text) of the stored generations among uids."""
    out: dict[str, tuple] = {}
    for start in range(0, len(uids), 500):
        chunk = list(uids[start : start + 500])
        cur = store.conn.execute(
            "SELECT uid, combination_id, student, round, text FROM generations "
            f"WHERE uid IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        out.update({r[0]: tuple(r[1:]) for r in cur})
    return out
