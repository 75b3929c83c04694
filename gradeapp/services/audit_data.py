"""The judge audit's data: one load of judge and human points, scored per generation, for the statistics.

Only human verdicts on the generations of the active audit draw (the latest, unless named) enter the
calibrated estimates; human verdicts anywhere else count for agreement only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gradeapp.core.judge_cells import CELL, JudgeTables, code_names
from gradeapp.core.metrics import METRICS, apply_deterministic, majority_vote, score_generations
from gradeapp.core.results import AuditData, StatsOptions
from gradeapp.core.rubric import SKILL_PREFIX
from gradeapp.db import Store, audit_store
from gradeapp.errors import GradeappError
from gradeapp.services.adjudication import decisions
from gradeapp.services.judge_run_cache import Progress, _no_progress, packed_judge_runs
from gradeapp.services.scores import ensure_checks


def load_audit_data(
    store: Store, options: StatsOptions | None = None, progress: Progress | None = None
) -> AuditData:
    """Load judge and human points of a project and score them per generation (caches checks and judge runs).

    The judge's side is computed from its packed runs (core/judge_cells.py), kept up to date in the
    project (services/judge_run_cache.py): a load reads only the generations whose verdicts changed since
    the last one. The rows of the judge per criterion (judge_own_points, judge_points) are kept for the
    generations people graded, the only ones the agreement compares. options: which judge and draw, and
    the rules (exclude_common, naming_penalty, program_sentence_limit); progress(fraction, what) is called
    along the way and may raise to cancel.
    """
    options = options or StatsOptions()
    progress = progress or _no_progress
    progress(0.0, "checks")
    ensure_checks(store)
    gens, common_note = _generations(store, options.exclude_common)
    judge_id, judge_name, judges_note = _audited_judge(store, options.judge)
    checks = _checks(store)
    progress(0.1, "people")
    people = _people(store, gens, checks, options)
    progress(0.15, "judge")
    tables = _judge_tables(store, judge_id, gens, checks, options, progress)
    judge_gen, values = tables.judge_gen()
    own, jpts = tables.cell_rows(people.points["generation_id"].unique(), values)
    tally, run_numbers = tables.run_tally()
    raw_tally, raw_numbers = tables.run_tally(after_rules=False)
    progress(0.9, "audit draw")
    active, items, draw_notes = _active_draw(store, options.draw, gens, people.human_gen)
    no_vote = int(np.isnan(values).sum()) + int((tables.added_limit & np.isnan(tables.rule_value)).sum())
    missing = missing_notes(tables.unparsed, no_vote, judge_gen, people.human_gen)
    cats = audit_store.skill_categories(store).set_index("criterion")["category"]
    progress(1.0, "loaded")
    return AuditData(
        gens=gens,
        judge_name=judge_name,
        judge_points=jpts,
        judge_own_points=own,
        judge_gen=judge_gen,
        human_points=people.points,
        human_consensus=people.consensus,
        human_own_consensus=people.own_consensus,
        human_gen=people.human_gen,
        human_gen_by_grader=people.by_grader,
        draw=active,
        audit_items=items,
        students=store.students(),
        categories=cats,
        exclusions=[*common_note, *judges_note, *missing, *people.notes, *draw_notes],
        settings={
            "exclude_common": options.exclude_common,
            "naming_penalty": options.naming_penalty,
            "program_sentence_limit": options.program_sentence_limit,
        },
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


@dataclass
class _Checks:
    """The program's checks: sentence count per generation, the (generation, skill criterion) pairs whose
    text names the skill, and whether any checks exist."""

    n_sentences: pd.Series
    named: set[tuple[int, str]]
    exist: bool


def _checks(store) -> _Checks:
    """Return the program's checks of every generation."""
    ids, counts, named_json = audit_store.checks_arrays(store)
    n_sentences = pd.Series(counts, index=ids, dtype="float64")
    named = {(int(g), SKILL_PREFIX + skill) for g, text in named_json.items() for skill in json.loads(text)}
    return _Checks(n_sentences, named, len(ids) > 0)


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


def _deterministic(points: pd.DataFrame, checks: pd.DataFrame | None, options: StatsOptions):
    """Apply the foundation's rules; the naming penalty only sees the checks of texts that name a skill."""
    if checks is None or checks.empty:
        return points.copy()
    pts = apply_deterministic(
        points, checks, naming_penalty=False, program_sentence_limit=options.program_sentence_limit
    )
    if options.naming_penalty:
        named = checks[checks["named_skills"].map(len) > 0]
        pts = apply_deterministic(pts, named, naming_penalty=True, program_sentence_limit=False)
    return pts


def _scores(points: pd.DataFrame) -> pd.DataFrame:
    """Score generations with missing points undecided, never failed (as the judge's cells are scored)."""
    return score_generations(points, missing="undecided").set_index("generation_id")


@dataclass
class _People:
    """The people's side of the audit (see AuditData for each table)."""

    points: pd.DataFrame  # every eligible verdict: grader, generation_id, criterion, value
    own_consensus: pd.DataFrame  # their majority per point, before the program's rules
    consensus: pd.DataFrame  # the same after the rules
    human_gen: pd.DataFrame
    by_grader: pd.DataFrame
    notes: list[dict]


def _people(store, gens: pd.DataFrame, checks: _Checks, options: StatsOptions) -> _People:
    """Return the people's eligible points, their majority, per-generation scores (also per person)."""
    points, notes = _eligible_human_points(store, gens)
    checks_frame = _checks_frame(checks.n_sentences, checks.named, points["generation_id"].unique())
    own_consensus, tie_notes = _people_consensus(store, points)
    own_consensus["k"] = own_consensus["generation_id"].map(gens["k"])
    consensus = _deterministic(own_consensus, checks_frame, options)
    human_gen = _scores(consensus) if not consensus.empty else pd.DataFrame()
    if not human_gen.empty:
        human_gen["n_people"] = points.groupby("generation_id")["grader"].nunique().reindex(human_gen.index)
    by_grader = _scores_by_grader(points, gens["k"], checks_frame, options)
    return _People(points, own_consensus, consensus, human_gen, by_grader, notes + tie_notes)


def _people_consensus(store, points: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Return the people's value per point and the note on their ties.

    The rule (docs/audit.md): the strict majority of the people's labels; where they tie, the adjudicator's
    decision when there is one, otherwise the point is missing until adjudicated: never a fail, and a
    composite it could change is undecided (left out of every estimator and table, and counted there).
    """
    consensus = majority_vote(points)
    if consensus.empty:
        return consensus, []
    share = points.groupby(["generation_id", "criterion"], sort=False)["value"].mean()
    tied = share[share == 0.5].index  # an even split: no strict majority
    if not len(tied):
        return consensus, []
    decided = decisions(audit_store.people_cell_verdicts(store)).set_index(["generation_id", "criterion"])
    key = pd.MultiIndex.from_frame(consensus[["generation_id", "criterion"]])
    is_tied = key.isin(tied)
    adjudicated = decided["value"].reindex(key).to_numpy(dtype=float)
    consensus["value"] = np.where(is_tied, adjudicated, consensus["value"].to_numpy(dtype=float))
    n_open = int((is_tied & np.isnan(adjudicated)).sum())
    notes = [{"what": "people's points", "n": int(is_tied.sum()) - n_open,
              "why": "the people tied: the adjudicator's decision is used"}]  # fmt: skip
    notes.append(
        {"what": "people's points", "n": n_open,
         "why": "the people tied and no adjudicator decided: missing until adjudicated, never a fail"}
    )  # fmt: skip
    return consensus, [n for n in notes if n["n"]]


def _eligible_human_points(store, gens: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Return the people's verdicts that count (submitted, never changed after the judge was revealed)."""
    points = audit_store.human_points(store)
    points = points[points["generation_id"].isin(gens.index)]
    notes = []
    n_post = int(points["post_reveal"].eq(1).sum())
    if n_post:
        notes.append({"what": "human verdicts", "n": n_post, "why": "changed after the judge was revealed"})
    n_unsub = int((points["submitted"].eq(0) & points["post_reveal"].eq(0)).sum())
    if n_unsub:
        notes.append(
            {"what": "human verdicts", "n": n_unsub, "why": "item not submitted (draft or unsubmitted)"}
        )
    points = points[points["post_reveal"].eq(0) & points["submitted"].eq(1) & points["value"].notna()]
    return points[["grader", "generation_id", "criterion", "value"]].reset_index(drop=True), notes


def _scores_by_grader(
    points: pd.DataFrame, k_of: pd.Series, checks_frame: pd.DataFrame, options: StatsOptions
) -> pd.DataFrame:
    """Return each person's own scores per generation: one unit per person x generation, scored like one."""
    if points.empty:
        return pd.DataFrame()
    # one unit per person x generation: generation_id * people + person code, unique for any number of
    # people (a fixed 1,024 slots folded person 1,024 into person 0)
    codes, names = pd.factorize(points["grader"])
    people = len(names)
    units = points.assign(generation_id=points["generation_id"] * people + codes, gid=points["generation_id"])
    units["k"] = units["gid"].map(k_of)
    unit_checks = None
    if not checks_frame.empty:
        pairs = units[["generation_id", "gid"]].drop_duplicates()
        unit_checks = pairs.merge(checks_frame, left_on="gid", right_on="generation_id", suffixes=("", "_c"))
        unit_checks = unit_checks.drop(columns=["gid", "generation_id_c"])
    units = _deterministic(units[["generation_id", "criterion", "value", "k"]], unit_checks, options)
    by_grader = _scores(units).reset_index()
    by_grader["grader"] = names[by_grader["generation_id"] % people]
    by_grader["generation_id"] = by_grader["generation_id"] // people
    return by_grader


def _judge_tables(
    store, judge_id: int | None, gens: pd.DataFrame, checks: _Checks, options: StatsOptions, progress
) -> JudgeTables:
    """Return the judge's side computed from its packed runs (empty when the project has no judge)."""
    if judge_id is None:
        run_gen, runs, names = np.zeros(0, np.int64), np.zeros(0, CELL), code_names({}, {})
    else:
        run_gen, runs, names = packed_judge_runs(store, judge_id, progress)
    return JudgeTables(
        run_gen,
        runs,
        names,
        gens["k"],
        checks.n_sentences,
        checks.named,
        has_checks=checks.exist,
        naming_penalty=options.naming_penalty,
        program_sentence_limit=options.program_sentence_limit,
    )


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
