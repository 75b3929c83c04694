"""The guidelines commands: parse the arguments, call gradeapp.services.guidelines, print the result."""

from __future__ import annotations

import argparse
from pathlib import Path

from gradeapp.cli.options import open_store, whole
from gradeapp.cli.output import print_json
from gradeapp.errors import InputError
from gradeapp.services.adjudication import agreement_by_guideline_version
from gradeapp.services.guidelines import edit, ensure_guidelines, has_guidelines, history, show


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp guidelines init|show|edit|history|agreement`."""
    g = subparsers.add_parser("guidelines", help="the versioned grading guidelines").add_subparsers(
        dest="guidelines_command", required=True
    )
    p = g.add_parser("init", parents=[common], help="install the default guidelines as version 1 (if none)")
    p.set_defaults(func=cmd_guidelines_init)
    p = g.add_parser("show", parents=[common], help="print a guideline version (default: the latest)")
    p.add_argument("--version", type=whole(1, 2**63 - 1), dest="guideline_version", help="version number")
    p.set_defaults(func=cmd_guidelines_show)
    p = g.add_parser("edit", parents=[common], help="store the text of a file as a new version")
    p.add_argument("--file", required=True, metavar="F", help="UTF-8 text file with the whole new text")
    p.set_defaults(func=cmd_guidelines_edit)
    p = g.add_parser("history", parents=[common], help="list the versions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_guidelines_history)
    p = g.add_parser("agreement", parents=[common], help="person-vs-judge agreement per guideline version")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_guidelines_agreement)


def cmd_guidelines_init(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        had = has_guidelines(store)
        version = ensure_guidelines(store)
    print(
        f"guidelines already at version {version}" if had else "installed the default guidelines as version 1"
    )
    return 0


# a guideline is read by people on every item; a megabyte is some 300 pages
MAX_GUIDELINE_BYTES = 1_000_000


def cmd_guidelines_show(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        row = show(store, args.guideline_version)
    print(f"# version {row['version']} ({row['created']})")
    print(row["text"].rstrip("\n"))
    return 0


def cmd_guidelines_edit(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_GUIDELINE_BYTES + 1)  # never more: the file may be anything
    except OSError as exc:
        raise InputError(f"cannot read the guideline text ({exc})", file=path) from exc
    if len(raw) > MAX_GUIDELINE_BYTES:
        raise InputError(f"over {MAX_GUIDELINE_BYTES:,} bytes: a guideline is a page of text", file=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None
    with open_store(args) as store:
        result = edit(store, text)
    if result["changed"]:
        print(f"stored guideline version {result['version']}")
    else:
        print(f"unchanged: the text is guideline version {result['version']}")
    return 0


def cmd_guidelines_history(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        ensure_guidelines(store)
        rows = history(store)
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        changed = f", first change at line {r['first_changed_line']}" if r["first_changed_line"] else ""
        print(f"v{r['version']}  {r['created']}  {r['lines']} lines{changed}")
    return 0


def cmd_guidelines_agreement(args: argparse.Namespace) -> int:
    with open_store(args, write=False) as store:
        rows = agreement_by_guideline_version(store)
    if args.json:
        print_json(rows)
        return 0
    print(f"{'version':>8} {'n':>6} {'agreement':>10} {'kappa':>7}")
    for r in rows:
        kappa = "-" if r["kappa"] is None else f"{r['kappa']:.3f}"
        agree = "-" if r["agreement"] is None else f"{r['agreement']:.3f}"
        print(
            f"{r['guideline_version'] if r['guideline_version'] is not None else 'none':>8} {r['n']:>6} {agree:>10} {kappa:>7}"
        )
    return 0
