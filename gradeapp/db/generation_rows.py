"""Generations (the texts to grade) and the cache of their deterministic checks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas loads on use: the desk starts without it
    import pandas as pd


GENERATION_COLUMNS = (
    "uid",
    "combination_id",
    "student",
    "round",
    "prompt",
    "raw_reply",
    "text",
    "source",
    "meta",
    "created",
)


class GenerationRows:
    """The generations' reads and writes of a Store (mixed into gradeapp.db.store.Store)."""

    conn: sqlite3.Connection

    # -- generations -----------------------------------------------------------------------------
    def insert_generations(self, rows: Iterable[Sequence[Any]]) -> int:
        """Insert generation tuples (GENERATION_COLUMNS order), skipping known uids; return how many were added."""
        before = self.conn.total_changes
        self.conn.executemany(
            f"INSERT OR IGNORE INTO generations({', '.join(GENERATION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(GENERATION_COLUMNS))})",
            rows,
        )
        return self.conn.total_changes - before

    def generation_id(self, uid: str) -> int | None:
        """Return the id of the generation with this uid, or None (read-only)."""
        row = self.conn.execute("SELECT id FROM generations WHERE uid = ?", [uid]).fetchone()
        return row[0] if row else None

    def generation(self, generation_id: int) -> dict[str, Any]:
        """Return a generation with its combination (k, topic, skills with definitions)."""
        cur = self.conn.execute("SELECT * FROM generations WHERE id = ?", [generation_id])
        cols = [c[0] for c in cur.description]
        row = cur.fetchone()
        if row is None:
            raise KeyError(generation_id)
        gen = dict(zip(cols, row, strict=True))
        gen["meta"] = json.loads(gen["meta"]) if gen["meta"] else {}
        combo = self.combination(gen["combination_id"])
        gen.update(k=combo["k"], topic=combo["topic"], skills=combo["skills"])
        return gen

    def generations_df(self) -> pd.DataFrame:
        """Return one row per generation: id, uid, student, round, combination_id, k, topic (no texts)."""
        import pandas as pd

        return pd.read_sql_query(
            "SELECT g.id, g.uid, g.student, g.round, g.combination_id, c.k, t.name AS topic "
            "FROM generations g JOIN combinations c ON c.id = g.combination_id JOIN topics t ON t.id = c.topic_id",
            self.conn,
        )

    # -- deterministic checks cache --------------------------------------------------------------
    def generations_without_checks(self, limit: int | None = None) -> list[tuple[int, str, int, str]]:
        """Return (id, text, k, combination_id) of generations whose checks are not cached yet."""
        sql = (
            "SELECT g.id, g.text, c.k, g.combination_id FROM generations g "
            "JOIN combinations c ON c.id = g.combination_id "
            "WHERE NOT EXISTS (SELECT 1 FROM checks WHERE generation_id = g.id) ORDER BY g.id"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.conn.execute(sql).fetchall()

    def save_checks(self, rows: Iterable[tuple[int, int, int, str]]) -> None:
        """Cache (generation_id, n_sentences, n_sentences_ref, named_skills_json) rows.

        A read-only project caches them in a TEMP table of the same name, which shadows the file's
        table for this connection only: reading a project never writes to it.
        """
        if self.readonly and not self._temp_checks:
            self.conn.execute("CREATE TEMP TABLE checks AS SELECT * FROM main.checks")
            self.conn.execute("CREATE UNIQUE INDEX temp.checks_generation ON checks(generation_id)")
            self._temp_checks = True
        self.conn.executemany("INSERT OR REPLACE INTO checks VALUES (?, ?, ?, ?)", rows)

    def checks_df(self) -> pd.DataFrame:
        """Return the cached checks: generation_id, n_sentences, n_sentences_ref, named_skills (JSON)."""
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM checks", self.conn)
