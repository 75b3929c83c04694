"""Adjudication: find where people disagree with each other or with the judge, and record decisions.

A cell is one generation x criterion. It is disputed when two people gave it different values, or
a person's value differs from the judge's majority over its runs. Cells are listed worst first: by
the disagreement rate of their criterion (disputed cells / comparable cells), then by how split the
cell is. A decision is a verdict of a grader of kind 'adjudicator' whose `reason` is one tag of
REASON_TAGS. `adjudicated_labels` gives the people's labels with decided cells replaced by the
decision, so agreement can be compared before and after (`agreement_table`, with Cohen's kappa
from gradeapp.core.agreement).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gradeapp.core.agreement import kappa_row
from gradeapp.core.metrics import majority_vote
from gradeapp.core.rubric import criteria, is_skill_criterion
from gradeapp.db import Store, team_store
from gradeapp.errors import GradeappError
from gradeapp.services.guidelines import current_version

REASON_TAGS = {
    "annotator_error": "annotator error",
    "judge_error": "judge error",
    "guideline_gap": "guideline gap",
    "ambiguous_text": "ambiguous text",
}
DEFAULT_ADJUDICATOR = "adjudicator"


def normalize_reason(tag: str) -> str:
    """Return the canonical reason tag for 'judge error', 'judge-error', 'JUDGE_ERROR'...; raise if unknown."""
    key = "_".join(str(tag).strip().lower().replace("-", " ").split())
    if key not in REASON_TAGS:
        raise GradeappError(f"unknown reason '{tag}': use one of {', '.join(REASON_TAGS)}")
    return key


def _current(store) -> pd.DataFrame:
    return team_store.cell_verdicts(store)


def human_labels(store: Store, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return each person's current 0/1 label per cell: grader, generation_id, uid, criterion, value, note, guideline_version."""
    verdicts = _current(store) if frame is None else frame
    labels = verdicts[(verdicts["kind"] == "human") & verdicts["value"].notna()].sort_values(
        ["created", "id"]
    )
    labels = labels.drop_duplicates(["grader", "generation_id", "criterion"], keep="last")
    return labels[
        ["grader", "generation_id", "uid", "criterion", "value", "note", "guideline_version", "seconds"]
    ].reset_index(drop=True)


def default_judge(frame: pd.DataFrame) -> str | None:
    """Return the judge with the most current verdicts (the one an audit compares against), or None."""
    judge_rows = frame[frame["kind"] == "judge"]
    if judge_rows.empty:
        return None
    return str(judge_rows["grader"].value_counts().sort_index().idxmax())


def judge_majority(frame: pd.DataFrame, judge: str | None) -> pd.DataFrame:
    """Return the judge's majority value per cell over its runs (ties fail; unparsed runs do not vote)."""

    judge_rows = frame[(frame["kind"] == "judge") & (frame["grader"] == judge)]
    if judge_rows.empty:
        return pd.DataFrame(columns=["generation_id", "criterion", "judge"])
    out = majority_vote(judge_rows[["generation_id", "criterion", "value"]])
    return out.rename(columns={"value": "judge"})[["generation_id", "criterion", "judge"]].dropna()


def decisions(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the latest adjudicator decision per cell: generation_id, criterion, value, reason, by, created."""
    decided = frame[(frame["kind"] == "adjudicator") & frame["value"].notna()].sort_values(["created", "id"])
    decided = decided.drop_duplicates(["generation_id", "criterion"], keep="last")
    return decided.rename(columns={"grader": "by"})[
        ["generation_id", "criterion", "value", "reason", "by", "created", "note"]
    ]


def adjudicated_labels(store: Store, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the people's labels with every decided cell's value replaced by the adjudicator's decision."""
    df = _current(store) if frame is None else frame
    labels = human_labels(store, df)
    dec = decisions(df)[["generation_id", "criterion", "value"]].rename(columns={"value": "decided"})
    out = labels.merge(dec, on=["generation_id", "criterion"], how="left")
    out["value"] = out["decided"].where(out["decided"].notna(), out["value"])
    return out.drop(columns="decided")


def human_judge_pairs(
    store: Store,
    labels: pd.DataFrame | None = None,
    frame: pd.DataFrame | None = None,
    judge: str | None = None,
) -> pd.DataFrame:
    """Return one row per person label with the judge's majority: grader, generation_id, criterion, human, judge, guideline_version."""
    df = _current(store) if frame is None else frame
    labels = human_labels(store, df) if labels is None else labels
    maj = judge_majority(df, judge or default_judge(df))
    out = labels.merge(maj, on=["generation_id", "criterion"], how="inner")
    return out.rename(columns={"value": "human"})[
        ["grader", "generation_id", "criterion", "human", "judge", "guideline_version"]
    ]


def human_pairs(labels: pd.DataFrame) -> pd.DataFrame:
    """Return every pair of people on a shared cell: generation_id, criterion, a, b, value_a, value_b."""
    cols = ["generation_id", "criterion", "grader", "value"]
    both = labels[cols].merge(labels[cols], on=["generation_id", "criterion"], suffixes=("_a", "_b"))
    both = both[both["grader_a"] < both["grader_b"]]
    out = both.rename(columns={"grader_a": "a", "grader_b": "b"})
    return out[["generation_id", "criterion", "a", "b", "value_a", "value_b"]].reset_index(drop=True)


# -- disagreements ----------------------------------------------------------------------------------
def disagreements(
    store: Store, *, judge: str | None = None, include_decided: bool = True
) -> list[dict[str, Any]]:
    """Return the disputed cells, undecided first, then worst criterion first, with both sides' notes and the judge's reasons."""
    df = _current(store)
    labels = human_labels(store, df)
    if labels.empty:
        return []
    judge = judge or default_judge(df)
    cells = _cell_table(labels, judge_majority(df, judge))
    comparable = cells[(cells["n"] > 1) | cells["judge"].notna()]
    rate = comparable.groupby("criterion")["disputed"].agg(["sum", "size"])
    rate_of = {crit: (int(r["sum"]), int(r["size"])) for crit, r in rate.iterrows()}
    disputed = cells[cells["disputed"]].copy()
    if disputed.empty:
        return []
    dec = {(d["generation_id"], d["criterion"]): d for d in decisions(df).to_dict("records")}
    # Only the disputed cells' rows are turned into Python objects.
    dkeys = disputed[CELL_KEYS]
    people = _people_by_cell(labels, dkeys)
    runs = _judge_runs_by_cell(df, judge, dkeys)
    uid_of = dict(zip(labels["generation_id"], labels["uid"], strict=False))
    notes = team_store.generation_notes(store, disputed["generation_id"].unique().tolist())
    out = []
    for cell in disputed.itertuples(index=False):
        key = (cell.generation_id, cell.criterion)
        decided = dec.get(key)
        if decided is not None and not include_decided:
            continue
        judge_value = None if pd.isna(cell.judge) else int(cell.judge)
        out.append(
            {
                **_cell_fields(cell, judge_value, uid_of[cell.generation_id], rate_of[cell.criterion]),
                "people": people[key],
                "item_notes": [
                    {"name": name, "note": note} for name, note in notes.get(cell.generation_id, [])
                ],
                "judge": _judge_side(judge, judge_value, runs.get(key, [])),
                "decision": _decision_side(decided),
            }
        )
    out.sort(
        key=lambda cell: (
            cell["decision"] is not None,
            -cell["criterion_rate"],
            -cell["split"],
            cell["uid"],
            cell["criterion"],
        )
    )
    return out


CELL_KEYS = ["generation_id", "criterion"]


def _cell_table(labels: pd.DataFrame, majority: pd.DataFrame) -> pd.DataFrame:
    """Return one row per labelled cell: n people, ones, lo, hi, the judge's majority, pp/pj/disputed flags."""
    cells = (
        labels.groupby(CELL_KEYS, sort=False)["value"]
        .agg(n="size", ones="sum", lo="min", hi="max")
        .reset_index()
    )
    cells = cells.merge(majority, on=CELL_KEYS, how="left")
    has_judge = cells["judge"].notna()
    cells["pp"] = cells["lo"] != cells["hi"]
    cells["pj"] = has_judge & (
        ((cells["judge"] == 1) & (cells["lo"] == 0)) | ((cells["judge"] == 0) & (cells["hi"] == 1))
    )
    cells["disputed"] = cells["pp"] | cells["pj"]
    return cells


def _people_by_cell(labels: pd.DataFrame, dkeys: pd.DataFrame) -> dict[tuple, list[dict[str, Any]]]:
    people: dict[tuple, list] = {}
    for r in labels.merge(dkeys, on=CELL_KEYS).sort_values("grader").to_dict("records"):
        people.setdefault((r["generation_id"], r["criterion"]), []).append(
            {"name": r["grader"], "value": int(r["value"]), "note": r["note"] or ""}
        )
    return people


def _judge_runs_by_cell(
    frame: pd.DataFrame, judge: str | None, dkeys: pd.DataFrame
) -> dict[tuple, list[tuple]]:
    runs: dict[tuple, list] = {}
    jrows = (
        frame[(frame["kind"] == "judge") & (frame["grader"] == judge)]
        .merge(dkeys, on=CELL_KEYS)
        .sort_values("run")
    )
    for r in jrows[["generation_id", "criterion", "value", "reason"]].to_dict("records"):
        runs.setdefault((r["generation_id"], r["criterion"]), []).append((r["value"], r["reason"]))
    return runs


def _cell_fields(cell: Any, judge_value: int | None, uid: str, rate: tuple[int, int]) -> dict[str, Any]:
    """Return what names a disputed cell and how disputed it is (its criterion's rate, its split)."""
    n_disputed, n_cells = rate
    total = cell.n + (judge_value is not None)
    ones = cell.ones + (judge_value or 0)
    return {
        "generation_id": int(cell.generation_id),
        "uid": uid,
        "criterion": cell.criterion,
        "kinds": [k for k, on in (("person-person", cell.pp), ("person-judge", cell.pj)) if on],
        "criterion_rate": float(n_disputed / n_cells),
        "criterion_cells": int(n_cells),
        "split": float(min(ones, total - ones) / total),
    }


def _judge_side(judge: str | None, value: int | None, runs: list[tuple]) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "name": judge,
        "value": value,
        "runs": [None if pd.isna(v) else int(v) for v, _ in runs],
        "reasons": [why for _, why in runs if isinstance(why, str) and why],
    }


def _decision_side(decided: dict[str, Any] | None) -> dict[str, Any] | None:
    if decided is None:
        return None
    return {
        "value": int(decided["value"]),
        "reason": decided["reason"],
        "by": decided["by"],
        "created": decided["created"],
        "note": decided["note"] or "",
    }


def cell_detail(store: Store, generation_id: int) -> dict[str, Any]:
    """Return the generation (text, topic, skills) and the judges' raw replies, for the detail pane (read-only)."""
    gen = store.generation(generation_id)
    return {
        "uid": gen["uid"],
        "text": gen["text"],
        "topic": gen["topic"],
        "k": gen["k"],
        "skills": [s["name"] for s in gen["skills"]],
        "replies": team_store.judge_replies(store, generation_id),
    }


def decide(
    store: Store,
    uid: str,
    criterion: str,
    value: int,
    reason: str,
    *,
    by: str = DEFAULT_ADJUDICATOR,
    note: str | None = None,
) -> dict[str, Any]:
    """Record the adjudicator's decision on a cell as a verdict of kind 'adjudicator'; return what was stored."""

    tag = normalize_reason(reason)
    if value not in (0, 1):
        raise GradeappError(f"the decision must be 1 (pass) or 0 (fail), not {value!r}")
    gid = store.generation_id(uid)
    if gid is None:
        raise GradeappError(f"no generation with uid '{uid}' in this project")
    gen = store.generation(gid)
    allowed = criteria([s["name"] for s in gen["skills"]])
    if criterion not in allowed:
        raise GradeappError(f"'{criterion}' is not a criterion of {uid} (its criteria: {', '.join(allowed)})")
    with store.atomic():
        grader = store.grader_id("adjudicator", by)
        row = {
            "grader_id": grader,
            "generation_id": gid,
            "criterion": criterion,
            "value": int(value),
            "raw_value": str(int(value)),
            "reason": tag,
            "note": note,
            "guideline_version": current_version(store),
        }
        store.add_verdicts([row])
    return {"uid": uid, "criterion": criterion, "value": int(value), "reason": tag, "by": by}


# -- agreement before / after -------------------------------------------------------------------------
def _family(criterion: str) -> str:
    return "skill" if is_skill_criterion(criterion) else criterion


def agreement_table(
    store: Store, *, per_criterion: bool = False, judge: str | None = None
) -> list[dict[str, Any]]:
    """Return raw agreement and Cohen's kappa per criterion (skills pooled unless per_criterion), before and after adjudication.

    Rows: criterion, comparison ('person-judge' or 'person-person'), n, agreement_before, kappa_before,
    agreement_after, kappa_after. 'all' pools every criterion.
    """
    frame = _current(store)
    judge = judge or default_judge(frame)
    before, after = human_labels(store, frame), adjudicated_labels(store, frame)
    group = (lambda c: c) if per_criterion else _family
    out = []
    for comparison in ("person-judge", "person-person"):
        if comparison == "person-judge":
            pairs_before, pairs_after = (
                human_judge_pairs(store, before, frame, judge),
                human_judge_pairs(store, after, frame, judge),
            )
            cols = ("human", "judge")
        else:
            pairs_before, pairs_after = human_pairs(before), human_pairs(after)
            cols = ("value_a", "value_b")
        if pairs_before.empty:
            continue
        pairs_before = pairs_before.assign(group=pairs_before["criterion"].map(group))
        pairs_after = pairs_after.assign(group=pairs_after["criterion"].map(group))
        keys = sorted(pairs_before["group"].unique(), key=lambda g: (g != "skill", g))
        for key in [*keys, "all"]:
            before_part = pairs_before if key == "all" else pairs_before[pairs_before["group"] == key]
            after_part = pairs_after if key == "all" else pairs_after[pairs_after["group"] == key]
            row_before, row_after = (
                kappa_row(before_part[cols[0]], before_part[cols[1]]),
                kappa_row(after_part[cols[0]], after_part[cols[1]]),
            )
            out.append(
                {
                    "criterion": key,
                    "comparison": comparison,
                    "n": row_before["n"],
                    "agreement_before": row_before["agreement"],
                    "kappa_before": row_before["kappa"],
                    "agreement_after": row_after["agreement"],
                    "kappa_after": row_after["kappa"],
                }
            )
    return out


def agreement_by_guideline_version(store: Store) -> list[dict[str, Any]]:
    """Return person-vs-judge agreement (raw, Cohen's kappa, n) per guideline version of the person's verdicts."""
    pairs = human_judge_pairs(store)
    out = []
    if pairs.empty:
        return out
    import pandas as pd  # lazily: the CLI's start-up does not pay for it

    pairs = pairs.assign(guideline_version=pairs["guideline_version"].astype("Int64"))
    for version, grp in pairs.groupby("guideline_version", dropna=False, sort=True):
        row = kappa_row(grp["human"], grp["judge"])
        out.append({"guideline_version": None if pd.isna(version) else int(version), **row})
    return out
