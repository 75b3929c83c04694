"""Options shared by every command, and the one way a command opens its project."""

from __future__ import annotations

import argparse
import sys

from gradeapp.services.backup import rolling, snapshot
from gradeapp.services.project import ProjectReadOnly, Store, open_existing


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
        except BaseException:
            store.close()
            raise
    return store
