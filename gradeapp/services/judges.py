"""Compare the project's judge configurations against the people on the same audited generations.

Each judge is loaded through the audit's own loader (the same majority votes, rules and exclusions as
`gradeapp stats`), then the points are paired: only generation x point rows where the people and **every**
compared judge have a verdict enter the comparison, so the judges are ranked on exactly the same items.
"""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd

from gradeapp.core.agreement import judge_human_pairs, judge_self_consistency
from gradeapp.core.calibration import calibrate
from gradeapp.core.judge_compare import JudgeComparison, compare_judges, verdict_sentence
from gradeapp.core.results import AuditData, AuditStats, StatsOptions
from gradeapp.core.rubric import SKILL_PREFIX
from gradeapp.db import Store, audit_store, judge_store
from gradeapp.errors import GradeappError
from gradeapp.io.tables import write_csv
from gradeapp.services.audit import load_audit_data

SKILLS_POOLED = "skill:* (all skills)"


def _item(criterion: pd.Series) -> pd.Series:
    """Pool the named skills into one item (each generation has its own skills)."""
    return criterion.where(~criterion.str.startswith(SKILL_PREFIX), SKILLS_POOLED)


def _seconds(started: str | None, finished: str | None) -> float:
    if not started or not finished:
        return math.nan
    try:
        return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    except ValueError:
        return math.nan


def judge_costs(store, judge_ids: dict[str, int]) -> pd.DataFrame:
    """Return per judge the sums of its job records: calls, tokens, money (None if unpriced) and seconds."""
    jobs = judge_store.jobs(store)
    out = []
    for name, gid in judge_ids.items():
        mine = [j for j in jobs if j["grader_id"] == gid]
        costs = [j["cost_usd"] for j in mine if j["cost_usd"] is not None]
        secs = [_seconds(j["started"], j["finished"]) for j in mine]
        secs = [s for s in secs if not math.isnan(s)]
        out.append(
            {
                "judge": name,
                "calls": sum(int(j["calls"] or 0) for j in mine),
                "prompt_tokens": sum(int(j["prompt_tokens"] or 0) for j in mine),
                "completion_tokens": sum(int(j["completion_tokens"] or 0) for j in mine),
                "cost_usd": float(sum(costs)) if costs else math.nan,
                "seconds": float(sum(secs)) if secs else math.nan,
            }
        )
    return pd.DataFrame(
        out, columns=["judge", "calls", "prompt_tokens", "completion_tokens", "cost_usd", "seconds"]
    )


def _cost_basis(costs: pd.DataFrame) -> dict[str, float]:
    """Return the cost of each judge to compare: money when every judge is priced, else tokens."""
    money = costs.set_index("judge")["cost_usd"]
    if len(money) and money.notna().all() and (money > 0).all():
        return money.to_dict()
    tokens = costs.set_index("judge")[["prompt_tokens", "completion_tokens"]].sum(axis=1)
    return {k: float(v) for k, v in tokens.items() if v > 0}


def _cost_label(costs: pd.DataFrame) -> str:
    money = costs["cost_usd"]
    return "cost_usd" if len(money) and money.notna().all() and (money > 0).all() else "tokens"


SELF_COLUMNS = ["judge", "criterion", "unanimous", "pairwise", "self_alpha"]


def _judge_ids(store, judges: list[str] | None, at_least: int) -> dict[str, int]:
    """Return name -> grader id of the judges named (by name or key), else of every judge that judged."""
    graders = audit_store.judge_graders(store)
    if judges:
        ids = {}
        for want in judges:
            hit = graders[(graders["name"] == want) | (graders["key"] == want)]
            if hit.empty:
                raise GradeappError(f"no judge named {want!r} in this project (see 'gradeapp info')")
            ids[str(hit.iloc[0]["name"])] = int(hit.iloc[0]["id"])
    else:
        # a configuration that has not judged anything yet would empty the shared set of points
        # (judge_graders counts verdicts only when there are two judges or more)
        live = graders[graders["n"] > 0] if len(graders) > 1 else graders
        ids = {str(r.name): int(r.id) for r in live.sort_values("id").itertuples()}
    if len(ids) < max(1, at_least):
        raise GradeappError(f"comparing judges needs at least {at_least}; this project has {len(ids)}")
    return ids


def _judge_part(data: AuditData, threshold: float, name: str) -> pd.DataFrame:
    """Return a judge's points paired with the people's, its column named after the judge."""
    pairs = judge_human_pairs(data, threshold)
    pairs = pairs.dropna(subset=["h", "j"])
    pairs = pairs.assign(criterion=_item(pairs["item"]))
    return pairs[["generation_id", "item", "criterion", "scope", "h", "j"]].rename(columns={"j": name})


def _ppi_half_widths(name: str, rates: pd.DataFrame) -> list[dict]:
    """Return per metric the mean PPI++ half-width over a judge's cells (what its calibration buys)."""
    ppi_rows = rates[rates["estimator"] == "ppi++"]
    ppi_rows = ppi_rows.assign(half_width=(ppi_rows["ci_high"] - ppi_rows["ci_low"]) / 2)
    widths = []
    for metric, cells in ppi_rows.groupby("metric"):
        half_widths = cells["half_width"].dropna()
        mean = float(half_widths.mean()) if len(half_widths) else math.nan
        widths.append({"judge": name, "metric": metric, "ppi_half_width": mean, "cells": len(half_widths)})
    return widths


def compare_project_judges(
    store,
    judges: list[str] | None = None,
    *,
    draw: str | None = None,
    exclude_common: bool = True,
    threshold: float = 0.5,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    at_least: int = 2,
    naming_penalty: bool = True,
    loaded: dict[str, AuditData] | None = None,
    computed: dict[str, tuple[pd.DataFrame, pd.DataFrame]] | None = None,
) -> JudgeComparison:
    """Compare judges (default: every judge of the project) against people on their shared audited points.

    at_least: how many judges the comparison needs (the export also tabulates a single judge); loaded: judges
    already loaded with the same settings (the export passes the judge of its statistics, read once);
    computed: per judge its self-consistency and calibrated rates already computed from that snapshot with the
    same settings (the export's statistics), so that they are not computed twice.
    """
    names = list(ids := _judge_ids(store, judges, at_least))
    wide, consistency, ppi = None, [], []
    for name in names:
        data = (loaded or {}).get(name) or load_audit_data(
            store, judge=name, draw=draw, exclude_common=exclude_common, naming_penalty=naming_penalty
        )
        part = _judge_part(data, threshold, name)
        # the points every judge has: one column per judge beside the people's (h)
        keys = ["generation_id", "item", "criterion", "scope"]
        wide = part if wide is None else wide.merge(part.drop(columns="h"), on=keys, how="inner")
        sc, rates = (computed or {}).get(name) or (
            judge_self_consistency(data),
            calibrate(data, confidence=confidence, threshold=threshold),
        )
        if not sc.empty:
            consistency.append(sc.rename(columns={"alpha": "self_alpha"}).assign(judge=name)[SELF_COLUMNS])
        ppi += _ppi_half_widths(name, rates)
    per_judge, pair_table = compare_judges(wide, names, bootstrap=bootstrap, seed=seed, confidence=confidence)
    costs = judge_costs(store, ids)
    return JudgeComparison(
        judges=names,
        n_generations=int(wide["generation_id"].nunique()) if len(wide) else 0,
        per_judge=per_judge,
        pairs=pair_table,
        self_consistency=pd.concat(consistency or [pd.DataFrame(columns=SELF_COLUMNS)], ignore_index=True),
        costs=costs,
        ppi=pd.DataFrame(ppi, columns=["judge", "metric", "ppi_half_width", "cells"]),
        sentence=verdict_sentence(per_judge, pair_table, _cost_basis(costs)),
        settings={
            "draw": draw,
            "exclude_common": exclude_common,
            "threshold": threshold,
            "bootstrap": bootstrap,
            "seed": seed,
            "confidence": confidence,
            "cost_basis": _cost_label(costs),
        },
    )


def export_comparison(store, stats: AuditStats) -> JudgeComparison | None:
    """Compare every judge of the project with the settings of stats; None when it has no judge.

    The statistics' judge is not loaded or computed again: its snapshot, self-consistency and rates are reused.
    """
    graders = audit_store.judge_graders(store)
    if graders.empty or (len(graders) > 1 and not (graders["n"] > 0).any()):
        return None  # no judge has graded anything yet
    name = stats.data.judge_name
    return compare_with_options(
        store,
        stats.options,
        at_least=1,
        loaded={name: stats.data} if name else None,
        computed={name: (stats.self_consistency, stats.pass_rates)} if name else None,
    )


def compare_with_options(store: Store, options: StatsOptions, **extra) -> JudgeComparison:
    """Compare the project's judges with the settings of a statistics run (extra: see compare_project_judges)."""
    return compare_project_judges(
        store,
        draw=options.draw,
        exclude_common=options.exclude_common,
        threshold=options.threshold,
        bootstrap=options.bootstrap,
        seed=options.seed,
        confidence=options.confidence,
        naming_penalty=options.naming_penalty,
        **extra,
    )


def write_judges_csv(store, path, comparison: JudgeComparison | None = None, **options):
    """Write judges.csv (one row per judge x criterion or composite); return its path."""
    if comparison is None:
        comparison = compare_project_judges(store, at_least=1, **options)
    return write_csv(comparison.table(), path)
