"""The adjudication commands: parse the arguments, call gradeapp.services.adjudication, print the result."""

from __future__ import annotations

import argparse

from gradeapp.cli.options import ROW_LIMIT, open_store
from gradeapp.cli.output import print_json
from gradeapp.services.adjudication import (
    DEFAULT_ADJUDICATOR,
    REASON_TAGS,
    agreement_table,
    decide,
    disagreements,
)


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp adjudicate list|decide|agreement`."""
    a = subparsers.add_parser(
        "adjudicate", help="disagreements between people and with the judge"
    ).add_subparsers(dest="adjudicate_command", required=True)
    p = a.add_parser("list", parents=[common], help="disputed cells, worst first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--open", action="store_true", help="only cells without a decision")
    p.add_argument("--limit", type=ROW_LIMIT, help="show at most N cells")
    p.add_argument("--judge", help="judge grader name (default: the one with most verdicts)")
    p.set_defaults(func=cmd_adjudicate_list)
    p = a.add_parser("decide", parents=[common], help="record the adjudicator's decision on a cell")
    p.add_argument("uid", metavar="GEN_UID")
    p.add_argument("criterion", metavar="CRITERION", help="e.g. topic, makes_sense, 'skill:<name>'")
    p.add_argument("value", metavar="VALUE", type=int, choices=[0, 1])
    p.add_argument("--reason", required=True, help="one of: " + ", ".join(REASON_TAGS))
    p.add_argument(
        "--by", default=DEFAULT_ADJUDICATOR, metavar="NAME", help="adjudicator name (default 'adjudicator')"
    )
    p.add_argument("--note", help="free text kept with the decision")
    p.set_defaults(func=cmd_adjudicate_decide)
    p = a.add_parser("agreement", parents=[common], help="agreement before vs after adjudication")
    p.add_argument("--json", action="store_true")
    p.add_argument("--per-criterion", action="store_true", help="one row per skill instead of skills pooled")
    p.set_defaults(func=cmd_adjudicate_agreement)


def cmd_adjudicate_list(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        cells = disagreements(store, judge=args.judge, include_decided=not args.open)
    if args.limit:
        cells = cells[: args.limit]
    if args.json:
        print_json(cells)
        return 0
    if not cells:
        print("no disagreements")
        return 0
    for c in cells:
        people = " ".join(f"{p['name']}={p['value']}" for p in c["people"])
        judge = f" judge={c['judge']['value']}" if c["judge"] else ""
        done = (
            f"  -> {c['decision']['value']} ({REASON_TAGS[c['decision']['reason']]})" if c["decision"] else ""
        )
        print(f"{c['criterion_rate']:>4.0%} {c['uid']:<14} {c['criterion']:<40} {people}{judge}{done}")
    print(f"{len(cells)} disputed cells, {sum(c['decision'] is None for c in cells)} undecided")
    return 0


def cmd_adjudicate_decide(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        row = decide(store, args.uid, args.criterion, args.value, args.reason, by=args.by, note=args.note)
    print(f"{row['uid']} {row['criterion']}: {row['value']} by {row['by']} ({REASON_TAGS[row['reason']]})")
    return 0


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def cmd_adjudicate_agreement(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        rows = agreement_table(store, per_criterion=args.per_criterion)
    if args.json:
        print_json(rows)
        return 0
    print(
        f"{'criterion':<40} {'comparison':<14} {'n':>5} {'agree before':>12} {'after':>6} {'kappa before':>12} {'after':>6}"
    )
    for r in rows:
        print(
            f"{r['criterion']:<40} {r['comparison']:<14} {r['n']:>5} {_fmt(r['agreement_before']):>12} "
            f"{_fmt(r['agreement_after']):>6} {_fmt(r['kappa_before']):>12} {_fmt(r['kappa_after']):>6}"
        )
    return 0
