"""Graders, the judges' replies, verdicts and the people's review events."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gradeapp.db.connection import now_iso

if TYPE_CHECKING:  # pandas loads on use: the desk starts without it
    import pandas as pd


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


class VerdictRows:
    """The graders' and verdicts' reads and writes of a Store (mixed into gradeapp.db.store.Store)."""

    conn: sqlite3.Connection

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
