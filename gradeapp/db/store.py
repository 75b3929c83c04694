"""The project store: every read and write of the project's tables goes through here."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradeapp.db.catalog_rows import CatalogRows
from gradeapp.db.connection import begin_immediate, check_identity, now_iso
from gradeapp.db.generation_rows import GENERATION_COLUMNS, GenerationRows
from gradeapp.db.migrations import canonical_names
from gradeapp.db.verdict_rows import VERDICT_COLUMNS, VerdictRows, grader_key

if TYPE_CHECKING:  # pandas and sqlite-utils load on use: the desk starts without them
    from sqlite_utils import Database


class Store(CatalogRows, GenerationRows, VerdictRows):
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
        # the file identity when opened (db/project.py): a write finding another one was restored over
        self.identity: str | None = None
        self.notice: str | None = None  # what a person must know about what this store shows
        self.closed = False

    @functools.cached_property
    def db(self) -> Database:
        """Return a sqlite-utils Database on the same connection (loads sqlite-utils on first use)."""
        from sqlite_utils import Database

        return Database(self.conn)

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (checkpointing the WAL); closing a closed store does nothing."""
        if self.closed:
            return
        self.closed = True
        # optimize only after writes: on an unchanged file it may still write statistics, which would
        # change a file that a reading command must leave as it was (and defeat the backup's marker)
        if not self.readonly and self.conn.total_changes:
            with contextlib.suppress(Exception):
                self.conn.execute("PRAGMA optimize")
        try:
            # what this process wrote is still in the file (not restored over since it opened it)
            if self.identity is not None and self.conn.total_changes:
                with contextlib.suppress(sqlite3.Error):
                    check_identity(self.conn, self.identity, self.path)
        finally:
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
                    if self.identity is not None:
                        check_identity(conn, self.identity, self.path)
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
        """Run one SQL statement and return its cursor (tests and scripts inspect a project with it).

        The package's own SQL lives in gradeapp/db: a named function or method per query.
        """
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


__all__ = ["GENERATION_COLUMNS", "VERDICT_COLUMNS", "Store", "grader_key"]
