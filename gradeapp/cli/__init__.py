"""The gradeapp command line: `gradeapp` opens the desk; `gradeapp <command>` runs headless.

The only package that imports argparse. Each module registers its sub-commands with
register(subparsers, common) and calls the services; a user error (GradeappError) prints one line
without a traceback and exits 2.
"""

from __future__ import annotations

import argparse
import sys

from gradeapp import __version__
from gradeapp.cli import adjudication, audit, grading, guidelines, judges, llm, project, quality, team
from gradeapp.cli.options import common_options
from gradeapp.cli.project import cmd_desk
from gradeapp.errors import GradeappError

# The command groups, in the order `gradeapp --help` lists them.
COMMAND_MODULES = (project, grading, llm, team, guidelines, adjudication, quality, audit, judges)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every command."""
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="gradeapp",
        description="Skill-Mix grading desk. Without a command it opens the desk; commands run headless.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"gradeapp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command (or the desk) and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", cmd_desk)
    try:
        return int(func(args) or 0)
    except GradeappError as exc:
        print(f"gradeapp: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradeapp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
