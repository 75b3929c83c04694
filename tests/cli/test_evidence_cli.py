"""`gradeapp grade --evidence`: a person's marks from the command line."""

from __future__ import annotations

import sqlite3

from gradeapp.cli import main


def test_grade_marks_and_removes_evidence(demo_path, capsys):
    conn = sqlite3.connect(demo_path)
    uid, text = conn.execute("SELECT uid, text FROM generations ORDER BY id LIMIT 1").fetchone()
    conn.close()
    base = ["--project", str(demo_path), "grade", uid, "--annotator", "pat"]
    assert main([*base, "--evidence", "topic=0-5", "--evidence", "makes_sense=2-6"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("evidence ")]
    assert f"topic [0, {len(text[:5].rstrip())}): {text[:5].rstrip()!r}" in lines[0]
    mark_id = lines[0].split()[1]
    assert main([*base, "--remove-evidence", mark_id]) == 0
    out = capsys.readouterr().out
    assert "topic" not in "".join(ln for ln in out.splitlines() if ln.startswith("evidence "))


def test_a_malformed_evidence_option_is_one_line_and_exit_2(demo_path, capsys):
    conn = sqlite3.connect(demo_path)
    (uid,) = conn.execute("SELECT uid FROM generations ORDER BY id LIMIT 1").fetchone()
    conn.close()
    assert main(["--project", str(demo_path), "grade", uid, "--evidence", "topic=five"]) == 2
    assert "CRITERION=START-END" in capsys.readouterr().err
