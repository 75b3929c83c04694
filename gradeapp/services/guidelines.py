"""Versioned grading guidelines: the text beside the rubric, one new version per edit.

The desk stores `current_version(store)` with every human verdict (`verdicts.guideline_version`),
so agreement can be split by the guideline a person was reading (`agreement_by_guideline_version`).
"""

from __future__ import annotations

from typing import Any

from gradeapp.db import Store, team_store
from gradeapp.errors import GradeappError

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


def ensure_guidelines(store: Store) -> int:
    """Install the default guidelines as version 1 when the project has none; return the latest version."""
    latest = team_store.latest_guideline(store)
    if latest is not None:
        return int(latest["version"])
    return team_store.add_guideline(store, DEFAULT_GUIDELINES, version=1)


def has_guidelines(store: Store) -> bool:
    """Return whether the project already holds a guideline version (read-only)."""
    return team_store.latest_guideline(store) is not None


def current_version(store: Store) -> int:
    """Return the version a new human verdict should record (installs the default on first use)."""
    return ensure_guidelines(store)


def current(store: Store) -> dict[str, Any]:
    """Return the latest guideline version (version, text, created), installing the default first."""
    ensure_guidelines(store)
    return team_store.latest_guideline(store)


def show(store: Store, version: int | None = None) -> dict[str, Any]:
    """Return one guideline version (the latest when version is None)."""
    if version is None:
        return current(store)
    for row in team_store.guideline_versions(store):
        if row["version"] == version:
            return row
    raise GradeappError(f"no guideline version {version} (see 'gradeapp guidelines history')")


def edit(store: Store, text: str) -> dict[str, Any]:
    """Store text as a new guideline version; return {'version', 'changed'} (unchanged text adds nothing)."""
    if not text.strip():
        raise GradeappError("the guideline text is empty; nothing was stored")
    latest = current(store)
    if text.strip() == latest["text"].strip():
        return {"version": latest["version"], "changed": False}
    return {"version": team_store.add_guideline(store, text), "changed": True}


def history(store: Store) -> list[dict[str, Any]]:
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
