"""The judge audit's data: audit draws, and one load of judge and human points for the statistics.

A draw is a known random design over the judged pool: uniform (a simple random sample of the pool),
or stratified by student model x k (optionally also by the judge's verdict, to oversample the rarer
verdict). Each drawn generation is stored with its stratum and inclusion probability. Only human
verdicts on the generations of the active draw (the latest, unless named) enter the calibrated
estimates; human verdicts anywhere else count for agreement only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gradeapp.core.evidence_stats import GROUNDING_WEIGHT
from gradeapp.core.judge_cells import (
    CELL,
    FIXED_CODES,
    LOCAL_BASE,
    SKILL_BASE,
    UNKNOWN_CODE,
    JudgeTables,
    cells_from_rows,
    code_names,
    unpack,
)
from gradeapp.core.metrics import METRICS, apply_deterministic, majority_vote, score_generations
from gradeapp.core.results import AuditData
from gradeapp.core.rubric import SKILL_PREFIX
from gradeapp.db import Store, audit_store
from gradeapp.errors import GradeappError
from gradeapp.services import evidence
from gradeapp.services.scores import ensure_checks

DESIGNS = ("uniform", "stratified", "active")
ACTIVE_FLOOR = 0.65  # share of the active draw's expected size spread uniformly over the pool


# -- loading --------------------------------------------------------------------------------------
CELL_CHUNK = 50_000  # generations per read of a judge's rows when its cell cache is built
EXOTIC = b"\xff"  # a cached generation with a criterion the catalog does not know: read its rows each time

Progress = Callable[[float, str], None]


def _no_progress(_done: float, _what: str) -> None:
    return None


def load_audit_data(
    store: Store,
    *,
    judge: str | None = None,
    draw: str | None = None,
    exclude_common: bool = True,
    naming_penalty: bool = True,
    program_sentence_limit: bool = True,
    progress: Progress | None = None,
) -> AuditData:
    """Load judge and human points of a project and score them per generation (caches checks and judge cells).

    The judge's side is computed from its packed cells (core/judge_cells.py), kept up to date in the
    project: a load reads only the generations whose verdicts changed since the last one. The rows of
    the judge per criterion (judge_own_points, judge_points) are kept for the generations people graded,
    the only ones the agreement compares. progress(fraction, what) is called along the way; it may raise
    to cancel.
    """
    progress = progress or _no_progress
    progress(0.0, "checks")
    ensure_checks(store)
    settings = {
        "exclude_common": exclude_common,
        "naming_penalty": naming_penalty,
        "program_sentence_limit": program_sentence_limit,
    }
    gens, common_note = _generations(store, exclude_common)
    judge_id, judge_name, judges_note = _audited_judge(store, judge)
    n_sentences, named, has_checks = _checks(store)
    progress(0.1, "people")
    people = _people(store, gens, n_sentences, named, naming_penalty, program_sentence_limit)
    progress(0.15, "judge")
    tables = _judge_tables(
        store,
        judge_id,
        gens,
        n_sentences,
        named,
        has_checks,
        naming_penalty,
        program_sentence_limit,
        progress,
    )
    judge_gen, values = tables.judge_gen()
    graded = people.hv["generation_id"].unique()
    own, jpts = tables.cell_rows(graded, values)
    tally, run_numbers = tables.run_tally()
    raw_tally, raw_numbers = tables.run_tally(after_rules=False)
    progress(0.9, "audit draw")
    active, items, draw_notes = _active_draw(store, draw, gens, people.human_gen)

    no_vote = int(np.isnan(values).sum()) + int((tables.added_limit & np.isnan(tables.rule_value)).sum())
    exclusions = [
        *common_note,
        *judges_note,
        *missing_notes(tables.unparsed, no_vote, judge_gen, people.human_gen),
        *people.notes,
        *draw_notes,
    ]
    cats = audit_store.skill_categories(store).set_index("criterion")["category"]
    progress(1.0, "loaded")
    return AuditData(
        gens=gens,
        judge_name=judge_name,
        judge_points=jpts,
        judge_own_points=own,
        judge_runs=None,
        judge_gen=judge_gen,
        human_points=people.hv,
        human_consensus=people.hpts,
        human_own_consensus=people.hmaj,
        human_gen=people.human_gen,
        human_gen_by_grader=people.by_grader,
        draw=active,
        audit_items=items,
        students=store.students(),
        categories=cats,
        exclusions=exclusions,
        settings=settings,
        judge_run_tally=tally,
        judge_run_numbers=run_numbers,
        judge_raw_tally=raw_tally,
        judge_raw_numbers=raw_numbers,
    )


def missing_notes(
    unparsed_runs: int, no_vote: int, judge_gen: pd.DataFrame, human_gen: pd.DataFrame
) -> list[dict]:
    """Return the notes on missing points: unparsed runs, judge points without a vote, undecided metrics.

    unparsed_runs: the judge's runs that gave no value; no_vote: the judge's points (after the rules)
    with no parsed run. A missing point is never a fail; a metric it could change is undecided (NaN).
    """
    notes = []
    if unparsed_runs:
        notes.append(
            {
                "what": "judge runs",
                "n": unparsed_runs,
                "why": "unparsed: they do not vote (the majority is over parsed runs; a tie fails)",
            }
        )
    if no_vote:
        notes.append(
            {
                "what": "judge points",
                "n": no_vote,
                "why": "no parsed run and no rule decides them: missing, never a fail",
            }
        )
    for source, frame in (("judge", judge_gen), ("people's", human_gen)):
        if frame is None or frame.empty:
            continue
        for m in METRICS:
            n = int(frame[m].isna().sum())
            if n:
                notes.append(
                    {
                        "what": f"{source} {m}",
                        "n": n,
                        "why": "generations with a missing point that could change this metric: undecided "
                        "(missing), never a fail",
                    }
                )
    return notes


def _generations(store, exclude_common: bool) -> tuple[pd.DataFrame, list[dict]]:
    """Return the generations in the audit (index generation_id) and the note on those left out."""
    gens = audit_store.generations_frame(store)
    gens["has_common"] = gens["combination_id"].isin(audit_store.common_combinations(store))
    notes = []
    if exclude_common and gens["has_common"].any():
        notes.append(
            {
                "what": "generations",
                "n": int(gens["has_common"].sum()),
                "why": "their combination contains a common skill (exclude_common is on)",
            }
        )
        gens = gens[~gens["has_common"]]
    return gens.set_index("id").rename_axis("generation_id"), notes


def _audited_judge(store, judge: str | None) -> tuple[int | None, str | None, list[dict]]:
    """Return the id and name of the judge audited (the one with most verdicts unless named) and a note."""
    judges = audit_store.judge_graders(store)
    if judge is not None:
        judges = judges[(judges["name"] == judge) | (judges["key"] == judge)]
        if judges.empty:
            raise GradeappError(f"no judge named {judge!r} in this project")
    if judges.empty:
        return None, None, []
    name = str(judges.iloc[0]["name"])
    notes = []
    if len(judges) > 1 and judge is None:
        notes.append(
            {
                "what": "judges",
                "n": len(judges) - 1,
                "why": f"only one judge is audited at a time ({name!r}, the one with most verdicts; use --judge)",
            }
        )
    return int(judges.iloc[0]["id"]), name, notes


def _checks(store) -> tuple[pd.Series, set[tuple[int, str]], bool]:
    """Return the program's sentence count per generation, the (generation, skill criterion) pairs whose
    text names the skill, and whether any checks exist."""
    ids, counts, named_json = audit_store.checks_arrays(store)
    n_sentences = pd.Series(counts, index=ids, dtype="float64")
    named = {(int(g), SKILL_PREFIX + s) for g, text in named_json.items() for s in json.loads(text)}
    return n_sentences, named, len(ids) > 0


def _checks_frame(n_sentences: pd.Series, named: set[tuple[int, str]], ids) -> pd.DataFrame:
    """Return the checks of some generations in the frame the pandas rules take (named_skills as lists)."""
    sub = n_sentences[n_sentences.index.isin(ids)]
    names: dict[int, list[str]] = {}
    for g, crit in sorted(named):
        names.setdefault(g, []).append(crit[len(SKILL_PREFIX) :])
    return pd.DataFrame(
        {
            "generation_id": sub.index.to_numpy(),
            "n_sentences": sub.to_numpy(),
            "named_skills": [names.get(int(g), []) for g in sub.index],
        }
    )


def _deterministic(
    points: pd.DataFrame, checks: pd.DataFrame, *, naming_penalty: bool, program_sentence_limit: bool
):
    """Apply the foundation's rules; the naming penalty only sees the checks of texts that name a skill."""
    if checks is None or checks.empty:
        return points.copy()
    pts = apply_deterministic(
        points, checks, naming_penalty=False, program_sentence_limit=program_sentence_limit
    )
    if naming_penalty:
        named = checks[checks["named_skills"].map(len) > 0]
        pts = apply_deterministic(pts, named, naming_penalty=True, program_sentence_limit=False)
    return pts


def _scores(points: pd.DataFrame) -> pd.DataFrame:
    """Score generations with missing points undecided, never failed (as the judge's cells are scored)."""
    return score_generations(points, missing="undecided").set_index("generation_id")


@dataclass
class _People:
    hv: pd.DataFrame
    hmaj: pd.DataFrame
    hpts: pd.DataFrame
    human_gen: pd.DataFrame
    by_grader: pd.DataFrame
    notes: list[dict]


def _people(store, gens, n_sentences, named, naming_penalty: bool, program_sentence_limit: bool) -> _People:
    """Return the people's eligible points, their majority, per-generation scores (also per person)."""
    rules = {"naming_penalty": naming_penalty, "program_sentence_limit": program_sentence_limit}
    kmap = gens["k"]
    # Only submitted items, never a change made after the judge was revealed.
    hv = audit_store.human_points(store)
    hv = hv[hv["generation_id"].isin(gens.index)]
    notes = []
    n_post = int(hv["post_reveal"].eq(1).sum())
    if n_post:
        notes.append({"what": "human verdicts", "n": n_post, "why": "changed after the judge was revealed"})
    n_unsub = int((hv["submitted"].eq(0) & hv["post_reveal"].eq(0)).sum())
    if n_unsub:
        notes.append(
            {"what": "human verdicts", "n": n_unsub, "why": "item not submitted (draft or unsubmitted)"}
        )
    hv = hv[hv["post_reveal"].eq(0) & hv["submitted"].eq(1) & hv["value"].notna()]
    hv = hv[["grader", "generation_id", "criterion", "value"]].reset_index(drop=True)
    checks = _checks_frame(n_sentences, named, hv["generation_id"].unique())

    hmaj = majority_vote(hv)
    hmaj["k"] = hmaj["generation_id"].map(kmap)
    hpts = _deterministic(hmaj, checks, **rules)
    human_gen = _scores(hpts) if not hpts.empty else pd.DataFrame()
    if not human_gen.empty:
        human_gen["n_people"] = hv.groupby("generation_id")["grader"].nunique().reindex(human_gen.index)
    by_grader = pd.DataFrame()
    if not hv.empty:
        # One unit per person x generation, scored like a generation: generation_id * people + person
        # code, unique for any number of people (a fixed 1,024 slots folded person 1,024 into person 0)
        codes, names = pd.factorize(hv["grader"])
        people = len(names)
        gp = hv.assign(generation_id=hv["generation_id"] * people + codes, gid=hv["generation_id"])
        gp["k"] = gp["gid"].map(kmap)
        gchecks = None
        if not checks.empty:
            u = gp[["generation_id", "gid"]].drop_duplicates()
            gchecks = u.merge(checks, left_on="gid", right_on="generation_id", suffixes=("", "_c"))
            gchecks = gchecks.drop(columns=["gid", "generation_id_c"])
        gp = _deterministic(gp[["generation_id", "criterion", "value", "k"]], gchecks, **rules)
        by_grader = _scores(gp).reset_index()
        by_grader["grader"] = names[by_grader["generation_id"] % people]
        by_grader["generation_id"] = by_grader["generation_id"] // people
    return _People(hv, hmaj, hpts, human_gen, by_grader, notes)


def _judge_tables(
    store, judge_id, gens, n_sentences, named, has_checks, naming_penalty, program_sentence_limit, progress
) -> JudgeTables:
    """Return the judge's side computed from its cells (empty when the project has no judge)."""
    if judge_id is None:
        cell_gen, cells, names = np.zeros(0, np.int64), np.zeros(0, CELL), code_names({}, {})
    else:
        cell_gen, cells, names = judge_cells(store, judge_id, progress)
    return JudgeTables(
        cell_gen,
        cells,
        names,
        gens["k"],
        n_sentences,
        named,
        has_checks=has_checks,
        naming_penalty=naming_penalty,
        program_sentence_limit=program_sentence_limit,
    )


def judge_cells(
    store, grader_id: int, progress: Progress | None = None, generation_ids: Sequence[int] | None = None
):
    """Return (generation_id per cell, cells, code -> criterion) of a judge's current verdicts (on
    generation_ids only, when given).

    The packed cells are cached per generation in the project (table judge_cells); the cache is brought up
    to date from the verdicts added since (verdicts are append-only, so a newer row is all that can change
    a generation) and rebuilt whole when the current-verdict rule or the catalog's skill ids change. A
    project that cannot be written (read-only) gets the same cells, computed for this load only.
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
        for start in range(lo, hi + 1, CELL_CHUNK):
            progress(0.15 + 0.6 * (start - lo) / max(1, hi + 1 - lo), "judge verdicts")
            packed = audit_store.packed_judge_rows(store, grader_id, lo=start, hi=start + CELL_CHUNK - 1)
            fresh.update(_blobs(packed))
    elif top > state[0]:
        changed = audit_store.generations_changed_since(store, grader_id, state[0])
        for i in range(0, len(changed), CELL_CHUNK):
            part = changed[i : i + CELL_CHUNK]
            packed = audit_store.packed_judge_rows(store, grader_id, generation_ids=part)
            blobs = _blobs(packed)
            fresh.update({int(g): blobs.get(int(g), b"") for g in part})
    cached_ids: list[int] = []
    cached: list[bytes] = []
    stale = rebuild or top > (state[0] if state else -1)
    # not kept (read-only, or locked past the limit): this load uses its cells without keeping them
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


def _active_draw(store, draw: str | None, gens: pd.DataFrame, human_gen: pd.DataFrame):
    """Return the active audit draw, its items among the audited generations and the notes on coverage."""
    draws = audit_store.audit_draws_df(store)
    active = None
    notes = []
    items = pd.DataFrame(columns=["generation_id", "stratum", "inclusion_prob"])
    if draw is not None:
        draws = draws[draws["name"] == draw]
        if draws.empty:
            raise GradeappError(f"no audit draw named {draw!r} (see 'gradeapp audit list')")
    if not draws.empty:
        d = draws.iloc[-1]
        active = {
            "id": int(d["id"]),
            "name": d["name"],
            "design": d["design"],
            "params": json.loads(d["params"] or "{}"),
        }
        items = audit_store.audit_items_df(store, active["id"])[
            ["generation_id", "stratum", "inclusion_prob"]
        ]
        items = items[items["generation_id"].isin(gens.index)]
        if len(draws) > 1 and draw is None:
            notes.append(
                {
                    "what": "audit draws",
                    "n": len(draws) - 1,
                    "why": f"only the latest draw ({d['name']!r}) is used",
                }
            )
    graded = set(human_gen.index) if not human_gen.empty else set()
    outside = len(graded - set(items["generation_id"]))
    if outside:
        notes.append(
            {
                "what": "human-graded generations",
                "n": outside,
                "why": "not in the audit draw: they count for agreement, never for the calibrated estimate",
            }
        )
    pending = len(set(items["generation_id"]) - graded)
    if pending:
        notes.append(
            {"what": "drawn generations", "n": pending, "why": "not graded (submitted) by a person yet"}
        )
    return active, items, notes


# -- drawing --------------------------------------------------------------------------------------
def active_probabilities(uncertainty: np.ndarray, size: float, floor: float = ACTIVE_FLOOR) -> np.ndarray:
    """Return inclusion probabilities summing to `size` that grow with the judge's uncertainty.

    pi_i = size * ((1 - floor) * u_i / sum(u) + floor / N): a uniform floor, so every generation can be drawn,
    plus a share proportional to u_i (as in active inference, Zrnic & Candes 2024, where the best pi_i grows
    with the expected error of the prediction). Probabilities above 1 are set to 1 and the surplus is spread
    over the others in the same proportions, until none exceeds 1. Without any uncertainty: uniform.
    """
    u = np.clip(np.nan_to_num(np.asarray(uncertainty, dtype=float), nan=1.0), 0.0, None)
    n_pool = len(u)
    size = min(float(size), float(n_pool))
    if n_pool == 0:
        return u
    share = np.full(n_pool, 1.0 / n_pool) if u.sum() == 0 else u / u.sum()
    raw = (1 - floor) * share + floor / n_pool
    pi = np.zeros(n_pool)
    fixed = np.zeros(n_pool, dtype=bool)
    while True:
        left = size - fixed.sum()
        free = ~fixed
        pi[free] = left * raw[free] / raw[free].sum()
        over = free & (pi >= 1.0)
        if not over.any():
            break
        fixed |= over
        pi[fixed] = 1.0
    return np.clip(pi, 0.0, 1.0)


def judge_uncertainty(soft: np.ndarray) -> np.ndarray:
    """Return the judge's uncertainty 2 * sqrt(s (1 - s)) from its soft score s (the share of runs that pass).

    0 when every run says the same, 1 when the runs split evenly: the standard deviation of one run's
    verdict, which is the expected error of the soft score when the runs are exchangeable.
    """
    s = np.clip(np.asarray(soft, dtype=float), 0.0, 1.0)
    return 2.0 * np.sqrt(s * (1.0 - s))


def generation_uncertainty(data: AuditData, metric: str = "full_marks") -> pd.Series:
    """Return per judged generation how split the judge's runs are: the largest 2 sqrt(s (1 - s)) over its
    criteria (s = share of parsed runs passing the point) and the metric's own soft score.

    One uncertain point makes every composite of the generation uncertain, hence the maximum.
    """
    jg = data.judge_gen
    soft = f"{metric}_soft" if f"{metric}_soft" in jg else metric
    unc = pd.Series(judge_uncertainty(jg[soft].to_numpy(dtype=float)), index=jg.index)
    tally = getattr(data, "judge_run_tally", None)  # every generation's points: parsed runs and passes
    if tally is not None and not tally.empty:
        gid = tally["generation_id"].to_numpy()
        share = tally["passes"].to_numpy(dtype=float) / tally["n"].to_numpy(dtype=float)
    elif not data.judge_points.empty and "soft" in data.judge_points:
        gid = data.judge_points["generation_id"].to_numpy()
        share = data.judge_points["soft"].to_numpy(dtype=float)
    else:
        return unc
    point_max = pd.Series(judge_uncertainty(share)).groupby(gid).max()
    return np.maximum(unc, point_max.reindex(unc.index).fillna(0.0))


def _draw_active_design(pool: pd.DataFrame, size: int, per_cell: bool, floor: float, rng) -> pd.DataFrame:
    """Poisson sampling with the active probabilities: each generation drawn independently with its pi_i."""
    cell = pool["student"].astype(str) + "|k=" + pool["k"].astype(str)
    pi = np.zeros(len(pool))
    if "uncertainty" in pool:
        unc = pool["uncertainty"].to_numpy(dtype=float)
    elif "soft" in pool:
        unc = judge_uncertainty(pool["soft"].to_numpy(dtype=float))
    else:
        raise GradeappError("the active design needs the judge's runs (its uncertainty) in the pool")
    if per_cell:
        for c in sorted(cell.unique()):
            idx = np.flatnonzero((cell == c).to_numpy())
            pi[idx] = active_probabilities(unc[idx], size, floor)
    else:
        pi = active_probabilities(unc, size, floor)
    pi = np.maximum(pi, 1e-12)  # a generation of the pool is never impossible to draw
    picked = rng.random(len(pool)) < pi
    # The stratum is the cell (with per_cell) or the whole pool, not the group of equal probability: the
    # estimators then take the with-replacement variance of the weighted values over the whole cell, with
    # each item's own finite-population factor 1 - pi_i, as for any unequal-probability design. Stratifying
    # by probability group instead conditions on each group's count, but the group of generations whose
    # runs agree gets few labels and much weight, and its small-sample floor then set the interval's width
    # (bench/bench_active.py: 13% narrower than uniform PPI++ on full marks that way, 23% this way).
    stratum = cell if per_cell else pd.Series("all", index=pool.index)
    return pd.DataFrame(
        {
            "generation_id": pool["generation_id"].to_numpy()[picked],
            "stratum": stratum.to_numpy()[picked],
            "inclusion_prob": pi[picked],
        }
    ).reset_index(drop=True)


def plan_draw(
    pool: pd.DataFrame,
    size: int,
    *,
    design: str = "uniform",
    per_cell: bool = False,
    by_verdict: bool = False,
    seed: int = 0,
    floor: float = ACTIVE_FLOOR,
) -> pd.DataFrame:
    """Draw generations from a pool (generation_id, student, k, verdict); return generation_id, stratum, inclusion_prob.

    uniform: a simple random sample of `size` from the whole pool (per_cell: `size` from each student x k cell).
    stratified: strata student x k (and the judge's verdict with by_verdict), `size` split over cells in
    proportion to their size (per_cell: `size` per cell); with by_verdict each cell's share is split equally
    between the judge's pass and fail strata, which oversamples the rarer verdict.
    active: Poisson sampling, each generation drawn independently with probability pi_i that grows with the
    judge's uncertainty (pool column `uncertainty`, else judge_uncertainty of `soft`) over a uniform floor; `size` is the expected number drawn
    (per cell with per_cell), and pi_i is exactly the probability with which it was drawn.
    """
    if design not in DESIGNS:
        raise GradeappError(f"unknown design {design!r} (choose {' or '.join(DESIGNS)})")
    if size < 1:
        raise GradeappError("--size must be at least 1")
    if pool.empty:
        raise GradeappError("no judged generations to draw from (run the judge or import its verdicts first)")
    rng = np.random.default_rng(seed)
    pool = pool.sort_values("generation_id").reset_index(drop=True)
    if design == "active":
        if not 0 < floor <= 1:
            raise GradeappError("--floor must be above 0 and at most 1")
        return _draw_active_design(pool, size, per_cell, floor, rng)
    cell = pool["student"].astype(str) + "|k=" + pool["k"].astype(str)
    if design == "uniform" and not per_cell:
        n = min(size, len(pool))
        pick = rng.choice(len(pool), size=n, replace=False)
        out = pool.iloc[np.sort(pick)][["generation_id"]].copy()
        out["stratum"] = "all"
        out["inclusion_prob"] = n / len(pool)
        return out.reset_index(drop=True)
    if by_verdict and design == "stratified":
        strata = cell + "|judge=" + pool["verdict"].fillna(0).astype(int).astype(str)
    else:
        strata = cell
    cell_sizes = cell.value_counts()
    if per_cell:
        alloc_cell = pd.Series(size, index=cell_sizes.index)
    else:
        # Proportional allocation by largest remainder, at least one per cell when size allows.
        share = cell_sizes / cell_sizes.sum() * size
        alloc_cell = np.floor(share).astype(int)
        rest = size - alloc_cell.sum()
        if rest > 0:
            order = (share - alloc_cell).sort_values(ascending=False).index[:rest]
            alloc_cell.loc[order] += 1
    alloc_cell = np.minimum(alloc_cell, cell_sizes)
    parts = []
    for c in sorted(cell_sizes.index):
        idx = np.flatnonzero((cell == c).to_numpy())
        want = int(alloc_cell[c])
        if want == 0:
            continue
        if by_verdict and design == "stratified":
            sub = strata.iloc[idx]
            groups = {s: idx[(sub == s).to_numpy()] for s in sorted(sub.unique())}
            # Equal split between verdict strata, the surplus of a small stratum going to the other.
            base = {s: min(len(g), want // len(groups)) for s, g in groups.items()}
            left = want - sum(base.values())
            for s, g in sorted(groups.items(), key=lambda kv: -len(kv[1])):
                extra = min(left, len(g) - base[s])
                base[s] += extra
                left -= extra
            for s, g in groups.items():
                if base[s]:
                    pick = rng.choice(g, size=base[s], replace=False)
                    parts.append(
                        pd.DataFrame(
                            {
                                "generation_id": pool["generation_id"].to_numpy()[pick],
                                "stratum": s,
                                "inclusion_prob": base[s] / len(g),
                            }
                        )
                    )
        else:
            pick = rng.choice(idx, size=want, replace=False)
            parts.append(
                pd.DataFrame(
                    {
                        "generation_id": pool["generation_id"].to_numpy()[pick],
                        "stratum": c,
                        "inclusion_prob": want / len(idx),
                    }
                )
            )
    out = pd.concat(parts, ignore_index=True).sort_values("generation_id").reset_index(drop=True)
    return out


def draw_pool(
    store: Store, *, exclude_common: bool = True, metric: str = "full_marks", with_verdict: bool = True
) -> pd.DataFrame:
    """Return the judged pool: generation_id, student, k and (with_verdict) the judge's majority verdict on metric."""
    if not with_verdict:
        pool = audit_store.judged_generations(store)
        if exclude_common:
            common = audit_store.common_combinations(store)
            if common:
                cids = store.generations_df().set_index("id")["combination_id"]
                pool = pool[~pool["generation_id"].map(cids).isin(common)]
        return pool.assign(verdict=0).reset_index(drop=True)
    data = load_audit_data(store, exclude_common=exclude_common)
    if data.judge_gen.empty:
        return pd.DataFrame(columns=["generation_id", "student", "k", "verdict"])
    pool = data.gens.loc[data.judge_gen.index, ["student", "k"]].reset_index()
    pool["verdict"] = (
        data.judge_gen[metric].to_numpy() >= (0.5 if metric == "skill_fraction" else 1)
    ).astype(int)
    pool["uncertainty"] = generation_uncertainty(data, metric).to_numpy()
    return pool


def draw_audit(
    store: Store,
    size: int,
    *,
    design: str = "uniform",
    per_cell: bool = False,
    by_verdict: bool = False,
    seed: int = 0,
    name: str | None = None,
    exclude_common: bool = True,
    floor: float = ACTIVE_FLOOR,
    grounding: bool = False,
) -> dict:
    """Draw an audit sample from the judged pool and store it; return a report (name, design, n, strata).

    grounding (active only): the judge's uncertainty is raised where its credited points lack a grounded
    quote (services/evidence.py, grounding_aware_uncertainty).
    """
    if by_verdict and design != "stratified":
        raise GradeappError("--by-verdict needs --design stratified")
    if grounding and design != "active":
        raise GradeappError("--grounding needs --design active")
    pool = draw_pool(store, exclude_common=exclude_common, with_verdict=by_verdict or design == "active")
    if grounding and not pool.empty:
        pool["uncertainty"] = evidence.grounding_aware_uncertainty(store, pool)
    items = plan_draw(
        pool, size, design=design, per_cell=per_cell, by_verdict=by_verdict, seed=seed, floor=floor
    )
    n_draws = len(audit_store.audit_draws_df(store))
    name = name or f"audit-{n_draws + 1}"
    params = {
        "size": size,
        "per_cell": per_cell,
        "by_verdict": by_verdict,
        "exclude_common": exclude_common,
        "pool": len(pool),
    }
    if design == "active":
        params.update(
            floor=floor, sampling="poisson", uncertainty="2*sqrt(s(1-s)), s = full_marks soft score"
        )
        if grounding:
            params["uncertainty"] += (
                f" + {GROUNDING_WEIGHT} x share of credited points without a grounded quote"
            )
    draw_id = audit_store.add_audit_draw(
        store,
        name,
        design,
        seed,
        params,
        items[["generation_id", "stratum", "inclusion_prob"]].itertuples(index=False),
    )
    strata = items.groupby("stratum").agg(
        n=("generation_id", "size"), inclusion_prob=("inclusion_prob", "mean")
    )
    return {
        "id": draw_id,
        "name": name,
        "design": design,
        "seed": seed,
        "params": params,
        "n": len(items),
        "strata": strata.reset_index().to_dict("records"),
    }
