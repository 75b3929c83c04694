import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradeapp.cli import build_parser, main


def run(*args, env=None):
    """Run the real CLI in a child process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gradeapp", *args], capture_output=True, text=True, env=full_env
    )


def test_info_json_has_exactly_the_documented_shape(demo_path, capsys):
    assert main(["info", "--json", "--project", str(demo_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"skills", "topics", "combinations", "generations", "graders", "verdicts"}
    assert set(out["verdicts"]) == {"judge", "human"}
    for kind in ("judge", "human"):
        assert set(out["verdicts"][kind]) == {"1", "0", "unparsed"}
    assert out["generations"] == 163 and out["skills"] == 20 and out["topics"] == 10
    judged = sum(out["verdicts"]["judge"].values())
    # three runs of k + 3 criteria for every generation
    assert judged == 3 * sum(k + 3 for k in _ks(demo_path))


def _ks(path):
    from gradeapp.db import open_project

    with open_project(path) as s:
        return [
            r[0]
            for r in s.execute("SELECT c.k FROM generations g JOIN combinations c ON c.id = g.combination_id")
        ]


def test_full_headless_flow_from_init_to_info(tmp_path, reference_dir):
    p = str(tmp_path / "r.gradeapp")
    assert run("init", "--project", p).returncode == 0
    assert run("catalog", "import", str(reference_dir), "--project", p).returncode == 0
    r = run("import", str(reference_dir / "test"), "--project", p)
    assert r.returncode == 0, r.stderr
    r = run("sample", "--k", "2", "3", "--combinations", "5", "--seed", "10", "--json", "--project", p)
    report = json.loads(r.stdout)
    assert [x["possible"] for x in report["per_k"]] == [45 * 10, 120 * 10]
    info = json.loads(run("info", "--json", "--project", p).stdout)
    assert info["generations"] == 20 and info["graders"] == 1


def test_user_error_prints_one_line_without_traceback_and_exits_2(tmp_path):
    p = str(tmp_path / "r.gradeapp")
    run("init", "--project", p)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "student": "m", "k": 1, "skills": ["nope"], "topic": "T", "text": ""}\n')
    r = run("import", str(bad), "--project", p)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "bad.jsonl, line 1, field 'skills'" in r.stderr
    r = run("info", "--project", str(tmp_path / "missing.gradeapp"))
    assert r.returncode == 2 and "no such project" in r.stderr


def test_default_project_is_a_copy_of_the_demo_in_the_data_folder(tmp_path):
    env = {"GRADEAPP_DATA_DIR": str(tmp_path / "data")}
    r = run("info", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["generations"] == 163
    assert (tmp_path / "data" / "default.gradeapp").exists()
    r = run("info", env=env)
    assert "(demo)" in r.stdout


def test_project_before_or_after_the_command_opens_that_project(tmp_path):
    # `gradeapp --project P COMMAND` once opened the per-user demo copy silently: the sub-command's
    # default for --project overwrote the one given before it
    env = {"GRADEAPP_DATA_DIR": str(tmp_path / "data")}
    assert run("init", "--project", str(tmp_path / "empty.gradeapp"), env=env).returncode == 0
    for argv in (
        ("--project", str(tmp_path / "empty.gradeapp"), "info", "--json"),
        ("info", "--json", "--project", str(tmp_path / "empty.gradeapp")),
    ):
        r = run(*argv, env=env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["generations"] == 0, argv
    assert not (tmp_path / "data" / "default.gradeapp").exists()  # the demo copy was never made


def _commands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _commands(sub, (*prefix, name))


@pytest.mark.parametrize("command", list(_commands(build_parser())))
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert "usage: gradeapp" in capsys.readouterr().out


def test_every_command_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    top_level = {command[0] for command in _commands(build_parser())}
    missing = sorted(c for c in top_level if f"`{c}" not in readme)
    assert missing == []


def test_every_command_function_is_named_after_its_command():
    """One naming scheme: `gradeapp audit draw` runs cmd_audit_draw, `gradeapp info` runs cmd_info."""

    def leaves(parser, prefix=()):
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, sub in action.choices.items():
                    func = sub.get_default("func")
                    if func is not None:
                        yield (*prefix, name), func
                    yield from leaves(sub, (*prefix, name))

    misnamed = [
        (" ".join(path), func.__name__)
        for path, func in leaves(build_parser())
        if func.__name__ != "cmd_" + "_".join(path)
    ]
    assert misnamed == []


def test_print_json_writes_plain_json_whatever_the_values(capsys):
    """NaN becomes null, numpy scalars plain numbers, text stays UTF-8; indent=None is one line."""
    import numpy as np

    from gradeapp.cli.output import print_json

    print_json({"kappa": float("nan"), "n": np.int64(3), "who": "Zoë", 1: [np.float64(0.5)]})
    assert (
        capsys.readouterr().out
        == '{\n  "kappa": null,\n  "n": 3,\n  "who": "Zoë",\n  "1": [\n    0.5\n  ]\n}\n'
    )
    print_json({"a": 1, "b": [1, 2]}, indent=None)
    assert capsys.readouterr().out == '{"a": 1, "b": [1, 2]}\n'
