"""The gradeapp command line: `gradeapp` opens the desk; `gradeapp <command>` runs headless.

The only package that imports argparse. Each module registers its sub-commands with
register(subparsers, common) and calls the services; every failure prints one line without a
traceback (gradeapp.cli.failures says which line and which exit code).
"""

from __future__ import annotations

import argparse
import os
import sys

from gradeapp import __version__
from gradeapp.cli import (
    adjudication,
    audit,
    backup,
    grading,
    guidelines,
    judges,
    llm,
    local,
    project,
    quality,
    team,
)
from gradeapp.cli.failures import describe_failure, visible, visible_controls
from gradeapp.cli.options import OneLineParser, common_options
from gradeapp.cli.project import cmd_desk

# The command groups, in the order `gradeapp --help` lists them.
COMMAND_MODULES = (
    project,
    grading,
    llm,
    local,
    team,
    guidelines,
    adjudication,
    quality,
    audit,
    judges,
    backup,
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every command."""
    common = common_options()
    parser = OneLineParser(
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
    """Run one command (or the desk) and return its exit code.

    Every failure is one line on stderr and an exit code: 2 for a mistake in the input or the
    command, 1 for the machine (disk, permissions, a lock, a damaged file), 130 for Ctrl+C; the
    traceback only with --debug.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    args.project = getattr(args, "project", None)  # --project is SUPPRESSed in the parsers (options.py)
    debug = getattr(args, "debug", False) or os.environ.get("GRADEAPP_DEBUG") == "1"
    func = getattr(args, "func", cmd_desk)
    try:
        with visible_controls():
            code = int(func(args) or 0)
            sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader of our output went away (`gradeapp ... | head`): stop quietly. As Python's
        # documentation recommends, point stdout at devnull so that the flush at exit does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("gradeapp: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        code, message = describe_failure(exc, args.project if "project" in args else None)
        # one line, whatever the message holds (a quick_check report, a name with a newline)
        print(f"gradeapp: error: {visible(' '.join(message.splitlines()))}", file=sys.stderr)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
