"""One way to touch a live project: SQLite connections (or its backup API), never a file descriptor of ours.

SQLite's "How To Corrupt An SQLite Database File" (section 2.2): POSIX advisory locks belong to a process
and a file, so closing *any* descriptor of the project file drops every lock the process's connections
hold on it. Another process then believes it is the last one open, checkpoints and deletes the -wal and
-shm under this process's feet. The tests here show the locks survive whatever gradeapp does to look at a
file, and scan the package so that a new direct open of a project file cannot slip in.
"""

from __future__ import annotations

import ast
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gradeapp.db import open_project
from gradeapp.db.connection import inspect_file, open_readonly
from gradeapp.services.backup import rolling_in_background
from tests.fakeopenai import make_project

PACKAGE = Path(__file__).resolve().parents[2] / "gradeapp"

# A second process writes one row and closes. When it believes it is the last connection (because our
# process lost its locks), it checkpoints and deletes the -wal: the test sees the -wal gone.
WRITE_AND_CLOSE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("INSERT INTO topics(name) VALUES ('from another process')")
conn.close()
"""


def _other_process_writes(path: Path) -> None:
    subprocess.run([sys.executable, "-c", WRITE_AND_CLOSE, str(path)], check=True)


@pytest.mark.parametrize(
    "look",
    [
        pytest.param(lambda p: inspect_file(p), id="inspect_file"),
        pytest.param(lambda p: open_readonly(p).close(), id="open_readonly"),
        pytest.param(lambda p: open_project(p, readonly=True).close(), id="open_project_readonly"),
        pytest.param(lambda p: rolling_in_background(p).join(), id="desk_background_backup"),
    ],
)
def test_looking_at_an_open_project_keeps_this_process_locks(tmp_path, look):
    path = make_project(tmp_path / "p.gradeapp", n_generations=3)
    with open_project(path) as store:
        store.add_topics(["Kites"])  # the -wal now holds a commit
        assert Path(f"{path}-wal").exists()
        look(path)
        _other_process_writes(path)
        # our connection is still open: the other process must not have taken the file for its own
        assert Path(f"{path}-wal").exists(), "this process's locks were dropped: the -wal was deleted"
        store.add_topics(["Kites 2"])
        assert store.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn = sqlite3.connect(path)
    names = {r[0] for r in conn.execute("SELECT name FROM topics")}
    conn.close()
    assert {"Kites", "Kites 2", "from another process"} <= names


# -- the source scan ------------------------------------------------------------------------------
# Calls that open, copy, move or delete a file by its name (_touches_a_file). Each place below is reviewed: it never touches
# a live project, its -wal or its -shm (or, for the backup files, only files no connection has open).
REVIEWED = {
    # input files (JSONL, CSV, reference folders, prompt lists, the guidelines text) read by name
    ("gradeapp/io/importers/sources.py", "file_digest"),
    ("gradeapp/io/text.py", "open_text"),
    ("gradeapp/io/text.py", "read_jsonl"),
    ("gradeapp/core/prompts.py", "_load_list"),
    ("gradeapp/cli/guidelines.py", "cmd_guidelines_edit"),
    # the Batch API's own JSONL and result files
    ("gradeapp/llm/batch.py", "write_batch"),
    ("gradeapp/llm/batch.py", "_poll_one"),
    ("gradeapp/llm/batch.py", "ingest_file"),
    ("gradeapp/llm/batch.py", "submit_batch"),
    # the stdout of a command that prints nothing is /dev/null
    ("gradeapp/cli/__init__.py", "main"),
    # the export's own files and staging folder
    ("gradeapp/io/paper.py", "write_paper_outputs"),
    ("gradeapp/io/report.py", "write_report"),
    ("gradeapp/services/export.py", "export_project"),
    ("gradeapp/services/export.py", "remove_leftover_staging"),
    # backup files: written under a temporary name by a connection closed before the rename
    ("gradeapp/db/backup.py", "write_backup"),
    ("gradeapp/db/backup.py", "_make_room"),
    ("gradeapp/db/backup.py", "prune"),
    ("gradeapp/db/backup.py", "remove_stale_copies"),
    # packages this process wrote and closed, removed when the assignment fails
    ("gradeapp/services/team.py", "assign"),
    # the one whole-file rename of a project: a file SQLite cannot read, so no connection can use it
    ("gradeapp/db/backup.py", "replace_unreadable"),
    # the staging copy of a restore (a file of our own, closed before it is removed)
    ("gradeapp/services/backup.py", "restore"),
    ("gradeapp/db/backup.py", "stage_restore"),
    # the demo, built under a temporary name (closed) and linked where no file is yet
    ("gradeapp/services/demo.py", "build_demo"),
    # the local model: its GGUF file hashed, the server's log, and the note of a running server
    ("gradeapp/llm/local_server.py", "file_sha256"),
    ("gradeapp/llm/local_server.py", "start"),
    ("gradeapp/llm/local_server.py", "_tail"),
    ("gradeapp/llm/local_server.py", "write_note"),
    ("gradeapp/llm/local_server.py", "remove_note"),
    ("gradeapp/llm/local_server.py", "running_server"),
    # window.views.open(key) opens one of the desk's windows, not a file
    ("gradeapp/ui/desk_actions.py", "_handlers"),
}


def _file_calls(source: str) -> list[tuple[str, int]]:
    """Return (enclosing top-level function, line) of every call that touches a file by its name."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and function == "<module>":
                name = child.name
            if isinstance(child, ast.Call) and _touches_a_file(child):
                found.append((name, child.lineno))
            visit(child, name)

    visit(ast.parse(source), "<module>")
    return found


def _touches_a_file(call: ast.Call) -> bool:
    """Return whether a call opens, copies, moves or deletes a file (not str.replace, frame.rename...)."""
    callee = call.func
    if isinstance(callee, ast.Name):
        return callee.id == "open"
    if not isinstance(callee, ast.Attribute):
        return False
    owner = callee.value.id if isinstance(callee.value, ast.Name) else ""
    one_path = len(call.args) == 1 and not call.keywords
    match callee.attr:
        case "open" | "unlink" | "read_bytes" | "write_bytes" | "read_text" | "write_text" | "truncate":
            return True
        case "replace" | "rename":  # os.replace(a, b), Path.replace(b); not str.replace(a, b)
            return owner == "os" or one_path
        case "remove" | "dup2" | "link":
            return owner == "os"
        case "copy" | "copyfile" | "copy2" | "copytree" | "move" | "rmtree":
            return owner == "shutil"
    return False


def test_no_code_opens_a_project_file_except_where_reviewed():
    unreviewed = []
    for module in sorted(PACKAGE.rglob("*.py")):
        rel = module.relative_to(PACKAGE.parent).as_posix()
        for function, line in _file_calls(module.read_text(encoding="utf-8")):
            if (rel, function) not in REVIEWED:
                unreviewed.append(f"{rel}:{line} in {function}")
    assert not unreviewed, (
        "a file is opened, copied, moved or deleted by name outside the reviewed places; a project file "
        "must be touched only through SQLite (see docs/safety.md): " + ", ".join(unreviewed)
    )


def test_the_scan_sees_a_direct_open():
    source = "def peek(path):\n    with open(path, 'rb') as fh:\n        return fh.read(100)\n"
    assert _file_calls(source) == [("peek", 2)]
    assert _file_calls("import os\ndef swap(a, b):\n    os.replace(a, b)\n") == [("swap", 3)]
    assert _file_calls("def f(s):\n    return s.replace('a', 'b')\n") == []
