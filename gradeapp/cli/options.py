"""Options shared by every command, and the one way a command opens its project."""

from __future__ import annotations

import argparse

from gradeapp.db import Store
from gradeapp.services.project import open_existing


def common_options() -> argparse.ArgumentParser:
    """Return the parent parser of every command: --project."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project",
        metavar="PATH",
        help="project file (default: your per-user project, first a copy of the demo)",
    )
    return common


def open_store(args: argparse.Namespace) -> Store:
    """Open the project named by --project (or the per-user default)."""
    return open_existing(args.project)
