"""Every numeric option is bounded before work starts: exit 2 in one line, naming the flag."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from gradeapp.cli import build_parser, main
from gradeapp.cli.options import number, whole


def _parsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """Yield (command words, parser) for the parser and every sub-command, depth first."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*prefix, name))


def _numeric_options():
    for words, parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.type in (int, float) or getattr(action.type, "__name__", "") in (
                "whole number",
                "number",
            ):
                yield words, action


def test_every_numeric_option_goes_through_a_bounded_type():
    raw = [
        (" ".join(words), action.option_strings or action.dest)
        for words, action in _numeric_options()
        # a closed set of values is bounded already
        if action.type in (int, float) and not action.choices
    ]
    assert raw == []
    assert len(list(_numeric_options())) > 40  # the walk found the options (it reads argparse's internals)


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["sample", "--k", "2", "--combinations", "1000000000000000000000000000000"], "--combinations"),
        (["sample", "--k", "0"], "--k"),
        (["sample", "--p-skill", "1.5"], "--p-skill"),
        (["export", "--confidence", "2"], "--confidence"),
        (["export", "--bootstrap", "-1"], "--bootstrap"),
        (["stats", "--threshold", "nan"], "--threshold"),
        (["judge", "--model", "m", "--runs", "0"], "--runs"),
        (["judge", "--model", "m", "--concurrency", "0"], "--concurrency"),
        (["judge", "--model", "m", "--timeout", "inf"], "--timeout"),
        (["generate", "--model", "m", "--rounds", "-1"], "--rounds"),
        (["grade", "u1", "--seconds", "-5"], "--seconds"),
        (["audit", "draw", "--size", "10", "--seed", "-1"], "--seed"),
        (["audit", "plan", "--target", "0"], "--target"),
        (["assign", "--annotators", "a,b", "--out", "x", "--overlap", "2"], "--overlap"),
        (["judges", "compare", "--bootstrap", "10**9"], "--bootstrap"),
        (["batch", "poll", "--interval", "0"], "--interval"),
        (["queue", "--limit", "0"], "--limit"),
    ],
)
def test_an_out_of_range_option_exits_2_in_one_line_naming_the_flag(argv, flag, capsys, tmp_path):
    project = tmp_path / "never-made.gradeapp"
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--project", str(project)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"argument {flag}" in err and "Traceback" not in err
    assert not project.exists()  # refused before anything was opened


def test_sample_of_10_to_the_30_is_refused_at_once_by_the_real_program(tmp_path):
    project = tmp_path / "p.gradeapp"
    proc = subprocess.run(
        [sys.executable, "-m", "gradeapp", "sample", "--k", "2", "--combinations", "1" + "0" * 30]
        + ["--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--combinations" in proc.stderr and not project.exists()


def test_generate_refuses_more_generations_than_one_run_holds(demo_path, capsys):
    argv = ["generate", "--model", "m", "--k", "2", "3", "--combinations", "1000000", "--rounds", "2"]
    assert main([*argv, "--project", str(demo_path)]) == 2
    assert "4,000,000 generations planned" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["5", " 5", "5_0"])
def test_whole_accepts_python_spellings_of_a_number(text):
    assert whole(0, 100)(text) == int(text.replace("_", ""))


@pytest.mark.parametrize("text", ["0", "1", "nan", "-inf", "x"])
def test_number_with_open_ends_refuses_its_ends_and_non_finite_values(text):
    with pytest.raises(argparse.ArgumentTypeError):
        number(0.0, 1.0, above=True, below=True)(text)


def test_judge_refuses_more_calls_in_flight_than_the_process_may_open_files(tmp_path, capsys):
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))
    try:
        code = main(
            ["judge", "--model", "m", "--concurrency", "500", "--project", str(tmp_path / "none.gradeapp")]
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert code == 2
    err = capsys.readouterr().err
    assert "field '--concurrency'" in err and "ulimit -n" in err and "at most 136" in err
