"""Evidence on the command line: `gradeapp grade UID --evidence CRITERION=START-END` and its removal.

Not a command group of its own: marking evidence is part of grading an item, so `gradeapp grade`
takes these options (added by add_evidence_arguments) and runs them through apply_evidence_args.
"""

from __future__ import annotations

import argparse

from gradeapp.cli.options import ROW_ID
from gradeapp.errors import InputError
from gradeapp.services import evidence
from gradeapp.services.project import Store


def add_evidence_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --evidence and --remove-evidence to a command that grades one item."""
    parser.add_argument(
        "--evidence",
        action="append",
        metavar="CRITERION=START-END",
        help="attach the text's characters [START, END) as evidence for a criterion (repeatable)",
    )
    parser.add_argument(
        "--remove-evidence",
        action="append",
        type=ROW_ID,
        metavar="ID",
        help="remove one of your marks (repeatable)",
    )


def _span(spec: str) -> tuple[str, int, int]:
    criterion, _, span = spec.partition("=")
    start, _, end = span.partition("-")
    if not criterion or not start.isdigit() or not end.isdigit():
        raise InputError(
            f"--evidence {spec}: use CRITERION=START-END with character offsets", field="evidence"
        )
    return criterion, int(start), int(end)


def apply_evidence_args(
    store: Store, grader_id: int, generation_id: int, args: argparse.Namespace
) -> list[str]:
    """Mark and remove evidence as the options ask; return one line per current mark of this person."""
    for spec in args.evidence or []:
        evidence.mark_evidence(store, grader_id, generation_id, *_span(spec))
    for mark_id in args.remove_evidence or []:
        evidence.remove_evidence(store, grader_id, mark_id)
    return [
        f"evidence {m['id']} {m['criterion']} [{m['start_char']}, {m['end_char']}): {m['quote']!r}"
        for m in evidence.generation_evidence(store, generation_id, [grader_id])
    ]
