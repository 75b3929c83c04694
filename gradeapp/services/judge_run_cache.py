"""The packed judge-run cache: each judge's current verdicts packed per generation in the project.

A load of the audit reads only the generations whose verdicts changed since the last one
(core/judge_cells.py packs and scores the runs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np

from gradeapp.core.judge_cells import (
    CELL,
    FIXED_CODES,
    LOCAL_BASE,
    SKILL_BASE,
    UNKNOWN_CODE,
    cells_from_rows,
    code_names,
    unpack,
)
from gradeapp.core.rubric import SKILL_PREFIX
from gradeapp.db import audit_store

RUN_CHUNK = 50_000  # generations per read of a judge's rows when its cache is built


EXOTIC = b"\xff"  # a cached generation with a criterion the catalog does not know: read its rows each time


Progress = Callable[[float, str], None]


def _no_progress(_done: float, _what: str) -> None:
    return None


def packed_judge_runs(
    store, grader_id: int, progress: Progress | None = None, generation_ids: Sequence[int] | None = None
):
    """Return (generation_id per packed run, packed runs, code -> criterion) of a judge's current verdicts
    (on generation_ids only, when given).

    The packed runs are cached per generation in the project (table judge_cells, named after the packed dtype of core/judge_cells.py); the cache is brought up
    to date from the verdicts added since (verdicts are append-only, so a newer row is all that can change
    a generation) and rebuilt whole when the current-verdict rule or the catalog's skill ids change. A
    project that cannot be written (read-only) gets the same packed runs, computed for this load only.
    """
    progress = progress or _no_progress
    skills = audit_store.skill_names_by_id(store)
    signature = audit_store.current_rule() + " | skills " + _skills_signature(skills)
    state = audit_store.cell_cache_state(store, grader_id)
    top = audit_store.max_verdict_id(store)
    fresh: dict[int, bytes] = {}
    rebuild = state is None or state[1] != signature
    if rebuild:
        lo, hi = audit_store.judged_generation_range(store, grader_id)
        for start in range(lo, hi + 1, RUN_CHUNK):
            progress(0.15 + 0.6 * (start - lo) / max(1, hi + 1 - lo), "judge verdicts")
            packed = audit_store.packed_judge_rows(store, grader_id, lo=start, hi=start + RUN_CHUNK - 1)
            fresh.update(_blobs(packed))
    elif top > state[0]:
        changed = audit_store.generations_changed_since(store, grader_id, state[0])
        for i in range(0, len(changed), RUN_CHUNK):
            part = changed[i : i + RUN_CHUNK]
            packed = audit_store.packed_judge_rows(store, grader_id, generation_ids=part)
            blobs = _blobs(packed)
            fresh.update({int(g): blobs.get(int(g), b"") for g in part})
    cached_ids: list[int] = []
    cached: list[bytes] = []
    stale = rebuild or top > (state[0] if state else -1)
    # not kept (read-only, or locked past the limit): this load uses its packed runs without keeping them
    if stale and audit_store.write_cells(store, grader_id, fresh.items(), top, signature, rebuild=rebuild):
        fresh = {}
    progress(0.8, "judge cells")
    if not rebuild or not fresh:
        cached_ids, cached = audit_store.read_cells(store, grader_id, generation_ids)
    if fresh and generation_ids is not None:
        wanted = set(np.asarray(generation_ids, dtype=np.int64).tolist())
        fresh = {g: b for g, b in fresh.items() if g in wanted}
    if fresh:  # not stored: they replace the cached ones
        keep = [i for i, g in enumerate(cached_ids) if g not in fresh]
        cached_ids = [cached_ids[i] for i in keep] + list(fresh)
        cached = [cached[i] for i in keep] + list(fresh.values())
        order = np.argsort(np.asarray(cached_ids, dtype=np.int64), kind="stable")
        cached_ids = [cached_ids[i] for i in order]
        cached = [cached[i] for i in order]
    return _decode(store, grader_id, cached_ids, cached, skills)


def _skills_signature(skills: dict[int, str]) -> str:
    import hashlib

    digest = hashlib.sha256(json.dumps(sorted(skills.items())).encode()).hexdigest()[:16]
    return f"{len(skills)} {digest}"


def _blobs(packed: np.ndarray) -> dict[int, bytes]:
    """Return generation_id -> packed cells from a judge's packed rows (EXOTIC for unknown criteria)."""
    gen, code, run, value, retracted = unpack(packed)
    exotic = set(np.unique(gen[code == UNKNOWN_CODE]).tolist())
    cell_gen, cells = cells_from_rows(gen, code, run, value, retracted)
    out: dict[int, bytes] = {}
    if len(cell_gen):
        bounds = np.flatnonzero(np.r_[True, cell_gen[1:] != cell_gen[:-1], True])
        raw = cells.tobytes()
        size = CELL.itemsize
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            out[int(cell_gen[a])] = raw[a * size : b * size]
    for g in np.unique(gen).tolist():
        out.setdefault(int(g), b"")
    for g in exotic:
        out[int(g)] = EXOTIC
    return out


def _decode(store, grader_id: int, ids: list[int], blobs: list[bytes], skills: dict[int, str]):
    """Return (generation_id per cell, cells, code -> criterion) from cached blobs; exotic ones read live."""
    lengths = np.fromiter((len(b) for b in blobs), np.int64, len(blobs))
    gids = np.asarray(ids, dtype=np.int64)
    exotic = lengths == len(EXOTIC)
    normal = ~exotic
    buf = b"".join(b for b, e in zip(blobs, exotic, strict=True) if not e)
    cells = np.frombuffer(buf, dtype=CELL)
    cell_gen = np.repeat(gids[normal], lengths[normal] // CELL.itemsize)
    local: dict[str, int] = {}
    if exotic.any():
        rows = audit_store.unknown_criterion_rows(store, grader_id, gids[exotic].tolist())
        known = {SKILL_PREFIX + n: SKILL_BASE + i for i, n in skills.items()} | FIXED_CODES
        codes = []
        for _g, crit, *_ in rows:
            code = known.get(crit)
            if code is None:
                code = local.setdefault(crit, LOCAL_BASE + len(local))
            codes.append(code)
        arr = np.array([(r[0], r[2], r[3], r[4]) for r in rows], dtype=np.int64).reshape(-1, 4)
        eg, ec = cells_from_rows(arr[:, 0], np.asarray(codes, np.int64), arr[:, 1], arr[:, 2], arr[:, 3])
        cell_gen = np.concatenate([cell_gen, eg])
        cells = np.concatenate([cells, ec])
        order = np.argsort(cell_gen, kind="stable")
        cell_gen, cells = cell_gen[order], cells[order]
    return cell_gen, cells, code_names(skills, local)
