"""The quality commands: parse the arguments, call gradeapp.services.quality, print the result."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gradeapp.cli.options import SECONDS, open_store
from gradeapp.cli.output import print_json
from gradeapp.services.quality import FAST_SECONDS, annotator_table, write_annotators_csv


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp annotators`."""
    p = subparsers.add_parser(
        "annotators", parents=[common], help="per-annotator quality signals (annotators.csv)"
    )
    p.add_argument("--out", metavar="FILE", help="write annotators.csv to FILE")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--fast",
        type=SECONDS,
        default=FAST_SECONDS,
        metavar="SECONDS",
        help="fast-decision threshold (default 5)",
    )
    p.set_defaults(func=cmd_annotators)


def _fmt(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def cmd_annotators(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        rows = annotator_table(store, args.fast)
        if args.out:
            write_annotators_csv(store, Path(args.out), args.fast)
    if args.json:
        print_json(rows)
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
