"""The audit loader, verdict export, CSV guard and annotator table of main before issue 13: the oracle.

Kept verbatim (apart from the module they call) so that tests can compare every figure of the fast
implementation against the straightforward pandas one on the same project, with two changes that follow
later rules. The current-verdict order is migration 020's: insertion order. Issue 11's rule for missing
points: generations are scored with score_generations(missing="undecided") (a metric a missing point
could change is NaN, never a fail), and the notes on missing points come from
services.audit.missing_notes fed with this loader's own counts. The majority over parsed runs and the
soft score over the runs that decide a metric already follow from the pandas rules (groupby mean skips NaN).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradeapp.core.metrics import apply_deterministic, majority_vote, score_generations
from gradeapp.core.results import AuditData
from gradeapp.core.two_by_two import kappa_row
from gradeapp.db import Store, audit_store, team_store
from gradeapp.db.audit_store import people_cell_verdicts
from gradeapp.errors import GradeappError
from gradeapp.services.adjudication import (
    decisions,
    default_judge,
    human_judge_pairs,
    human_labels,
    human_pairs,
)
from gradeapp.services.audit_data import missing_notes
from gradeapp.services.scores import ensure_checks

RUN_SLOTS = 1024
FAST_SECONDS = 5.0


SUBMITTED_SQL = (
    "SELECT grader_id, generation_id FROM ("
    "  SELECT grader_id, generation_id, action, ROW_NUMBER() OVER ("
    "    PARTITION BY grader_id, generation_id ORDER BY id DESC) AS latest "
    "  FROM reviews WHERE action IN ('submit', 'unsubmit')"
    ") WHERE latest = 1 AND action = 'submit'"
)


def judge_points(store, grader_id: int) -> pd.DataFrame:
    """Return the current verdicts of one judge: generation_id, criterion, run, value (NaN if unparsed).

    The same rows as the current_verdicts view (the last inserted per identity, migration 020; retractions
    hidden), but read with one index range scan and de-duplicated in pandas, which is several times
    faster than the view's correlated subquery on millions of rows.
    """
    # The identity index delivers rows grouped by identity in id order (the rule of migration 020), so the
    # last row of a group is the current one; a 0/1 flag instead of the status text keeps the fetch cheap.
    df = pd.read_sql_query(
        "SELECT generation_id, criterion, run, value, status = 'retracted' AS retracted FROM verdicts "
        "WHERE grader_id = ? ORDER BY generation_id, criterion, run, id",
        store.conn,
        params=[grader_id],
        dtype={"value": "float64"},
    )
    df = df[~df.duplicated(["generation_id", "criterion", "run"], keep="last")]
    return df[df["retracted"] == 0].drop(columns="retracted").reset_index(drop=True)


def human_points(store) -> pd.DataFrame:
    """Return the current verdicts of people with two flags: submitted (latest submit/unsubmit is a submit)
    and post_reveal. Columns: grader_id, grader, generation_id, criterion, value, post_reveal, submitted."""
    df = pd.read_sql_query(
        f"WITH sub AS ({SUBMITTED_SQL}) "
        "SELECT v.grader_id, gr.name AS grader, v.generation_id, v.criterion, v.value, v.post_reveal, v.status, "
        "  (s.grader_id IS NOT NULL) AS submitted "
        "FROM current_verdicts v JOIN graders gr ON gr.id = v.grader_id "
        "LEFT JOIN sub s ON s.grader_id = v.grader_id AND s.generation_id = v.generation_id "
        "WHERE gr.kind = 'human'",
        store.conn,
        dtype={"value": "float64"},
    )
    return df[df["status"] != "retracted"].drop(columns="status").reset_index(drop=True)


def verdicts_export_df(store) -> pd.DataFrame:
    """Return every current verdict in long format with the identity of its generation and grader.

    One row per grader x generation x criterion x run; 'submitted' marks a person's submitted item and
    'raw' carries a judge's raw reply once per reply (on its first criterion row).
    """
    df = pd.read_sql_query(
        f"WITH sub AS ({SUBMITTED_SQL}) "
        "SELECT g.uid AS generation, gr.kind, gr.name AS grader, gr.model, gr.endpoint_host, gr.prompt_version, "
        "  gr.prompt_hash, gr.temperature, gr.max_tokens, v.criterion, v.run, v.value, v.status, v.raw_value, "
        "  v.reason, v.note, v.seconds, v.post_reveal, v.guideline_version, v.created, "
        "  CASE WHEN gr.kind = 'human' THEN (s.grader_id IS NOT NULL) END AS submitted, v.reply_id, rp.raw, v.match_method "
        "FROM current_verdicts v JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id "
        "LEFT JOIN sub s ON s.grader_id = v.grader_id AND s.generation_id = v.generation_id "
        "LEFT JOIN replies rp ON rp.id = v.reply_id "
        "ORDER BY gr.kind, gr.id, g.id, v.run, v.id",
        store.conn,
    )
    first = ~df["reply_id"].duplicated() & df["reply_id"].notna()
    df["raw"] = df["raw"].where(first)
    return df.drop(columns="reply_id")


# -- bulk writes (simulated projects) -------------------------------------------------------------


VERDICT_EXPORT_COLUMNS = [
    "generation", "kind", "grader", "model", "endpoint_host", "prompt_version", "prompt_hash", "temperature",
    "max_tokens", "criterion", "run", "value", "status", "raw_value", "reason", "note", "seconds",
    "post_reveal", "guideline_version", "created", "submitted", "raw", "match_method",
]  # fmt: skip


def verdicts_frame(store: Store) -> pd.DataFrame:
    """Return every current verdict in long format (the columns of verdicts.csv / verdicts.parquet)."""
    df = verdicts_export_df(store)
    for col in ("value", "run", "post_reveal", "max_tokens", "guideline_version", "submitted"):
        df[col] = pd.array(df[col].to_numpy(dtype=float, na_value=np.nan), dtype="Float64").astype("Int64")
    return df.reindex(columns=VERDICT_EXPORT_COLUMNS)


_DANGER = re.compile(r"^'*[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: object) -> object:
    """Return a text cell made safe for spreadsheets (see the module docstring); other values unchanged."""
    if isinstance(value, str) and _DANGER.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    """Undo neutralise() on a text cell read back from one of our CSV files."""
    if value.startswith("'") and _DANGER.match(value):
        return value[1:]
    return value


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write a frame as UTF-8 CSV with text cells neutralised and numbers kept numeric."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return path


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
    return score_generations(points, missing="undecided").set_index("generation_id")


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
        jv = judge_points(store, int(judges.iloc[0]["id"]))
    jv = jv[jv["generation_id"].isin(gens.index)]
    unparsed = int(jv["value"].isna().sum())
    notes_at = len(exclusions)  # the notes on missing points go here once the people are scored

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
    hv = human_points(store)
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
    # issue 20: people who tie are missing until adjudicated (the adjudicator's decision where there is one)
    share = hv.groupby(["generation_id", "criterion"], sort=False)["value"].mean()
    tied = pd.MultiIndex.from_frame(hmaj[["generation_id", "criterion"]]).isin(share[share == 0.5].index)
    if tied.any():
        decided = decisions(people_cell_verdicts(store)).set_index(["generation_id", "criterion"])["value"]
        key = pd.MultiIndex.from_frame(hmaj[["generation_id", "criterion"]])
        adjudicated = decided.reindex(key).to_numpy(dtype=float)
        hmaj["value"] = np.where(tied, adjudicated, hmaj["value"])
        n_open = int((tied & np.isnan(adjudicated)).sum())
        for n, why in (
            (int(tied.sum()) - n_open, "the people tied: the adjudicator's decision is used"),
            (n_open, "the people tied and no adjudicator decided: missing until adjudicated, never a fail"),
        ):
            if n:
                exclusions.append({"what": "people's points", "n": n, "why": why})
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

    no_vote = int(jpts["value"].isna().sum()) if not jpts.empty else 0
    exclusions[notes_at:notes_at] = missing_notes(unparsed, no_vote, judge_gen, human_gen)

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
    # Issue 11: the judge's self-consistency reads each run's own parsed value, before the rules.
    raw = jv.dropna(subset=["value"])
    raw_tally = (
        raw.groupby(["generation_id", "criterion"], sort=True)["value"]
        .agg(n="count", passes="sum")
        .reset_index()
    )
    return AuditData(
        gens=gens,
        judge_name=judge_name,
        judge_points=jpts,
        judge_own_points=maj,
        judge_run_tally=judge_runs.dropna(subset=["value"])
        .groupby(["generation_id", "criterion"], sort=True)["value"]
        .agg(n="count", passes="sum")
        .reset_index(),
        judge_run_numbers=judge_runs.dropna(subset=["value"])[["criterion", "run"]].drop_duplicates(),
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
        judge_raw_tally=raw_tally,
        judge_raw_numbers=raw[["criterion", "run"]].drop_duplicates(),
    )


def annotator_table(
    store: Store, threshold: float = FAST_SECONDS, judge: str | None = None
) -> list[dict[str, Any]]:
    """Return one row of quality signals per person (ANNOTATOR_COLUMNS), sorted by name (read-only)."""
    frame = team_store.cell_verdicts(store)
    labels = human_labels(store, frame)
    judge = judge or default_judge(frame)
    with_judge = human_judge_pairs(store, labels, frame, judge)
    pairs = human_pairs(labels)
    submits = team_store.submit_reviews(store)
    names = sorted(set(labels["grader"]) | set(submits["grader"]))
    out = []
    for name in names:
        mine = labels[labels["grader"] == name]
        sub = submits[submits["grader"] == name]
        secs = sub["seconds"].dropna()
        n_fast = int((secs < threshold).sum())
        j = with_judge[with_judge["grader"] == name]
        rj = kappa_row(j["human"], j["judge"])
        # Orient every pair so that this person's value comes first.
        p1 = pairs[pairs["a"] == name]
        p2 = pairs[pairs["b"] == name]
        own = pd.concat([p1["value_a"], p2["value_b"]], ignore_index=True)
        other = pd.concat([p1["value_b"], p2["value_a"]], ignore_index=True)
        ro = kappa_row(own, other)
        warnings = []
        if n_fast:
            warnings.append(f"{n_fast} of {len(secs)} submits took under {threshold:g} s")
        out.append(
            {
                "annotator": name,
                "items": int(mine["generation_id"].nunique()),
                "verdicts": len(mine),
                "pass_rate": float(mine["value"].mean()) if len(mine) else None,
                "submits": len(sub),
                "median_seconds": float(secs.median()) if len(secs) else None,
                "fast_decisions": n_fast,
                "fast_share": n_fast / len(secs) if len(secs) else None,
                "n_with_judge": rj["n"],
                "agreement_with_judge": rj["agreement"],
                "kappa_with_judge": rj["kappa"],
                "n_with_others": ro["n"],
                "agreement_with_others": ro["agreement"],
                "kappa_with_others": ro["kappa"],
                "warnings": "; ".join(warnings),
            }
        )
    return out
