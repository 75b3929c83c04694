"""SQL of the exports: the graders, the verdict rows streamed to Arrow, the uids and texts they name."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence

import pandas as pd

from gradeapp.db import verdict_dump
from gradeapp.db.audit_store import (
    CURRENT_ORDER,
    IDENTITY,
    SUBMITTED_SQL,
    judged_generation_range,
    parse_ints,
)
from gradeapp.db.connection import on_readonly_medium
from gradeapp.errors import GradeappError


def export_graders(store) -> pd.DataFrame:
    """Return every grader in the verdict export's order (kind, then id) with its configuration."""
    return pd.read_sql_query(
        "SELECT id, kind, name AS grader, model, endpoint_host, prompt_version, prompt_hash, temperature, "
        "max_tokens FROM graders ORDER BY kind, id",
        store.conn,
    )


def grader_generation_range(store, grader_id: int) -> tuple[int, int]:
    """Return the lowest and highest generation id a grader has a verdict on ((0, -1) when none)."""
    return judged_generation_range(store, grader_id)


def dump_verdict_rows(store, jobs: Sequence[tuple[int, int, int]], readers: int = 1) -> Iterator:
    """Yield, per job (grader_id, lo, hi), one Arrow record batch of every verdict row of that grader on
    generations lo..hi (verdict_dump.DUMP_COLUMNS) in identity + rule order, read by child processes.

    All rows, not only the current ones: within an identity the last row counts (see CURRENT_ORDER), so the
    caller keeps the current rows with array operations. See db/verdict_dump.py for why a child. The reading
    is CPU-bound in SQLite: readers children (two use both cores) take the jobs in turn.
    """
    import pyarrow as pa  # deferred: only the export needs Arrow

    if not jobs:
        return
    sql = verdict_dump.dump_sql((*IDENTITY[1:], *CURRENT_ORDER))
    # on a read-only medium a WAL file cannot get its -shm: read it as it is (nobody can write it)
    immutable = on_readonly_medium(store.path)
    readers = max(1, min(readers, len(jobs)))
    with contextlib.ExitStack() as stack:
        children = [
            stack.enter_context(
                subprocess.Popen(
                    [sys.executable, verdict_dump.__file__, str(store.path)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )
            for _ in range(readers)
        ]
        done = False
        try:
            for k, child in enumerate(children):
                request = {"sql": sql, "jobs": jobs[k::readers], "immutable": immutable}
                child.stdin.write(json.dumps(request).encode())
                child.stdin.close()
            streams = [pa.ipc.open_stream(child.stdout) for child in children]
            for i in range(len(jobs)):
                yield streams[i % readers].read_next_batch()
            done = True
        except (pa.ArrowInvalid, StopIteration, OSError):
            pass  # a child failed: its own message is on its stderr
        finally:
            if not done:
                for child in children:
                    child.kill()  # also when the caller stops early (then no error is raised)
        whys = [child.stderr.read().decode(errors="replace").strip().splitlines() for child in children]
        if any(child.wait() != 0 for child in children) or not done:
            why = next((lines[-1] for lines in whys if lines), "no output")
            raise GradeappError(f"{store.path}: the verdict export's reader failed ({why})")


def submitted_generations(store, grader_id: int) -> set[int]:
    """Return the generations whose latest submit/unsubmit event by this person is a submit."""
    return {
        r[0]
        for r in store.conn.execute(
            f"SELECT generation_id FROM ({SUBMITTED_SQL}) WHERE grader_id = ?", [grader_id]
        )
    }


def reply_texts(store, reply_ids: Sequence[int]) -> dict[int, str]:
    """Return reply id -> raw reply text of some replies."""
    return dict(
        store.conn.execute(
            "SELECT id, raw FROM replies WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps([int(i) for i in reply_ids])],
        )
    )


def generation_uids(store):
    """Return the ids (a numpy array) and uids (an Arrow array, same order) of every generation, by id.

    Read as two packed texts that Arrow splits: a million uids never become a million Python strings (the
    export reads them beside the loaded statistics, within their memory bound).
    """
    import numpy as np
    import pyarrow as pa  # deferred: only the export needs Arrow
    import pyarrow.compute as pc

    ids_text = store.conn.execute(
        "SELECT group_concat(id) FROM (SELECT id FROM generations ORDER BY id)"
    ).fetchone()[0]
    ids = parse_ints(ids_text) if ids_text else np.zeros(0, np.int64)
    uid_text = store.conn.execute(
        "SELECT group_concat(uid, char(31)) FROM (SELECT uid FROM generations ORDER BY id)"
    ).fetchone()[0]
    if not uid_text:
        return ids, pa.array([""] * len(ids), pa.large_string())
    uids = pc.split_pattern(pa.array([uid_text], pa.large_string()), "\x1f").flatten()
    if len(uids) != len(ids):  # a uid holding the separator: read them one by one
        rows = store.conn.execute("SELECT uid FROM generations ORDER BY id")
        uids = pa.array([r[0] for r in rows], pa.large_string())
    return ids, uids
