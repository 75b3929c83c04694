"""SQL that only simulated projects (tests/simulate.py and the benchmarks) need: bulk loads with executemany.

Kept out of the package: a real project grows through the importers and the desk, one checked write at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence


@contextlib.contextmanager
def bulk_loading(store) -> Iterator[None]:
    """Load many verdicts fast: a large page cache and the verdict indexes rebuilt once at the end.

    Runs inside one transaction; on error the indexes come back with the rollback.
    """
    store.conn.execute("PRAGMA cache_size = -262144")  # 256 MB while loading
    with store.atomic():
        store.conn.execute("DROP INDEX IF EXISTS verdicts_identity")
        store.conn.execute("DROP INDEX IF EXISTS verdicts_generation")
        store.conn.execute("DROP INDEX IF EXISTS verdicts_identity_current")
        yield
        store.conn.execute(
            "CREATE INDEX verdicts_identity ON verdicts(grader_id, generation_id, criterion, run, id)"
        )
        store.conn.execute("CREATE INDEX verdicts_generation ON verdicts(generation_id)")
        store.conn.execute(
            "CREATE INDEX verdicts_identity_current ON verdicts"
            "(grader_id, generation_id, criterion, run, id, value, status)"  # as migration 031
        )


# -- bulk writes (simulated projects) -------------------------------------------------------------
def bulk_insert_combinations(store, rows: Sequence[tuple[int, int, int, Sequence[int]]]) -> None:
    """Insert combinations (id, k, topic_id, skill_ids) and their skill links with executemany."""
    store.conn.executemany(
        "INSERT INTO combinations(id, k, topic_id, skill_key, seed) VALUES (?, ?, ?, ?, NULL)",
        ((cid, k, tid, ",".join(str(s) for s in sorted(sk))) for cid, k, tid, sk in rows),
    )
    store.conn.executemany(
        "INSERT INTO combination_skills(combination_id, position, skill_id) VALUES (?, ?, ?)",
        ((cid, pos, sid) for cid, _k, _t, sk in rows for pos, sid in enumerate(sk)),
    )


def bulk_insert_generations(store, rows: Iterable[tuple]) -> None:
    """Insert generations (id, uid, combination_id, student, round, text, created) with executemany."""
    store.conn.executemany(
        "INSERT INTO generations(id, uid, combination_id, student, round, text, source, created) "
        "VALUES (?, ?, ?, ?, ?, ?, 'simulated', ?)",
        rows,
    )


def bulk_insert_checks(store, rows: Iterable[tuple[int, int, int, str]]) -> None:
    """Insert cached checks (generation_id, n_sentences, n_sentences_ref, named_skills JSON)."""
    store.conn.executemany("INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?)", rows)


def bulk_insert_verdicts(store, rows: Iterable[tuple]) -> None:
    """Insert verdicts (grader_id, generation_id, criterion, run, value, status, created) with executemany."""
    store.conn.executemany(
        "INSERT INTO verdicts(grader_id, generation_id, criterion, run, value, raw_value, status, created) "
        "VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?)",
        ((g, gen, c, r, v, v, s, t) for g, gen, c, r, v, s, t in rows),
    )


def bulk_insert_reviews(store, rows: Iterable[tuple[int, int, str, str]]) -> None:
    """Insert reviews (grader_id, generation_id, action, created) with executemany."""
    store.conn.executemany(
        "INSERT INTO reviews(grader_id, generation_id, action, created) VALUES (?, ?, ?, ?)", rows
    )
