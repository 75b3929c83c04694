"""The team commands: parse the arguments, call gradeapp.services.team, print the result."""

from __future__ import annotations

import argparse
from pathlib import Path

from gradeapp.cli.options import FRACTION, SEED, open_store, whole
from gradeapp.cli.output import print_json
from gradeapp.services.team import assign, merge_packages, package_status


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp assign`, `gradeapp merge` and `gradeapp packages`."""
    p = subparsers.add_parser(
        "assign", parents=[common], help="split the audit draw into one package per annotator"
    )
    p.add_argument("--annotators", required=True, help="comma-separated names, e.g. ann,ben,cleo")
    p.add_argument(
        "--overlap",
        type=FRACTION,
        default=0.2,
        help="fraction of generations given to several people (default 0.2)",
    )
    p.add_argument(
        "--copies", type=whole(1, 100), default=2, help="people per overlapping generation (default 2)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the package files")
    p.add_argument("--draw", metavar="NAME", help="audit draw to split (default: the newest)")
    p.add_argument(
        "--all", action="store_true", dest="use_all", help="split every generation instead of a draw"
    )
    p.add_argument("--seed", type=SEED, default=1, help="seed of the split (default 1)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_assign)
    p = subparsers.add_parser(
        "merge", parents=[common], help="merge the people's work from packages (idempotent)"
    )
    p.add_argument("packages", nargs="+", metavar="PACKAGE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_merge)
    p = subparsers.add_parser("packages", parents=[common], help="list the packages this project issued")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_packages)


def cmd_assign(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        report = assign(
            store,
            args.annotators.split(","),
            Path(args.out),
            overlap=args.overlap,
            copies=args.copies,
            draw=args.draw,
            use_all=args.use_all,
            seed=args.seed,
        )
    if args.json:
        print_json(report)
        return 0
    shared = sum(v for k, v in report["copies"].items() if int(k) > 1)
    print(
        f"split {report['generations']} generations of the {report['source']}: {shared} go to more than one person"
    )
    for p in report["packages"]:
        print(f"  {p['annotator']:<20} {p['generations']:>5} generations  {p['path']}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    with open_store(args, long_job=True, backup="merge") as store:
        reports = merge_packages(store, [Path(p) for p in args.packages])
    if args.json:
        print_json(reports)
        return 0
    for r in reports:
        print(
            f"{r['package']} ({r['annotator']}): {r['verdicts_added']} verdicts added, {r['verdicts_known']} already merged; "
            f"{r['reviews_added']} reviews added, {r['reviews_known']} already merged"
        )
    return 0


def cmd_packages(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        rows = package_status(store)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no packages issued yet (see 'gradeapp assign')")
    for r in rows:
        print(
            f"{r['annotator']:<20} {r['generations']:>5} generations  merged {r['merges']}x, {r['verdicts_added']} verdicts  {r['file']}"
        )
    return 0
