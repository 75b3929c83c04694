"""The command examples of README.md and docs/*.md are run against the real CLI, so they cannot go stale.

A ```console block right after a line `<!-- runnable -->` is a session: each `$ gradeapp ...` line runs
(as `python -m gradeapp`, in a fresh temporary folder shared by the block, with its own data folder), and
the lines under it are its expected output. `...` alone on a line stands for any number of lines; `...`
inside a line for any text (a uuid, a time). `python -m tests.test_docs` rewrites the outputs from the
real commands, keeping those markers where they match.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- runnable -->"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Step:
    command: str
    expected: list[str]


@dataclass
class Session:
    path: Path
    first_line: int  # of the fence, 1-based
    last_line: int
    steps: list[Step]


def sessions(path: Path) -> list[Session]:
    """Return the runnable console blocks of a document."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for number, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        start = number + 1
        assert lines[start].startswith("```console"), (
            f"{path.name}:{start + 1}: {MARKER} before a non-console block"
        )
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
        steps: list[Step] = []
        for body in lines[start + 1 : end]:
            if body.startswith("$ "):
                steps.append(Step(body[2:], []))
            else:
                assert steps, f"{path.name}:{start + 2}: output before the first command"
                steps[-1].expected.append(body)
        found.append(Session(path, start + 1, end + 1, steps))
    return found


def run_session(session: Session, folder: Path) -> list[list[str]]:
    """Run each command of a session in `folder`; return the lines each printed (stdout, then stderr)."""
    env = {
        **os.environ,
        "GRADEAPP_DATA_DIR": str(folder / ".data"),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "110",
    }
    env.pop("GRADEAPP_PROJECT", None)
    outputs = []
    for step in session.steps:
        words = shlex.split(step.command)
        assert words[0] == "gradeapp", f"{session.path.name}: only gradeapp commands run: {step.command}"
        args = []
        for word in words[1:]:
            args += sorted(glob.glob(word, root_dir=folder)) if "*" in word else [word]
        done = subprocess.run(
            [sys.executable, "-m", "gradeapp", *args],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        text = done.stdout + done.stderr
        outputs.append([line.rstrip() for line in text.splitlines()])
    return outputs


def _line_matches(expected: str, got: str) -> bool:
    if "..." not in expected:
        return expected.rstrip() == got
    pattern = ".*".join(re.escape(part) for part in expected.rstrip().split("..."))
    return re.fullmatch(pattern, got) is not None


def matches(expected: list[str], got: list[str]) -> bool:
    """Tell whether output lines match the expected ones (`...` lines skip any number of lines)."""
    if not expected:
        return not got
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(matches(rest, got[i:]) for i in range(len(got) + 1))
    return bool(got) and _line_matches(head, got[0]) and matches(rest, got[1:])


ALL_SESSIONS = [s for doc in DOCUMENTS for s in sessions(doc)]


@pytest.mark.slow
@pytest.mark.parametrize("session", ALL_SESSIONS, ids=[f"{s.path.name}:{s.first_line}" for s in ALL_SESSIONS])
def test_documented_commands_print_what_the_documents_say(session, tmp_path):
    outputs = run_session(session, tmp_path)
    for step, got in zip(session.steps, outputs, strict=True):
        assert matches(step.expected, got), f"{session.path.name}, `$ {step.command}` printed:\n" + "\n".join(
            got
        )


def test_the_readme_has_runnable_examples_and_the_checker_can_fail():
    assert len(sessions(ROOT / "README.md")) >= 2
    assert matches(["a", "...", "c ..."], ["a", "b", "b", "c 123"])
    assert not matches(["a", "c"], ["a", "b", "c"])
    assert not matches(["uuid ..."], ["uid 1"])


def _update() -> None:
    """Rewrite the expected outputs of every runnable block from the real commands."""
    import tempfile

    for doc in DOCUMENTS:
        blocks = sessions(doc)
        if not blocks:
            continue
        lines = doc.read_text(encoding="utf-8").splitlines()
        for session in reversed(blocks):
            with tempfile.TemporaryDirectory() as folder:
                outputs = run_session(session, Path(folder))
            body = []
            for step, got in zip(session.steps, outputs, strict=True):
                body.append(f"$ {step.command}")
                body += step.expected if matches(step.expected, got) else got
            lines[session.first_line : session.last_line - 1] = body
        doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"updated {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    _update()
