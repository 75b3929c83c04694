"""The project store: every read and write of the project's tables goes through here."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradeapp.db.connection import begin_immediate, now_iso
from gradeapp.db.migrations import canonical_names

if TYPE_CHECKING:  # pandas and sqlite-utils load on use: the desk starts without them
    import pandas as pd
    from sqlite_utils import Database

VERDICT_COLUMNS = (
    "grader_id",
    "generation_id",
    "criterion",
    "run",
    "value",
    "raw_value",
    "status",
    "reply_id",
    "reason",
    "note",
    "seconds",
    "post_reveal",
    "guideline_version",
    "created",
    "match_method",
)

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


def grader_key(kind: str, name: str, **config: Any) -> str:
    """Return the identity of a grader: a person by name, a judge by its whole configuration."""
    if kind != "judge":
        return f"{kind}:{name}"
    parts = [
        config.get("model") or name,
        config.get("endpoint_host") or "",
        config.get("prompt_version") or "",
        config.get("prompt_hash") or "",
        "" if config.get("temperature") is None else f"t={config['temperature']:g}",
        "" if config.get("max_tokens") is None else f"mt={config['max_tokens']}",
    ]
    return "judge:" + "|".join(parts)


class Store:
    """A project file opened for reading and writing, or read-only (see gradeapp.db.open_project).

    on_wait receives the one-line notice when a write waits for another program's lock; a patient
    store (a long job: judge, generate, import, merge) keeps waiting past the limit rather than
    losing its work.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self.on_wait: Callable[[str], None] | None = None
        self.patient = False
        self._temp_checks = False
        self._skill_ids: dict[str, int] | None = None
        self._topic_ids: dict[str, int] | None = None
        self._savepoints = itertools.count()

    @functools.cached_property
    def db(self) -> Database:
        """Return a sqlite-utils Database on the same connection (loads sqlite-utils on first use)."""
        from sqlite_utils import Database

        return Database(self.conn)

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        # optimize only after writes: on an unchanged file it may still write statistics, which would
        # change a file that a reading command must leave as it was (and defeat the backup's marker)
        if not self.readonly and self.conn.total_changes:
            with contextlib.suppress(Exception):
                self.conn.execute("PRAGMA optimize")
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Store]:
        """Run the block in one transaction (a savepoint when nested); roll back on error.

        The same contract as sqlite-utils' Database.atomic(), written out so that opening a project
        and grading never load sqlite-utils (and, through it, pandas).
        """
        conn = self.conn
        try:
            if conn.in_transaction:
                name = f"gradeapp_{next(self._savepoints)}"
                conn.execute(f"SAVEPOINT {name}")
                try:
                    yield self
                except BaseException:
                    # an error such as a failed COMMIT may already have ended the transaction
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                        conn.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                conn.execute(f"RELEASE SAVEPOINT {name}")
            else:
                # IMMEDIATE takes the write lock up front: a busy project is waited for here (with a
                # notice), never half-way through the block where a deferred BEGIN would fail at once.
                if self.readonly:
                    conn.execute("BEGIN")
                else:
                    begin_immediate(conn, self.on_wait, self.patient)
                try:
                    yield self
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        finally:
            self._skill_ids = None
            self._topic_ids = None

    def execute(self, sql: str, params: Sequence[Any] | dict | None = None):
        """Run one SQL statement (read-only use by the core; writes stay in this module)."""
        return self.conn.execute(sql, params or [])

    def integrity_check(self) -> str:
        """Run PRAGMA integrity_check; return 'ok' or the first problem (read-only)."""
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # -- project ---------------------------------------------------------------------------------
    @property
    def project(self) -> dict[str, str]:
        """Return the project's key/value settings (uuid, name, created, demo...)."""
        return dict(self.conn.execute("SELECT key, value FROM project").fetchall())

    @property
    def uuid(self) -> str:
        return self.project["uuid"]

    def set_project_value(self, key: str, value: str) -> None:
        """Set one project setting."""
        self.conn.execute(
            "INSERT INTO project(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def applied_migrations(self) -> list[str]:
        """Return the names of the schema migrations applied to this file (read-only)."""
        rows = self.conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")
        return canonical_names([r[0] for r in rows])

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

    # -- graders ---------------------------------------------------------------------------------
    def grader_id(self, kind: str, name: str, **config: Any) -> int:
        """Return the id of this grader, creating it on first use.

        config: model, endpoint_host, prompt_version, prompt_hash, temperature, max_tokens, extra (dict).
        Never pass secrets: the row is exported as it is.
        """
        key = grader_key(kind, name, **config)
        row = self.conn.execute("SELECT id FROM graders WHERE key = ?", [key]).fetchone()
        if row:
            return row[0]
        with self.atomic():  # waits for a busy project like every write
            return self._insert_grader(key, kind, name, config)

    def _insert_grader(self, key: str, kind: str, name: str, config: dict[str, Any]) -> int:
        cur = self.conn.execute(
            "INSERT INTO graders(key, kind, name, model, endpoint_host, prompt_version, prompt_hash, "
            "temperature, max_tokens, config, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                key,
                kind,
                name,
                config.get("model"),
                config.get("endpoint_host"),
                config.get("prompt_version"),
                config.get("prompt_hash"),
                config.get("temperature"),
                config.get("max_tokens"),
                json.dumps(config["extra"], sort_keys=True) if config.get("extra") else None,
                now_iso(),
            ],
        )
        return cur.lastrowid

    def find_grader_id(self, kind: str, name: str, **config: Any) -> int | None:
        """Return the id of this grader, or None when it has no row yet (read-only)."""
        row = self.conn.execute(
            "SELECT id FROM graders WHERE key = ?", [grader_key(kind, name, **config)]
        ).fetchone()
        return row[0] if row else None

    def graders_df(self) -> pd.DataFrame:
        """Return all graders (read-only)."""
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM graders ORDER BY id", self.conn)

    # -- replies and verdicts --------------------------------------------------------------------
    def add_reply(
        self,
        grader_id: int,
        generation_id: int,
        run: int,
        raw: str,
        parse_status: str,
        request: str | None = None,
        usage: dict | None = None,
    ) -> int:
        """Store a judge's raw reply; one per grader x generation x run. Return its id."""
        cur = self.conn.execute(
            "INSERT INTO replies(grader_id, generation_id, run, request, raw, parse_status, usage, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                grader_id,
                generation_id,
                run,
                request,
                raw,
                parse_status,
                json.dumps(usage) if usage else None,
                now_iso(),
            ],
        )
        return cur.lastrowid

    def reply_id(self, grader_id: int, generation_id: int, run: int) -> int | None:
        """Return the id of the stored reply for grader x generation x run, or None."""
        row = self.conn.execute(
            "SELECT id FROM replies WHERE grader_id = ? AND generation_id = ? AND run = ?",
            [grader_id, generation_id, run],
        ).fetchone()
        return row[0] if row else None

    def add_verdicts(self, rows: Iterable[dict[str, Any]]) -> int:
        """Append verdict rows (dicts with VERDICT_COLUMNS keys; missing ones default). Return the count."""
        before = self.conn.total_changes
        stamp = now_iso()
        self.conn.executemany(
            f"INSERT INTO verdicts({', '.join(VERDICT_COLUMNS)}) VALUES ({', '.join('?' * len(VERDICT_COLUMNS))})",
            (
                (
                    r["grader_id"],
                    r["generation_id"],
                    r["criterion"],
                    r.get("run", 1),
                    r.get("value"),
                    r.get("raw_value"),
                    r.get("status", "ok"),
                    r.get("reply_id"),
                    r.get("reason"),
                    r.get("note"),
                    r.get("seconds"),
                    int(bool(r.get("post_reveal", 0))),
                    r.get("guideline_version"),
                    r.get("created") or stamp,
                    r.get("match_method"),
                )
                for r in rows
            ),
        )
        return self.conn.total_changes - before

    def current_verdict(
        self, grader_id: int, generation_id: int, criterion: str, run: int = 1
    ) -> dict | None:
        """Return the verdict that counts for this grader x generation x criterion x run, or None.

        The last inserted (highest id) counts, as in the current_verdicts view (migration 020).
        """
        cur = self.conn.execute(
            "SELECT * FROM verdicts WHERE grader_id = ? AND generation_id = ? AND criterion = ? AND run = ? "
            "ORDER BY id DESC LIMIT 1",
            [grader_id, generation_id, criterion, run],
        )
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([c[0] for c in cur.description], row, strict=True))
        return None if out["status"] == "retracted" else out

    def current_verdicts_df(self, kind: str | None = None) -> pd.DataFrame:
        """Return the current verdicts joined with grader kind and name (one per identity)."""
        import pandas as pd

        sql = (
            "SELECT v.id, v.grader_id, gr.kind, gr.name AS grader, v.generation_id, v.criterion, v.run, "
            "v.value, v.raw_value, v.status, v.seconds, v.post_reveal, v.guideline_version, v.created "
            "FROM current_verdicts v JOIN graders gr ON gr.id = v.grader_id"
        )
        params: list[Any] = []
        if kind:
            sql += " WHERE gr.kind = ?"
            params.append(kind)
        return pd.read_sql_query(sql, self.conn, params=params)

    def add_review(
        self,
        grader_id: int,
        generation_id: int,
        action: str,
        seconds: float | None = None,
        note: str | None = None,
        created: str | None = None,
    ) -> int:
        """Append an item-level event of a person (submit, unsubmit, flag, unflag, skip, note)."""
        cur = self.conn.execute(
            "INSERT INTO reviews(grader_id, generation_id, action, seconds, note, created) VALUES (?, ?, ?, ?, ?, ?)",
            [grader_id, generation_id, action, seconds, note, created or now_iso()],
        )
        return cur.lastrowid

    # -- imports log -----------------------------------------------------------------------------
    def log_import(self, kind: str, source: str, sha256: str | None, counts: dict[str, int]) -> None:
        """Record what an import added."""
        self.conn.execute(
            "INSERT INTO imports(kind, source, sha256, counts, created) VALUES (?, ?, ?, ?, ?)",
            [kind, source, sha256, json.dumps(counts, sort_keys=True), now_iso()],
        )

    # -- summary ---------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Return the counts scripts rely on (the exact shape of 'gradeapp info --json')."""

        def count(table: str) -> int:
            return self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

        verdicts = {kind: {"1": 0, "0": 0, "unparsed": 0} for kind in ("judge", "human")}
        cur = self.conn.execute(
            "SELECT gr.kind, v.value, COUNT(*) FROM current_verdicts v JOIN graders gr ON gr.id = v.grader_id "
            "WHERE gr.kind IN ('judge', 'human') GROUP BY gr.kind, v.value"
        )
        for kind, value, n in cur:
            verdicts[kind]["unparsed" if value is None else str(value)] += n
        return {
            "skills": count("skills"),
            "topics": count("topics"),
            "combinations": count("combinations"),
            "generations": count("generations"),
            "graders": count("graders"),
            "verdicts": verdicts,
        }
