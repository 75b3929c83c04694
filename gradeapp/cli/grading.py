"""The grading commands: parse the arguments, call gradeapp.services.grading, print the result."""

from __future__ import annotations

import argparse
from typing import Any

from gradeapp.cli.evidence import add_evidence_arguments, apply_evidence_args
from gradeapp.cli.options import K_VALUE, ROW_LIMIT, SECONDS, open_store
from gradeapp.cli.output import print_json
from gradeapp.errors import InputError
from gradeapp.services.grading import (
    accept_remaining,
    add_note,
    load_item,
    progress,
    queue_page,
    set_decisions,
    set_flag,
    submit,
    unsubmit,
)

NOBODY = 0  # a grader id no row has (SQLite assigns rowids from 1): an empty queue history


def _annotator(args) -> str:
    import getpass
    import os

    return args.annotator or os.environ.get("GRADEAPP_ANNOTATOR") or getpass.getuser()


def _filters(args) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "status": args.status,
            "k": args.k,
            "topic": args.topic,
            "student": args.student,
            "draw": args.draw,
        }.items()
        if v is not None
    }


def cmd_queue(args: argparse.Namespace) -> int:
    """List the queue of an annotator with each item's status, then the progress line."""
    with open_store(args, write=False) as store:
        # a reading command: a person who has graded nothing yet has no grader row, and none is made
        grader = store.find_grader_id("human", _annotator(args))
        grader = NOBODY if grader is None else grader
        rows = queue_page(store, grader, _filters(args), 0, args.limit)
        prog = progress(store, grader, _filters(args))
    if args.json:
        items = [dict(zip(("id", "uid", "student", "k", "topic", "status"), r, strict=True)) for r in rows]
        print_json({"items": items, **prog}, indent=None)
        return 0
    for _id, uid, student, k, topic, status in rows:
        print(f"{uid:<14} {student:<20} k={k} {topic:<24} {status}")
    median = "-" if prog["median_seconds"] is None else f"{prog['median_seconds']:.0f}"
    print(f"done {prog['done']} / {prog['total']}, median {median} s/item")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    """Record an annotator's decisions on one item (append-only), then optionally submit, flag or note."""
    with open_store(args) as store:
        gid = store.generation_id(args.uid)
        if gid is None:
            raise InputError(f"no generation with uid '{args.uid}'", field="uid")
        grader = store.grader_id("human", _annotator(args))
        item = load_item(store, grader, gid, blind=not args.no_blind)
        values: dict[str, int | None] = {}
        for spec in args.set or []:
            crit, _, value = spec.partition("=")
            if crit not in item.criteria or value not in ("0", "1", "none"):
                raise InputError(
                    f"--set {spec}: use CRITERION=1|0|none with one of {', '.join(item.criteria)}",
                    field="set",
                )
            values[crit] = None if value == "none" else int(value)
        if values:
            item.decisions.update(set_decisions(store, grader, gid, values, blind=not args.no_blind).values)
        if args.accept:
            accept_remaining(store, grader, item, blind=not args.no_blind)
        if args.note is not None:
            add_note(store, grader, gid, args.note)
        if args.flag is not None:
            set_flag(store, grader, gid, args.flag)
        if args.unsubmit:
            unsubmit(store, grader, gid)
        if args.submit:
            submit(store, grader, gid, seconds=args.seconds)
        marks = apply_evidence_args(store, grader, gid, args)
        item = load_item(store, grader, gid, blind=not args.no_blind)
    state = "submitted" if item.submitted else "draft"
    print(f"{item.uid} ({state}): " + ", ".join(f"{c}={item.decisions[c]}" for c in item.criteria))
    if item.revealed and item.judge:
        print(f"judge {item.judge_name}: " + ", ".join(f"{c}={v.label()}" for c, v in item.judge.items()))
    for line in marks:
        print(line)
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the desk's headless commands: queue, grade."""
    p = subparsers.add_parser("queue", parents=[common], help="list an annotator's queue and progress")
    p.add_argument("--annotator", help="person's name (default: $GRADEAPP_ANNOTATOR or your login)")
    p.add_argument("--status", choices=["all", "ungraded", "graded", "flagged"])
    p.add_argument("--k", type=K_VALUE)
    p.add_argument("--topic")
    p.add_argument("--student")
    p.add_argument("--draw", help="audit draw name")
    p.add_argument("--limit", type=ROW_LIMIT, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_queue)

    p = subparsers.add_parser("grade", parents=[common], help="record a person's verdicts on one generation")
    p.add_argument("uid", help="the generation's uid")
    p.add_argument("--annotator", help="person's name (default: $GRADEAPP_ANNOTATOR or your login)")
    p.add_argument(
        "--set", action="append", metavar="CRITERION=1|0|none", help="decide a criterion (repeatable)"
    )
    p.add_argument("--accept", action="store_true", help="give undecided criteria their default")
    p.add_argument("--submit", action="store_true", help="submit the item (all criteria decided)")
    p.add_argument("--unsubmit", action="store_true", help="take back a submission")
    p.add_argument("--flag", action=argparse.BooleanOptionalAction, default=None, help="flag or --no-flag")
    p.add_argument("--note", help="store a note on the item")
    p.add_argument("--seconds", type=SECONDS, help="time spent, stored with the submit")
    p.add_argument("--no-blind", action="store_true", help="the person saw the judge (post-reveal)")
    add_evidence_arguments(p)
    p.set_defaults(func=cmd_grade)
