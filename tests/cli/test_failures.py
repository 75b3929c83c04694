"""Every failure is one line (what, where, what to do), exit 2 for the input, 1 for the machine; no traceback.

Each case runs the real command in a child process, as a user would, and checks the exit code, that
stderr holds exactly one `gradeapp: error:` line naming the file, line or field, and that the project
is unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gradeapp.db import open_project
from gradeapp.services.demo import build_demo
from gradeapp.services.team import assign

KEY = "sk-test-failures-123456"


def run(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process."""
    full = {**os.environ, "OPENAI_API_KEY": KEY, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gradeapp", *args], capture_output=True, text=True, env=full, **kw
    )


def one_line(r: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """Assert exit code, a single error line holding every needle, and no traceback; return the line."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("gradeapp: error:")]
    assert r.returncode == code, r.stderr
    assert len(lines) == 1, r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [line for line in conn.iterdump() if "sqlite_stat" not in line and "ANALYZE" not in line]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "demo.gradeapp")


@pytest.fixture
def project(demo_file, tmp_path) -> Path:
    path = tmp_path / "p.gradeapp"
    shutil.copyfile(demo_file, path)
    return path


def _jsonl(path: Path, *rows: str) -> Path:
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return path


GEN = {"id": "n-1", "student": "m", "k": 1, "skills": ["metaphor"], "topic": "Bookbinding", "text": "x"}
VERDICT = {"generation": "demo-001", "grader": "zed", "kind": "human", "criterion": "topic", "value": 1}


@pytest.mark.parametrize(
    ("name", "line", "field"),
    [
        ("deep.jsonl", '{"id": "x", "meta": ' + "[" * 5000 + "]" * 5000 + "}", None),
        ("round.jsonl", json.dumps({**GEN, "round": 2**70}), "round"),
        ("round-str.jsonl", json.dumps({**GEN, "round": str(2**70)}), "round"),
        ("run.jsonl", json.dumps({**VERDICT, "run": 2**64}), "run"),
        ("run-str.jsonl", json.dumps({**VERDICT, "run": "9" * 30}), "run"),
        ("max_tokens.jsonl", json.dumps({**VERDICT, "kind": "judge", "max_tokens": 2**70}), "max_tokens"),
        (
            "max_tokens-inf.jsonl",
            json.dumps({**VERDICT, "kind": "judge", "max_tokens": "1e400"}),
            "max_tokens",
        ),
        ("note.jsonl", json.dumps({**VERDICT, "note": {"a": 1}}), "note"),
        ("reason.jsonl", json.dumps({**VERDICT, "reason": ["x"]}), "reason"),
        ("created.jsonl", json.dumps({**VERDICT, "created": {"t": 1}}), "created"),
        ("created-text.jsonl", json.dumps({**VERDICT, "created": "next tuesday"}), "created"),
        ("seconds.jsonl", json.dumps({**VERDICT, "seconds": "1e999"}), "seconds"),
        ("seconds-big.jsonl", json.dumps({**VERDICT, "seconds": 10**400}), None),
        ("version.jsonl", json.dumps({**VERDICT, "guideline_version": {"v": 1}}), "guideline_version"),
    ],
)
def test_hostile_import_lines_are_one_line_exit_2_and_change_nothing(project, tmp_path, name, line, field):
    src = _jsonl(tmp_path / name, line)
    before = dump(project)
    r = run("import", str(src), "--project", str(project))
    needles = [f"{name}, line 1"] + ([f"field '{field}'"] if field else [])
    one_line(r, 2, *needles)
    assert dump(project) == before


def test_a_csv_with_deep_json_in_a_cell_is_refused(project, tmp_path):
    src = tmp_path / "g.csv"
    src.write_text(
        "id,student,k,skills,topic,text\nx,m,1," + '"' + "[" * 3000 + "]" * 3000 + '"' + ",Bookbinding,t\n"
    )
    one_line(run("import", str(src), "--project", str(project)), 2, "g.csv, line 2", "field 'skills'")


def test_a_clashing_generation_id_is_refused(project, tmp_path):
    with open_project(project) as store:
        gen = store.generation(store.generation_id("demo-001"))
    row = {
        "id": "demo-001",
        "student": gen["student"],
        "k": gen["k"],
        "skills": [s["name"] for s in gen["skills"]],
        "topic": gen["topic"],
        "text": gen["text"] + " (changed)",
    }
    src = _jsonl(tmp_path / "clash.jsonl", json.dumps(row))
    before = dump(project)
    one_line(run("import", str(src), "--project", str(project)), 2, "clash.jsonl", "'demo-001'", "field 'id'")
    assert dump(project) == before


def test_the_same_file_twice_reports_both_imports(project, tmp_path):
    src = _jsonl(tmp_path / "g.jsonl", json.dumps({**GEN, "skills": ["hyperbole"]}))
    r = run("import", str(src), str(src), "--project", str(project))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].endswith("generations read 1, generations added 1")
    assert "again" in lines[1] and lines[1].endswith("generations added 0")


def _judge_id(project: Path) -> int:
    with open_project(project) as store:
        return store.execute("SELECT id FROM graders WHERE kind = 'judge'").fetchone()[0]


def _batch_line(project: Path, custom_id: str | None = None, **response) -> str:
    body = {
        "choices": [{"message": {"content": "{}"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1},
    }
    body.update(response.pop("body", {}))
    obj = {
        "custom_id": custom_id or f"1:{_judge_id(project)}:9",
        "response": response.pop("response", {"status_code": 200, "body": body}),
    }
    return json.dumps(obj)


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("custom_id_huge", "custom_id"),
        ("response_list", "response"),
        ("body_text", "response.body"),
        ("usage_list", "response.body.usage"),
        ("usage_text", "response.body.usage.prompt_tokens"),
        ("content_object", "response.body.choices[0].message.content"),
        ("not_json", None),
    ],
)
def test_batch_ingest_of_bad_lines_is_one_line_and_all_or_nothing(project, tmp_path, case, field):
    judge = _judge_id(project)
    good = [_batch_line(project, f"{g}:{judge}:9") for g in range(1, 40)]
    bad = {
        "custom_id_huge": _batch_line(project, f"{2**80}:{judge}:1"),
        "response_list": _batch_line(project, response=[1, 2]),
        "body_text": _batch_line(project, response={"status_code": 200, "body": "oops"}),
        "usage_list": _batch_line(project, body={"usage": [1]}),
        "usage_text": _batch_line(project, body={"usage": {"prompt_tokens": "many"}}),
        "content_object": _batch_line(project, body={"choices": [{"message": {"content": {"a": 1}}}]}),
        "not_json": '{"custom_id": ',
    }[case]
    src = _jsonl(tmp_path / "out.jsonl", *good, bad)
    before = dump(project)
    needles = ["out.jsonl, line 40"] + ([f"field '{field}'"] if field else [])
    one_line(run("batch", "ingest", str(src), "--project", str(project)), 2, *needles)
    assert dump(project) == before  # the 39 good lines before it are not kept either


def test_batch_ingest_of_a_folder_or_non_utf8_file(project, tmp_path):
    one_line(run("batch", "ingest", str(tmp_path), "--project", str(project)), 2, "is a folder")
    src = tmp_path / "latin1.jsonl"
    src.write_bytes(_batch_line(project).encode() + b"\n" + '{"x": "caf\xe9"}'.encode("latin-1") + b"\n")
    one_line(run("batch", "ingest", str(src), "--project", str(project)), 2, "latin1.jsonl, line 2", "UTF-8")


def test_assign_with_a_long_name_works_and_a_file_as_out_is_refused(project, tmp_path):
    long_name = "a" * 300
    r = run(
        "assign",
        "--annotators",
        f"{long_name},bo",
        "--all",
        "--out",
        str(tmp_path / "pk"),
        "--project",
        str(project),
    )
    assert r.returncode == 0, r.stderr
    assert all(len(p.name) < 200 for p in (tmp_path / "pk").iterdir())
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    one_line(
        run(
            "assign",
            "--annotators",
            "cy",
            "--overlap",
            "0",
            "--all",
            "--out",
            str(blocker),
            "--project",
            str(project),
        ),  # fmt: skip
        2,
        "file.txt",
        "folder",
    )


def test_base_url_with_credentials_is_refused_and_never_echoed(project):
    r = run(
        "judge", "--model", "m", "--base-url", "http://user:s3cret@127.0.0.1:9/v1", "--project", str(project)
    )
    line = one_line(r, 2, "--base-url", "user:password")
    assert "s3cret" not in r.stderr and "s3cret" not in line


def _damage(path: Path) -> None:
    """Overwrite pages in the middle of the file (the header stays, so SQLite opens it)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(b"\xa5" * 8192)


@pytest.mark.parametrize("command", [["stats"], ["export", "--out", "EXPORT"], ["info"]])
def test_a_damaged_project_is_exit_1_with_the_way_out(project, tmp_path, command):
    _damage(project)
    args = [str(tmp_path / "x") if a == "EXPORT" else a for a in command]
    one_line(run(*args, "--project", str(project)), 1, "damaged", "gradeapp backup")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "command", [["grade", "demo-001", "--set", "topic=1", "--annotator", "zed"], ["import", "GEN"]]
)
def test_a_damaged_project_is_not_written_to(project, tmp_path, command):
    src = _jsonl(tmp_path / "g.jsonl", json.dumps(GEN))
    _damage(project)
    before = project.read_bytes()
    args = [str(src) if a == "GEN" else a for a in command]
    one_line(run(*args, "--project", str(project)), 1, "damaged", "backup")
    assert project.read_bytes() == before


def test_output_piped_into_head_stops_quietly(project, tmp_path):
    skills = tmp_path / "skills.jsonl"
    _jsonl(skills, *(json.dumps({"name": f"skill number {i} " + "x" * 60}) for i in range(3000)))
    assert run("catalog", "import", str(skills), "--project", str(project)).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradeapp", "catalog", "list", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    proc.stdout.readline()
    proc.stdout.close()  # `head -1` exits
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == ""
    assert proc.returncode in (0, 1)


def test_escape_sequences_in_names_are_shown_not_interpreted(project, tmp_path):
    src = _jsonl(tmp_path / "g.jsonl", json.dumps({**GEN, "student": "evil\x1b[2J\x1b]0;owned\x07"}))
    assert run("import", str(src), "--project", str(project)).returncode == 0
    r = run("queue", "--annotator", "zed", "--limit", "5000", "--project", str(project))
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "evil\\x1b[2J\\x1b]0;owned\\x07" in r.stdout


def test_debug_shows_the_traceback(project, tmp_path):
    src = _jsonl(tmp_path / "bad.jsonl", "[1]")
    assert "Traceback" in run("import", str(src), "--project", str(project), "--debug").stderr
    assert "Traceback" in run("--debug", "import", str(src), "--project", str(project)).stderr


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_during_import_is_exit_1_and_changes_nothing(project, tmp_path):
    """RLIMIT_FSIZE makes every write past the limit fail with EFBIG, as a full disk does (any CI, no mount)."""
    rows = (
        json.dumps({**GEN, "id": f"big-{i}", "skills": ["hyperbole"], "text": "t" * 400}) for i in range(4000)
    )
    src = _jsonl(tmp_path / "big.jsonl", *rows)
    before = dump(project)
    limit = project.stat().st_size + 200_000  # the backup fits, the import's journal does not
    r = run("import", str(src), "--project", str(project), preexec_fn=_limit_file_size(limit))
    one_line(r, 1, "full")
    assert dump(project) == before


def test_a_full_disk_during_export_leaves_no_half_written_export(project, tmp_path):
    out = tmp_path / "export"
    r = run("export", "--out", str(out), "--project", str(project), preexec_fn=_limit_file_size(40_000))
    one_line(r, 1)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export-")]
    assert run("export", "--out", str(out), "--project", str(project)).returncode == 0
    assert (out / "verdicts.csv").stat().st_size > 40_000


def test_a_package_with_hash_and_question_mark_in_its_path(project, tmp_path):
    folder = tmp_path / "odd#dir?x"
    with open_project(project) as store:
        pkg = Path(assign(store, ["ann"], folder, overlap=0.0, use_all=True)["packages"][0]["path"])
    assert pkg.exists() and "#" in str(pkg)
    assert (
        run(
            "grade",
            "demo-001",
            "--set",
            "topic=0",
            "--accept",
            "--submit",
            "--annotator",
            "ann",
            "--project",
            str(pkg),
        ).returncode
        == 0
    )
    r = run("merge", str(pkg), "--project", str(project))
    assert r.returncode == 0, r.stderr
    assert "verdicts added" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd#dir?x", "p.gradeapp"]


def test_an_input_file_removed_during_the_import_is_refused_whole(project, tmp_path):
    """The file is unlinked while the import reads it (once the process has it open, seen in /proc)."""
    rows = (json.dumps({**GEN, "id": f"r-{i}", "skills": ["hyperbole"]}) for i in range(60_000))
    src = _jsonl(tmp_path / "moving.jsonl", *rows)
    before = dump(project)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradeapp", "import", str(src), "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    fd_dir = Path(f"/proc/{proc.pid}/fd")
    removed = False
    while proc.poll() is None and not removed:
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == str(src) for fd in fd_dir.iterdir()):
                src.unlink()
                removed = True
    out, err = proc.communicate(timeout=300)
    if not removed:
        pytest.skip("the import finished before the file could be removed (a very fast machine)")
    r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    line = one_line(r, 2, "moving.jsonl")
    assert "removed or changed during the import" in line or "No such file" in line
    assert dump(project) == before
