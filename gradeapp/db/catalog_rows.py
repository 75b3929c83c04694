"""The project's catalog: skills, topics, students and the combinations of k skills and a topic."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas loads on use: the desk starts without it
    import pandas as pd


class CatalogRows:
    """The catalog's reads and writes of a Store (mixed into gradeapp.db.store.Store)."""

    conn: sqlite3.Connection

    # -- catalog ---------------------------------------------------------------------------------
    def upsert_skills(self, rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Insert or update skills by name; return (added, updated)."""
        added = updated = 0
        for row in rows:
            existing = self.conn.execute("SELECT id FROM skills WHERE name = ?", [row["name"]]).fetchone()
            values = [
                row.get("category") or "",
                row.get("definition") or "",
                row.get("example") or "",
                1 if row.get("common") else 0,
                row.get("frequency"),
                row.get("status") or "",
            ]
            if existing:
                cur = self.conn.execute(
                    "UPDATE skills SET category=?, definition=?, example=?, common=?, frequency=?, status=? "
                    "WHERE id=? AND (category, definition, example, common, IFNULL(frequency, -1), status) "
                    "IS NOT (?, ?, ?, ?, IFNULL(?, -1), ?)",
                    [*values, existing[0], *values],
                )
                updated += cur.rowcount
            else:
                self.conn.execute(
                    "INSERT INTO skills(name, category, definition, example, common, frequency, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [row["name"], *values],
                )
                added += 1
        self._skill_ids = None
        return added, updated

    def set_skills_common(self, names: Iterable[str], common: bool = True) -> None:
        """Set or clear the common-skill flag of the named skills."""
        self.conn.executemany(
            "UPDATE skills SET common = ? WHERE name = ?", [(int(common), n) for n in names]
        )

    def add_topics(self, names: Iterable[str]) -> int:
        """Add topics that are not there yet; return how many were added."""
        added = 0
        for name in names:
            cur = self.conn.execute("INSERT OR IGNORE INTO topics(name) VALUES (?)", [name])
            added += cur.rowcount
        self._topic_ids = None
        return added

    def set_student(self, name: str, params_b: float | None = None, notes: str | None = None) -> None:
        """Record a student model and, when known, its parameter count in billions."""
        self.conn.execute(
            "INSERT INTO students(name, params_b, notes) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
            "params_b = COALESCE(excluded.params_b, params_b), notes = COALESCE(excluded.notes, notes)",
            [name, params_b, notes],
        )

    def students(self) -> pd.DataFrame:
        """Return every student model with generations or a record, and its parameter count."""
        import pandas as pd

        return pd.read_sql_query(
            "SELECT s.name, st.params_b FROM (SELECT DISTINCT student AS name FROM generations "
            "UNION SELECT name FROM students) s LEFT JOIN students st ON st.name = s.name ORDER BY s.name",
            self.conn,
        )

    def skills(self) -> list[dict[str, Any]]:
        """Return all skills as dicts, in id order (read-only)."""
        cur = self.conn.execute(
            "SELECT id, name, category, definition, example, common, frequency, status FROM skills ORDER BY id"
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def topics(self) -> list[str]:
        """Return all topic names in id order (read-only)."""
        return [r[0] for r in self.conn.execute("SELECT name FROM topics ORDER BY id")]

    def skill_ids(self) -> dict[str, int]:
        """Return skill name -> id (cached until the next catalog write)."""
        if self._skill_ids is None:
            self._skill_ids = dict(self.conn.execute("SELECT name, id FROM skills").fetchall())
        return self._skill_ids

    def topic_ids(self) -> dict[str, int]:
        """Return topic name -> id (cached until the next catalog write)."""
        if self._topic_ids is None:
            self._topic_ids = dict(self.conn.execute("SELECT name, id FROM topics").fetchall())
        return self._topic_ids

    # -- combinations ----------------------------------------------------------------------------
    def combination_id(self, skill_ids: Sequence[int], topic_id: int, seed: int | None = None) -> int:
        """Return the id of the combination of these skills and topic, creating it if new."""
        key = ",".join(str(i) for i in sorted(skill_ids))
        row = self.conn.execute(
            "SELECT id FROM combinations WHERE topic_id = ? AND skill_key = ?", [topic_id, key]
        ).fetchone()
        if row:
            return row[0]
        cur = self.conn.execute(
            "INSERT INTO combinations(k, topic_id, skill_key, seed) VALUES (?, ?, ?, ?)",
            [len(skill_ids), topic_id, key, seed],
        )
        cid = cur.lastrowid
        self.conn.executemany(
            "INSERT INTO combination_skills(combination_id, position, skill_id) VALUES (?, ?, ?)",
            [(cid, pos, sid) for pos, sid in enumerate(skill_ids)],
        )
        return cid

    def combination(self, combination_id: int) -> dict[str, Any]:
        """Return a combination with its topic and its skills (name, definition, example...)."""
        k, topic, seed = self.conn.execute(
            "SELECT c.k, t.name, c.seed FROM combinations c JOIN topics t ON t.id = c.topic_id WHERE c.id = ?",
            [combination_id],
        ).fetchone()
        cur = self.conn.execute(
            "SELECT s.id, s.name, s.category, s.definition, s.example, s.common FROM combination_skills cs "
            "JOIN skills s ON s.id = cs.skill_id WHERE cs.combination_id = ? ORDER BY cs.position",
            [combination_id],
        )
        cols = [c[0] for c in cur.description]
        skills = [dict(zip(cols, r, strict=True)) for r in cur]
        return {"id": combination_id, "k": k, "topic": topic, "seed": seed, "skills": skills}

    def combinations_df(self) -> pd.DataFrame:
        """Return one row per combination: id, k, topic, seed, skills (list of names), has_common."""
        import pandas as pd

        combos = pd.read_sql_query(
            "SELECT c.id, c.k, t.name AS topic, c.seed FROM combinations c JOIN topics t ON t.id = c.topic_id",
            self.conn,
        )
        links = pd.read_sql_query(
            "SELECT cs.combination_id AS id, cs.position, s.name, s.common FROM combination_skills cs "
            "JOIN skills s ON s.id = cs.skill_id ORDER BY cs.combination_id, cs.position",
            self.conn,
        )
        grouped = links.groupby("id")
        combos["skills"] = combos["id"].map(grouped["name"].apply(list))
        combos["has_common"] = combos["id"].map(grouped["common"].max()).fillna(0).astype(bool)
        return combos
