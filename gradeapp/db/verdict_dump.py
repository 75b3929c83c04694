"""Dump verdict rows as Arrow record batches from a child process that opens the project only with ADBC.

The verdict export reads every row of every grader (18 million at a million generations). Python's sqlite3
makes a Python object per cell; the ADBC SQLite driver fills Arrow arrays in C, about twice as fast end to
end. It links its own SQLite library, and two SQLite libraries in one process break each other's POSIX
locks (closing one's file descriptor drops the other's locks). So the ADBC connection lives in a short
child process of its own: run as a script (`python verdict_dump.py PROJECT`), it reads the query
(dump_sql) and the jobs (grader_id, lo, hi) as JSON on stdin and writes, per job and in job order, exactly one record batch of
DUMP_SCHEMA to stdout (an Arrow IPC stream), the rows of that grader on generations lo..hi in identity +
rule order (audit_store.IDENTITY, audit_store.CURRENT_ORDER). The child imports nothing of gradeapp, so it
starts in a fraction of a second; the parent (services/export.py) keeps its own sqlite3 connection.
"""

from __future__ import annotations

import json
import sys

# (column, SQL type): every column is CAST, so that each has one type in every row.
DUMP_COLUMNS = (
    ("id", "INTEGER"), ("generation_id", "INTEGER"), ("criterion", "TEXT"), ("run", "INTEGER"),
    ("value", "INTEGER"), ("status", "TEXT"), ("raw_value", "TEXT"), ("reason", "TEXT"), ("note", "TEXT"),
    ("seconds", "REAL"), ("post_reveal", "INTEGER"), ("guideline_version", "INTEGER"), ("created", "TEXT"),
    ("reply_id", "INTEGER"), ("match_method", "TEXT"),
)  # fmt: skip
_SENTINEL = {"INTEGER": "0", "TEXT": "''", "REAL": "0.0"}


def dump_sql(order: tuple[str, ...]) -> str:
    """Return the query of one job: a typed sentinel row first, then the grader's rows in order (columns).

    The ADBC driver infers each column's type from the values of its first batch; a column that starts
    with NULLs would be read as int64 and fail on a later text. The sentinel row (flag 0) fixes the types
    and is dropped. No INDEXED BY: the planner takes the identity index that matches the rule's order
    (verdicts_identity for insertion order), so no chunk is sorted.
    """
    sentinel = ", ".join(f"{_SENTINEL[t]} AS {c}" for c, t in DUMP_COLUMNS)
    cast = ", ".join(f"CAST(v.{c} AS {t}) AS {c}" for c, t in DUMP_COLUMNS)
    return (
        f"SELECT 0 AS dump_flag, {sentinel} UNION ALL SELECT * FROM (SELECT 1 AS dump_flag, {cast} "
        "FROM verdicts v "
        "WHERE v.grader_id = ? AND v.generation_id BETWEEN ? AND ? "
        f"ORDER BY {', '.join('v.' + c for c in order)})"
    )


def dump_schema():
    """Return the Arrow schema of the dumped batches."""
    import pyarrow as pa

    types = {"INTEGER": pa.int64(), "TEXT": pa.string(), "REAL": pa.float64()}
    return pa.schema([(c, types[t]) for c, t in DUMP_COLUMNS])


def bind(sql: str, grader_id: int, lo: int, hi: int) -> str:
    """Return the query of one job with its three integers written in (the driver's own API binds no values)."""
    parts = sql.split("?")
    if len(parts) != 4:
        raise SystemExit("verdict_dump: the query must have exactly three parameters")
    values = (int(grader_id), int(lo), int(hi))  # integers only: nothing else can reach the text
    return "".join(part + (str(values[i]) if i < 3 else "") for i, part in enumerate(parts))


def main(argv: list[str]) -> int:
    """Run the dump for the project argv[1] with the jobs read from stdin (see the module docstring)."""
    from pathlib import Path

    # The driver's own API, not its DB-API module: that one imports pandas and pyarrow.dataset (half a
    # second and 60 MB of every reader's start-up).
    import adbc_driver_manager
    import adbc_driver_sqlite
    import pyarrow as pa

    request = json.load(sys.stdin)
    sql, jobs = request["sql"], request["jobs"]
    schema = dump_schema()
    uri = Path(argv[1]).resolve().as_uri() + (
        "?mode=ro&immutable=1" if request.get("immutable") else "?mode=ro"
    )
    with (
        adbc_driver_sqlite.connect(uri) as db,
        adbc_driver_manager.AdbcConnection(db) as conn,
        pa.ipc.new_stream(sys.stdout.buffer, schema) as out,
    ):
        for grader_id, lo, hi in jobs:
            with adbc_driver_manager.AdbcStatement(conn) as statement:
                statement.set_sql_query(bind(sql, grader_id, lo, hi))
                stream, _rows = statement.execute_query()
                table = pa.RecordBatchReader.from_stream(stream).read_all()
            flag = table.column("dump_flag").to_numpy()
            if len(flag) == 0 or flag[0] != 0 or (flag[1:] != 1).any():
                raise SystemExit("verdict_dump: the typed first row did not come first")
            table = table.slice(1).drop_columns(["dump_flag"]).cast(schema).combine_chunks()
            batches = table.to_batches()
            out.write_batch(batches[0] if batches else pa.RecordBatch.from_pylist([], schema=schema))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
