"""The judge audit's data: audit draws, and one load of judge and human points for the statistics.

A draw is a known random design over the judged pool: uniform (a simple random sample of the pool),
or stratified by student model x k (optionally also by the judge's verdict, to oversample the rarer
verdict). Each drawn generation is stored with its stratum and inclusion probability. Only human
verdicts on the generations of the active draw (the latest, unless named) enter the calibrated
estimates; human verdicts anywhere else count for agreement only.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from gradeapp.core.metrics import apply_deterministic, majority_vote, score_generations
from gradeapp.core.results import AuditData
from gradeapp.db import Store, audit_store
from gradeapp.errors import GradeappError
from gradeapp.services.scores import ensure_checks

DESIGNS = ("uniform", "stratified")
RUN_SLOTS = 1024  # a (generation, run) unit is generation_id * RUN_SLOTS + run


# -- loading --------------------------------------------------------------------------------------
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


def _parsed_checks(checks: pd.DataFrame) -> pd.DataFrame:
    """Parse the named-skills JSON once (most texts name none), so the rules do not parse it per call."""
    if checks.empty:
        return checks
    named = checks["named_skills"]
    parsed = pd.Series([[]] * len(checks), index=checks.index, dtype=object)
    some = named != "[]"
    parsed[some] = named[some].map(json.loads)
    return checks.assign(named_skills=parsed)


def _scores(points: pd.DataFrame) -> pd.DataFrame:
    return score_generations(points).set_index("generation_id")


def load_audit_data(
    store: Store,
    *,
    judge: str | None = None,
    draw: str | None = None,
    exclude_common: bool = True,
    naming_penalty: bool = True,
    program_sentence_limit: bool = True,
) -> AuditData:
    """Load judge and human points of a project and score them per generation (read-only, but caches checks)."""

    ensure_checks(store)
    settings = {
        "exclude_common": exclude_common,
        "naming_penalty": naming_penalty,
        "program_sentence_limit": program_sentence_limit,
    }
    exclusions: list[dict] = []
    gens = store.generations_df()
    gens["has_common"] = gens["combination_id"].isin(audit_store.common_combinations(store))
    if exclude_common and gens["has_common"].any():
        exclusions.append(
            {
                "what": "generations",
                "n": int(gens["has_common"].sum()),
                "why": "their combination contains a common skill (exclude_common is on)",
            }
        )
        gens = gens[~gens["has_common"]]
    gens = gens.set_index("id").rename_axis("generation_id")
    kmap = gens["k"]
    checks = _parsed_checks(store.checks_df())

    judges = audit_store.judge_graders(store)
    if judge is not None:
        judges = judges[(judges["name"] == judge) | (judges["key"] == judge)]
        if judges.empty:
            raise GradeappError(f"no judge named {judge!r} in this project")
    judge_name = None if judges.empty else str(judges.iloc[0]["name"])
    if len(judges) > 1 and judge is None:
        exclusions.append(
            {
                "what": "judges",
                "n": len(judges) - 1,
                "why": f"only one judge is audited at a time ({judge_name!r}, the one with most verdicts; use --judge)",
            }
        )
    if judge_name is None:
        jv = pd.DataFrame({"generation_id": [], "criterion": [], "run": [], "value": []})
    else:
        jv = audit_store.judge_points(store, int(judges.iloc[0]["id"]))
    jv = jv[jv["generation_id"].isin(gens.index)]
    unparsed = int(jv["value"].isna().sum())
    if unparsed:
        exclusions.append(
            {"what": "judge points", "n": unparsed, "why": "unparsed (no vote; a tie or no vote fails)"}
        )

    # Majority points and the deterministic rules, then the per-run points for soft scores.
    maj = majority_vote(jv)
    maj["k"] = maj["generation_id"].map(kmap)
    jpts = _deterministic(
        maj, checks, naming_penalty=naming_penalty, program_sentence_limit=program_sentence_limit
    )
    judge_gen = _scores(jpts) if not jpts.empty else pd.DataFrame()

    runs = jv.assign(unit=jv["generation_id"] * RUN_SLOTS + jv["run"])
    run_checks = None
    if not checks.empty and not runs.empty:
        units = runs[["unit", "generation_id"]].drop_duplicates()
        run_checks = units.merge(checks, on="generation_id").drop(columns="generation_id")
        run_checks = run_checks.rename(columns={"unit": "generation_id"})
    rpts = runs.rename(columns={"generation_id": "gid", "unit": "generation_id"})
    rpts["k"] = rpts["gid"].map(kmap)
    rpts = _deterministic(
        rpts[["generation_id", "criterion", "value", "k"]],
        run_checks,
        naming_penalty=naming_penalty,
        program_sentence_limit=program_sentence_limit,
    )
    judge_runs = rpts.assign(
        run=rpts["generation_id"] % RUN_SLOTS, generation_id=rpts["generation_id"] // RUN_SLOTS
    )
    # Soft point = mean of the parsed runs after the deterministic rules (a rule's value where it decided).
    soft = judge_runs.groupby(["generation_id", "criterion"], sort=False)["value"].mean().rename("soft")
    jpts = jpts.merge(soft.reset_index(), on=["generation_id", "criterion"], how="left")
    jpts["soft"] = jpts["soft"].fillna(jpts["value"])
    if not rpts.empty:
        parsed_units = runs.groupby("unit")["value"].count()
        per_run = _scores(rpts)
        per_run = per_run[per_run.index.map(parsed_units) > 0]  # a wholly unparsed run does not vote
        per_run = per_run.reset_index()
        per_run["generation_id"] = per_run["generation_id"] // RUN_SLOTS
        soft_gen = per_run.groupby("generation_id")[["full_marks", "all_skills", "skill_fraction"]].mean()
        judge_gen = judge_gen.join(soft_gen.add_suffix("_soft"))
        judge_gen["n_runs"] = per_run.groupby("generation_id").size().reindex(judge_gen.index).fillna(0)
        for m in ("full_marks", "all_skills", "skill_fraction"):
            judge_gen[m + "_soft"] = judge_gen[m + "_soft"].fillna(judge_gen[m])

    # People: only submitted items, never a change made after the judge was revealed.
    hv = audit_store.human_points(store)
    hv = hv[hv["generation_id"].isin(gens.index)]
    n_post = int(hv["post_reveal"].eq(1).sum())
    if n_post:
        exclusions.append(
            {"what": "human verdicts", "n": n_post, "why": "changed after the judge was revealed"}
        )
    n_unsub = int((hv["submitted"].eq(0) & hv["post_reveal"].eq(0)).sum())
    if n_unsub:
        exclusions.append(
            {"what": "human verdicts", "n": n_unsub, "why": "item not submitted (draft or unsubmitted)"}
        )
    hv = hv[hv["post_reveal"].eq(0) & hv["submitted"].eq(1) & hv["value"].notna()]
    hv = hv[["grader", "generation_id", "criterion", "value"]].reset_index(drop=True)

    hmaj = majority_vote(hv)
    hmaj["k"] = hmaj["generation_id"].map(kmap)
    hpts = _deterministic(
        hmaj, checks, naming_penalty=naming_penalty, program_sentence_limit=program_sentence_limit
    )
    human_gen = _scores(hpts) if not hpts.empty else pd.DataFrame()
    if not human_gen.empty:
        human_gen["n_people"] = hv.groupby("generation_id")["grader"].nunique().reindex(human_gen.index)
    by_grader = pd.DataFrame()
    if not hv.empty:
        codes, names = pd.factorize(hv["grader"])
        gp = hv.assign(generation_id=hv["generation_id"] * RUN_SLOTS + codes, gid=hv["generation_id"])
        gp["k"] = gp["gid"].map(kmap)
        gchecks = None
        if not checks.empty:
            u = gp[["generation_id", "gid"]].drop_duplicates()
            gchecks = u.merge(checks, left_on="gid", right_on="generation_id", suffixes=("", "_c"))
            gchecks = gchecks.drop(columns=["gid", "generation_id_c"])
        gp = _deterministic(
            gp[["generation_id", "criterion", "value", "k"]],
            gchecks,
            naming_penalty=naming_penalty,
            program_sentence_limit=program_sentence_limit,
        )
        by_grader = _scores(gp).reset_index()
        by_grader["grader"] = names[by_grader["generation_id"] % RUN_SLOTS]
        by_grader["generation_id"] = by_grader["generation_id"] // RUN_SLOTS

    # The active audit draw.
    draws = audit_store.audit_draws_df(store)
    active = None
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
            exclusions.append(
                {
                    "what": "audit draws",
                    "n": len(draws) - 1,
                    "why": f"only the latest draw ({d['name']!r}) is used",
                }
            )
    graded = set(human_gen.index) if not human_gen.empty else set()
    outside = len(graded - set(items["generation_id"]))
    if outside:
        exclusions.append(
            {
                "what": "human-graded generations",
                "n": outside,
                "why": "not in the audit draw: they count for agreement, never for the calibrated estimate",
            }
        )
    pending = len(set(items["generation_id"]) - graded)
    if pending:
        exclusions.append(
            {"what": "drawn generations", "n": pending, "why": "not graded (submitted) by a person yet"}
        )

    cats = audit_store.skill_categories(store).set_index("criterion")["category"]
    return AuditData(
        gens=gens,
        judge_name=judge_name,
        judge_points=jpts,
        judge_own_points=maj,
        judge_runs=judge_runs,
        judge_gen=judge_gen,
        human_points=hv,
        human_consensus=hpts,
        human_own_consensus=hmaj,
        human_gen=human_gen,
        human_gen_by_grader=by_grader,
        draw=active,
        audit_items=items,
        students=store.students(),
        categories=cats,
        exclusions=exclusions,
        settings=settings,
    )


# -- drawing --------------------------------------------------------------------------------------
def plan_draw(
    pool: pd.DataFrame,
    size: int,
    *,
    design: str = "uniform",
    per_cell: bool = False,
    by_verdict: bool = False,
    seed: int = 0,
) -> pd.DataFrame:
    """Draw generations from a pool (generation_id, student, k, verdict); return generation_id, stratum, inclusion_prob.

    uniform: a simple random sample of `size` from the whole pool (per_cell: `size` from each student x k cell).
    stratified: strata student x k (and the judge's verdict with by_verdict), `size` split over cells in
    proportion to their size (per_cell: `size` per cell); with by_verdict each cell's share is split equally
    between the judge's pass and fail strata, which oversamples the rarer verdict.
    """
    if design not in DESIGNS:
        raise GradeappError(f"unknown design {design!r} (choose {' or '.join(DESIGNS)})")
    if size < 1:
        raise GradeappError("--size must be at least 1")
    if pool.empty:
        raise GradeappError("no judged generations to draw from (run the judge or import its verdicts first)")
    rng = np.random.default_rng(seed)
    pool = pool.sort_values("generation_id").reset_index(drop=True)
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
) -> dict:
    """Draw an audit sample from the judged pool and store it; return a report (name, design, n, strata)."""
    if by_verdict and design != "stratified":
        raise GradeappError("--by-verdict needs --design stratified")
    pool = draw_pool(store, exclude_common=exclude_common, with_verdict=by_verdict)
    items = plan_draw(pool, size, design=design, per_cell=per_cell, by_verdict=by_verdict, seed=seed)
    n_draws = len(audit_store.audit_draws_df(store))
    name = name or f"audit-{n_draws + 1}"
    params = {
        "size": size,
        "per_cell": per_cell,
        "by_verdict": by_verdict,
        "exclude_common": exclude_common,
        "pool": len(pool),
    }
    draw_id = audit_store.add_audit_draw(
        store,
        name,
        design,
        seed,
        params,
        items[["generation_id", "stratum", "inclusion_prob"]].itertuples(index=False),
    )
    strata = items.groupby("stratum").agg(
        n=("generation_id", "size"), inclusion_prob=("inclusion_prob", "first")
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
