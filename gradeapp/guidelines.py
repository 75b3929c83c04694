"""Versioned grading guidelines: the text beside the rubric, one new version per edit.

The desk stores `current_version(store)` with every human verdict (`verdicts.guideline_version`),
so agreement can be split by the guideline a person was reading (`agreement_by_guideline_version`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gradeapp.db import team_store
from gradeapp.errors import GradeappError, InputError

# One paragraph per line: the desk and the editor wrap it to their width.
DEFAULT_GUIDELINES = (
    "Grading guidelines (version 1)\n"
    "\n"
    "Grade each point on its own, from the text alone. Decide before you look at the judge.\n"
    "\n"
    "1. Correctly illustrates <skill>\n"
    "   Pass when a reader who knows the skill's definition can point to the words that show it, and "
    "those words use the skill as defined (not a near relative: an analogy is not a metaphor, a "
    "question is not a rhetorical question unless no answer is expected). The skill must do work in "
    "the text; a passing mention or the skill's name alone does not count. Naming the skill is "
    "penalised by the program, so judge only whether it is shown. When the example in the catalog and"
    " the definition disagree, follow the definition.\n"
    "\n"
    "2. Pertains to <topic>\n"
    "   Pass when the topic is the subject or the clear setting of the text, so that a reader would "
    "name it when asked what the text is about. A single word from the topic's field in an otherwise "
    "unrelated text fails.\n"
    "\n"
    "3. Text makes sense\n"
    "   Pass when the text is grammatical enough to read without effort and says something coherent: "
    "no contradictions, no invented words, no sentence that only strings the skills together. Odd or "
    "playful is fine; nonsense is not. Do not fail a text for a skill it misses: that is point 1.\n"
    "\n"
    "4. At most n sentences (n = max(1, k - 1))\n"
    "   A sentence ends at a full stop, question mark or exclamation mark followed by a new sentence;"
    " abbreviations (Dr., e.g.) and decimal numbers do not end one; a semicolon or a colon does not "
    "end one; a line break without a terminal mark does not either. Quoted speech inside a sentence "
    "is part of that sentence. The program counts sentences and replaces this point in the scores; "
    "grade it anyway, as you count, so that disagreements with the program can be found.\n"
    "\n"
    "When unsure, decide anyway, write a note saying why, and flag the item: unsure cases are how "
    "these guidelines get better.\n"
    "\n"
)


def ensure_guidelines(store) -> int:
    """Install the default guidelines as version 1 when the project has none; return the latest version."""
    latest = team_store.latest_guideline(store)
    if latest is not None:
        return int(latest["version"])
    return team_store.add_guideline(store, DEFAULT_GUIDELINES, version=1)


def current_version(store) -> int:
    """Return the version a new human verdict should record (installs the default on first use)."""
    return ensure_guidelines(store)


def current(store) -> dict[str, Any]:
    """Return the latest guideline version (version, text, created), installing the default first."""
    ensure_guidelines(store)
    return team_store.latest_guideline(store)


def show(store, version: int | None = None) -> dict[str, Any]:
    """Return one guideline version (the latest when version is None)."""
    if version is None:
        return current(store)
    for row in team_store.guideline_versions(store):
        if row["version"] == version:
            return row
    raise GradeappError(f"no guideline version {version} (see 'gradeapp guidelines history')")


def edit(store, text: str) -> dict[str, Any]:
    """Store text as a new guideline version; return {'version', 'changed'} (unchanged text adds nothing)."""
    if not text.strip():
        raise GradeappError("the guideline text is empty; nothing was stored")
    latest = current(store)
    if text.strip() == latest["text"].strip():
        return {"version": latest["version"], "changed": False}
    return {"version": team_store.add_guideline(store, text), "changed": True}


def history(store) -> list[dict[str, Any]]:
    """Return every version, oldest first, with its size and the first changed line against the one before."""
    rows = team_store.guideline_versions(store)
    out = []
    prev: list[str] = []
    for row in rows:
        lines = row["text"].splitlines()
        first_change = next(
            (i + 1 for i, (a, b) in enumerate(zip(prev, lines, strict=False)) if a != b),
            min(len(prev), len(lines)) + 1 if len(prev) != len(lines) else None,
        )
        out.append(
            {
                "version": row["version"],
                "created": row["created"],
                "lines": len(lines),
                "chars": len(row["text"]),
                "first_changed_line": first_change if prev else None,
            }
        )
        prev = lines
    return out


def agreement_by_guideline_version(store) -> list[dict[str, Any]]:
    """Return person-vs-judge agreement (raw, Cohen's kappa, n) per guideline version of the person's verdicts."""
    from gradeapp.adjudication import human_judge_pairs, kappa_row

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


# -- CLI --------------------------------------------------------------------------------------------
def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp guidelines init|show|edit|history|agreement`."""
    g = subparsers.add_parser("guidelines", help="the versioned grading guidelines").add_subparsers(
        dest="guidelines_command", required=True
    )
    p = g.add_parser("init", parents=[common], help="install the default guidelines as version 1 (if none)")
    p.set_defaults(func=_cmd_init)
    p = g.add_parser("show", parents=[common], help="print a guideline version (default: the latest)")
    p.add_argument("--version", type=int, dest="guideline_version", help="version number")
    p.set_defaults(func=_cmd_show)
    p = g.add_parser("edit", parents=[common], help="store the text of a file as a new version")
    p.add_argument("--file", required=True, metavar="F", help="UTF-8 text file with the whole new text")
    p.set_defaults(func=_cmd_edit)
    p = g.add_parser("history", parents=[common], help="list the versions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_history)
    p = g.add_parser("agreement", parents=[common], help="person-vs-judge agreement per guideline version")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_agreement)


def _cmd_init(args) -> int:
    from gradeapp.cli import open_store

    with open_store(args) as store:
        had = team_store.latest_guideline(store)
        version = ensure_guidelines(store)
    print(
        f"guidelines already at version {version}" if had else "installed the default guidelines as version 1"
    )
    return 0


def _cmd_show(args) -> int:
    from gradeapp.cli import open_store

    with open_store(args) as store:
        row = show(store, args.guideline_version)
    print(f"# version {row['version']} ({row['created']})")
    print(row["text"].rstrip("\n"))
    return 0


def _cmd_edit(args) -> int:
    from gradeapp.cli import open_store

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the guideline text ({exc})", file=path) from exc
    with open_store(args) as store:
        result = edit(store, text)
    if result["changed"]:
        print(f"stored guideline version {result['version']}")
    else:
        print(f"unchanged: the text is guideline version {result['version']}")
    return 0


def _cmd_history(args) -> int:
    import json

    from gradeapp.cli import open_store

    with open_store(args) as store:
        ensure_guidelines(store)
        rows = history(store)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        changed = f", first change at line {r['first_changed_line']}" if r["first_changed_line"] else ""
        print(f"v{r['version']}  {r['created']}  {r['lines']} lines{changed}")
    return 0


def _cmd_agreement(args) -> int:
    import json

    from gradeapp.cli import open_store

    with open_store(args) as store:
        rows = agreement_by_guideline_version(store)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'version':>8} {'n':>6} {'agreement':>10} {'kappa':>7}")
    for r in rows:
        kappa = "-" if r["kappa"] is None else f"{r['kappa']:.3f}"
        agree = "-" if r["agreement"] is None else f"{r['agreement']:.3f}"
        print(
            f"{r['guideline_version'] if r['guideline_version'] is not None else 'none':>8} {r['n']:>6} {agree:>10} {kappa:>7}"
        )
    return 0
