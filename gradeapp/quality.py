"""Annotator quality signals: pass rate, speed, agreement with others and the judge, fast decisions.

Speed comes from the people's `submit` review events (`reviews.seconds`: the dwell time of an item,
capped by the desk); a submit faster than the threshold (default 5 s) is a "fast decision".
Agreement is over cells (generation x criterion): with the judge's majority over its runs, and with
every other person who graded the same cell (pairs pooled). `write_annotators_csv` writes the table
that `gradeapp export` ships as annotators.csv.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from gradeapp.adjudication import default_judge, human_judge_pairs, human_labels, human_pairs, kappa_row
from gradeapp.db import team_store

FAST_SECONDS = 5.0

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


def fast_decisions(store, threshold: float = FAST_SECONDS) -> pd.DataFrame:
    """Return the submits faster than threshold seconds: annotator, uid, seconds, created (read-only)."""
    sub = team_store.submit_reviews(store)
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


def annotator_table(store, threshold: float = FAST_SECONDS, judge: str | None = None) -> list[dict[str, Any]]:
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


def write_annotators_csv(store, path: Path, threshold: float = FAST_SECONDS) -> Path:
    """Write annotators.csv (one row per person, ANNOTATOR_COLUMNS) to path; return the path.

    Goes through the export's CSV writer, so a name like '=cmd' cannot become a spreadsheet formula.
    """
    from gradeapp.export import write_csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = annotator_table(store, threshold)
    return write_csv(pd.DataFrame(rows, columns=list(ANNOTATOR_COLUMNS)), path)


# -- CLI --------------------------------------------------------------------------------------------
def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp annotators`."""
    p = subparsers.add_parser(
        "annotators", parents=[common], help="per-annotator quality signals (annotators.csv)"
    )
    p.add_argument("--out", metavar="FILE", help="write annotators.csv to FILE")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--fast",
        type=float,
        default=FAST_SECONDS,
        metavar="SECONDS",
        help="fast-decision threshold (default 5)",
    )
    p.set_defaults(func=_cmd_annotators)


def _fmt(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _cmd_annotators(args) -> int:
    from gradeapp.cli import open_store

    with open_store(args) as store:
        rows = annotator_table(store, args.fast)
        if args.out:
            write_annotators_csv(store, Path(args.out), args.fast)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.out:
        print(f"wrote {args.out}")
    print(
        f"{'annotator':<20} {'items':>5} {'pass':>6} {'median s':>8} {'fast':>5} {'vs judge':>8} {'κ':>6} {'vs others':>9} {'κ':>6}"
    )
    for r in rows:
        print(
            f"{r['annotator']:<20} {r['items']:>5} {_fmt(r['pass_rate']):>6} {_fmt(r['median_seconds'], '.1f'):>8} "
            f"{r['fast_decisions']:>5} {_fmt(r['agreement_with_judge']):>8} {_fmt(r['kappa_with_judge']):>6} "
            f"{_fmt(r['agreement_with_others']):>9} {_fmt(r['kappa_with_others']):>6}"
        )
        if r["warnings"]:
            print(f"{'':<20} warning: {r['warnings']}")
    return 0
