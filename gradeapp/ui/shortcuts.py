"""The desk's keyboard shortcuts as plain data: menus and the cheat sheet are built from this list.

Each shortcut has a plain key (used when the focus is not in a text box) and a modified key that also
works while typing a note, because a text box keeps plain letters and digits for itself.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SKILL_KEYS = 9


@dataclass(frozen=True)
class Shortcut:
    """One action: its id, menu, label, and key sequences (QKeySequence strings, first one shown)."""

    action: str
    menu: str
    label: str
    keys: tuple[str, ...]


def skill_action(n: int) -> str:
    """Return the action id of the n-th skill criterion (1-based)."""
    return f"skill{n}"


GRADE: list[Shortcut] = [
    *(
        Shortcut(skill_action(n), "Grade", f"Skill {n}: fail / pass", (str(n), f"Alt+{n}"))
        for n in range(1, MAX_SKILL_KEYS + 1)
    ),
    Shortcut("topic", "Grade", "Topic: fail / pass", ("T", "Alt+T")),
    Shortcut("makes_sense", "Grade", "Makes sense: fail / pass", ("M", "Alt+M")),
    Shortcut("sentence_limit", "Grade", "Sentence limit: fail / pass", ("L", "Alt+L")),
    Shortcut("accept", "Grade", "Accept the rest (suggestion, else pass)", ("A", "Alt+A")),
    Shortcut("submit", "Grade", "Submit and go to the next item", ("Return", "Enter", "Ctrl+Return")),
    Shortcut("reopen", "Grade", "Reopen the last submitted item", ("U", "Alt+U")),
    Shortcut("flag", "Grade", "Flag / unflag for a second look", ("F", "Alt+F")),
    Shortcut("skip", "Grade", "Skip to the next item", ("S", "Alt+S")),
    Shortcut("note", "Grade", "Write a note (Esc leaves the note box)", ("N", "Alt+N")),
    Shortcut("next", "Grade", "Next item", ("]", "Alt+Right")),
    Shortcut("previous", "Grade", "Previous item", ("[", "Alt+Left")),
]

EDIT: list[Shortcut] = [
    Shortcut("undo", "Edit", "Undo", ("Ctrl+Z",)),
    Shortcut("redo", "Edit", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
]

VIEW: list[Shortcut] = [
    Shortcut("blind", "View", "Blind mode (hide the judge until submit)", ("Ctrl+B",)),
    Shortcut("filters", "View", "Queue filters", ("Ctrl+F",)),
    Shortcut("queue", "View", "Focus the queue", ("Ctrl+1",)),
    Shortcut("stats", "View", "Statistics…", ("Ctrl+Shift+S",)),
    Shortcut("adjudication", "View", "Adjudication…", ("Ctrl+Shift+A",)),
    Shortcut("run", "View", "Run generation/judge…", ("Ctrl+Shift+R",)),
    Shortcut("annotators", "View", "Annotators (quality signals)…", ("Ctrl+Shift+Q",)),
    Shortcut("guidelines", "View", "Edit guidelines…", ("Ctrl+Shift+G",)),
]

FILE: list[Shortcut] = [
    Shortcut("new", "File", "New project…", ("Ctrl+N",)),
    Shortcut("open", "File", "Open project…", ("Ctrl+O",)),
    Shortcut("import", "File", "Import…", ("Ctrl+I",)),
    Shortcut("export", "File", "Export…", ("Ctrl+E",)),
    Shortcut("close", "File", "Close window", ("Ctrl+W",)),
    Shortcut("quit", "File", "Quit", ("Ctrl+Q",)),
]

HELP: list[Shortcut] = [
    Shortcut("cheatsheet", "Help", "Keyboard shortcuts", ("?", "F1")),
    Shortcut("about", "Help", "About gradeapp", ()),
]

# Evidence (ui/evidence_view.py builds these actions itself): the Ctrl+Alt form of a criterion's key
# attaches the selected words; no plain key is taken from grading.
EVIDENCE: list[Shortcut] = [
    Shortcut("evidence_focus", "Evidence", "Focus the text (Shift+arrows select words)", ("Ctrl+2",)),
    *(
        Shortcut(
            f"evidence_{skill_action(n)}",
            "Evidence",
            f"Selection is evidence for skill {n}",
            (f"Ctrl+Alt+{n}",),
        )
        for n in range(1, MAX_SKILL_KEYS + 1)
    ),
    Shortcut("evidence_topic", "Evidence", "Selection is evidence for the topic", ("Ctrl+Alt+T",)),
    Shortcut("evidence_makes_sense", "Evidence", "Selection is evidence for makes sense", ("Ctrl+Alt+M",)),
    Shortcut(
        "evidence_sentence_limit", "Evidence", "Selection is evidence for the sentence limit", ("Ctrl+Alt+L",)
    ),
    Shortcut(
        "evidence_remove", "Evidence", "Remove your evidence under the selection or cursor", ("Ctrl+Alt+X",)
    ),
]

ALL: list[Shortcut] = FILE + EDIT + VIEW + GRADE + HELP
BY_ACTION: dict[str, Shortcut] = {s.action: s for s in ALL}

HOW_TO_GRADE = (
    "Every criterion starts undecided. Its key sets it to the opposite of its default (the default is the "
    "deterministic check's suggestion where there is one, otherwise pass), so the first press usually means "
    "fail; pressing again toggles. A (accept) gives every undecided criterion its default. Enter submits and "
    "opens the next item. A k-skill item therefore takes at most k + 4 keys: one per criterion that differs "
    "from its default, A, Enter."
)


def cheat_sheet(k: int | None = None) -> str:
    """Return the cheat sheet as plain text (the skill keys up to k when given)."""
    lines = ["How to grade", HOW_TO_GRADE, ""]
    menus = (
        ("Grade", GRADE),
        ("Evidence", EVIDENCE),
        ("Edit", EDIT),
        ("View", VIEW),
        ("File", FILE),
        ("Help", HELP),
    )
    for menu, items in menus:
        lines.append(menu)
        for s in items:
            skill = s.action.removeprefix("evidence_")
            if skill.startswith("skill") and k is not None and int(skill[5:]) > k:
                continue
            keys = "  or  ".join(s.keys) if s.keys else "(menu)"
            lines.append(f"  {keys:<36} {s.label}")
        lines.append("")
    lines.append("In the note box use the Alt (or Ctrl) form of a key; Esc returns to grading.")
    return "\n".join(lines)
