"""Annotator quality signals: pass rate, speed, agreement with others and the judge, fast decisions.

Speed comes from each person's first `submit` of an item (`reviews.seconds`: the dwell time of the item,
capped by the desk); a first submit faster than FAST_SECONDS (5 s, `gradeapp annotators --fast`) is a
"fast decision". A later submit of the same item (reopened with U, or revised after the reveal) measures
the second look, not the reading, so it counts neither as a submit nor for speed.
Agreement is over cells (generation x criterion): with the judge's majority over its runs, and with
every other person who graded the same cell (pairs pooled). `write_annotators_csv` writes the table
that `gradeapp export` ships as annotators.csv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gradeapp.core.judge_cells import popcount
from gradeapp.core.two_by_two import kappa_row
from gradeapp.db import Store, audit_store, team_store
from gradeapp.io.tables import write_csv
from gradeapp.services.adjudication import human_labels, human_pairs
from gradeapp.services.judge_run_cache import packed_judge_runs

FAST_SECONDS = 5.0  # a first read of a Skill-Mix text and its k + 3 criteria takes longer than this


def first_submits(store: Store) -> pd.DataFrame:
    """Return each person's first submit of each item: grader, generation_id, seconds, created (read-only)."""
    submits = team_store.submit_reviews(store)  # in insertion order
    return submits.drop_duplicates(["grader", "generation_id"], keep="first").reset_index(drop=True)


ANNOTATOR_COLUMNS = (
    "annotator",
    "items",
    "verdicts",
    "pass_rate",
    "submits",
    "median_seconds",
    "fast_decisions",
    "fast_share",
    "n_with_judge",
    "agreement_with_judge",
    "kappa_with_judge",
    "n_with_others",
    "agreement_with_others",
    "kappa_with_others",
    "warnings",
)


def fast_decisions(store: Store, threshold: float = FAST_SECONDS) -> pd.DataFrame:
    """Return the first submits faster than threshold seconds: annotator, uid, seconds, created (read-only)."""
    sub = first_submits(store)
    fast = sub[sub["seconds"].notna() & (sub["seconds"] < threshold)]
    uids = {gid: uid for uid, gid in team_store.uid_ids(store).items()}
    return pd.DataFrame(
        {
            "annotator": fast["grader"],
            "uid": fast["generation_id"].map(uids),
            "seconds": fast["seconds"],
            "created": fast["created"],
        }
    ).reset_index(drop=True)


def _judge_on_labels(store: Store, labels: pd.DataFrame, judge: str | None) -> pd.DataFrame:
    """Return the people's labels beside the judge's majority: grader, generation_id, criterion, human, judge.

    Computed from the judges' packed cells (services/audit.py), so the judge's millions of verdicts are
    never read row by row; the judge is the named one, else the one with most current verdicts.
    """
    cols = ["grader", "generation_id", "criterion", "human", "judge", "guideline_version"]
    counts = {}
    cells_of = {}
    labelled = labels["generation_id"].unique()
    candidates = [(jid, name) for jid, name in audit_store.judge_ids(store) if judge in (None, name)]
    # with one candidate there is nothing to rank by verdicts: only the labelled generations' cells are read
    only = labelled if len({name for _jid, name in candidates}) == 1 else None
    for jid, name in candidates:
        cell_gen, cells, names = packed_judge_runs(store, jid, generation_ids=only)
        n = int(popcount(cells["present"]).sum())
        if n:
            counts[name] = counts.get(name, 0) + n
            cells_of.setdefault(name, []).append((cell_gen, cells, names))
    if not counts:
        return pd.DataFrame(columns=cols)
    best = max(sorted(counts), key=lambda k: counts[k])  # most verdicts, ties: first by name
    parts = []
    for cell_gen, cells, names in cells_of[best]:  # graders of one name vote together, as their rows did
        # only the generations people labelled can pair: the judge's other millions of cells are left out
        on_labels = np.isin(cell_gen, labelled)
        cell_gen, cells = cell_gen[on_labels], cells[on_labels]
        crit = np.array([names[int(c)] for c in cells["code"]], dtype=object)
        parts.append(
            pd.DataFrame(
                {
                    "generation_id": cell_gen,
                    "criterion": crit,
                    "n_parsed": popcount(cells["parsed"]),
                    "n_pass": popcount(cells["passed"]),
                }
            )
        )
    maj = pd.concat(parts, ignore_index=True)
    if len(parts) > 1:
        maj = maj.groupby(["generation_id", "criterion"], sort=False, as_index=False)[
            ["n_parsed", "n_pass"]
        ].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        maj["judge"] = np.where(
            maj["n_parsed"] > 0, (maj["n_pass"] / maj["n_parsed"] > 0.5).astype(float), np.nan
        )
    maj = maj.dropna(subset=["judge"])[["generation_id", "criterion", "judge"]]
    maj = maj[maj["generation_id"].isin(labels["generation_id"].unique())]
    out = labels.merge(maj, on=["generation_id", "criterion"], how="inner")
    return out.rename(columns={"value": "human"})[cols]


def annotator_table(
    store: Store, threshold: float = FAST_SECONDS, judge: str | None = None
) -> list[dict[str, Any]]:
    """Return one row of quality signals per person (ANNOTATOR_COLUMNS), sorted by name (read-only).

    Reads the people's current verdicts and the judge's majority from its cells: never every verdict.
    """
    frame = audit_store.people_cell_verdicts(store)
    labels = human_labels(store, frame)
    with_judge = _judge_on_labels(store, labels, judge)
    pairs = human_pairs(labels)
    submits = first_submits(store)
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
            warnings.append(f"{n_fast} of {len(secs)} first submits took under {threshold:g} s")
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


def write_annotators_csv(store: Store, path: Path, threshold: float = FAST_SECONDS) -> Path:
    """Write annotators.csv (one row per person, ANNOTATOR_COLUMNS) to path; return the path.

    Goes through the export's CSV writer, so a name like '=cmd' cannot become a spreadsheet formula.
    """

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = annotator_table(store, threshold)
    return write_csv(pd.DataFrame(rows, columns=list(ANNOTATOR_COLUMNS)), path)
