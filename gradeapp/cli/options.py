"""Options shared by every command, and the one way a command opens its project."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

from gradeapp.core.sampling import MAX_DRAW
from gradeapp.llm.jobs import settle_dead_jobs
from gradeapp.services.backup import rolling, snapshot
from gradeapp.services.project import ProjectReadOnly, Store, open_existing


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (argparse prints the usage first, many lines)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def whole(low: int, high: int) -> Callable[[str], int]:
    """Return an argparse type: a whole number in low..high (argparse names the flag in the error).

    Every count, size and repeat option goes through one of these, so that a value the machine cannot
    do (10^30 combinations) is refused at once with exit 2, before a project is opened.
    """

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low:,} .. {high:,}, got {_short(text)}")
        return value

    parse.__name__ = "whole number"  # argparse's fallback message names the type by it
    return parse


def number(low: float, high: float, *, above: bool = False, below: bool = False) -> Callable[[str], float]:
    """Return an argparse type: a finite number in [low, high]; above/below exclude low/high themselves."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text[:40]!r}") from None
        low_ok = value > low if above else value >= low
        high_ok = value < high if below else value <= high
        if not (math.isfinite(value) and low_ok and high_ok):
            left, right = "(" if above else "[", ")" if below else "]"
            raise argparse.ArgumentTypeError(
                f"expected a number in {left}{low:g}, {high:g}{right}, got {_short(text)}"
            )
        return value

    parse.__name__ = "number"
    return parse


def _short(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


# The bounds of the options shared by several commands. Counts are capped where memory grows with
# them (one drawn combination, one pending call, one bootstrap resample each hold memory until the end).
SEED = whole(0, 2**63 - 1)
K_VALUE = whole(1, 100)
COMBINATIONS = whole(1, MAX_DRAW)
RUNS = whole(1, 100)
ROW_LIMIT = whole(1, 2**63 - 1)
FRACTION = number(0.0, 1.0)
CONFIDENCE = number(0.0, 1.0, above=True, below=True)
BOOTSTRAP = whole(0, 100_000)
HALF_WIDTH = number(0.0, 1.0, above=True)
SECONDS = number(0.0, 7 * 24 * 3600.0)
ROW_ID = whole(1, 2**63 - 1)


def common_options() -> argparse.ArgumentParser:
    """Return the parent parser of every command: --project, --debug."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS (main() sets None when it is absent): a sub-command's default must not
    # overwrite `gradeapp --project PATH COMMAND`, which otherwise opened the per-user project silently
    common.add_argument(
        "--project",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="project file (default: your per-user project, first a copy of the demo)",
    )
    # SUPPRESS: a sub-command's default must not overwrite `gradeapp --debug COMMAND`
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the Python traceback of a failure instead of one line",
    )
    return common


def _notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def open_store(
    args: argparse.Namespace,
    *,
    write: bool = True,
    long_job: bool = False,
    backup: str | None = None,
    rolling_backup: bool = True,
) -> Store:
    """Open the project named by --project (or the per-user default).

    write=False: a reading command; a project on a read-only medium (or without write permission)
    opens read-only. write=True: a rolling backup at most once an hour, or always a backup named
    `backup` (before a merge or an import). rolling_backup=False: no rolling backup, for a command whose
    service takes its own strict backup first (the import). long_job: wait for a busy project as long as
    it takes.
    """
    store = open_existing(args.project)
    store.on_wait = _notice
    store.patient = long_job
    if write:
        try:
            if store.readonly:
                raise ProjectReadOnly(
                    f"{store.path}: can only be read here (file permissions or a read-only medium) and this "
                    "command writes to it; copy it to a writable folder"
                )
            if backup:
                snapshot(store, backup)
            elif rolling_backup:
                rolling(store)
            settle_dead_jobs(store)
        except BaseException:
            store.close()
            raise
    return store
