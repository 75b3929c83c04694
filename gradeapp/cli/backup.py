"""The backup commands: `gradeapp backup list` and `gradeapp backup restore NAME`."""

from __future__ import annotations

import argparse

from gradeapp.cli.output import print_json
from gradeapp.services.backup import backup_folder, backups, restore
from gradeapp.services.project import project_path


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add `gradeapp backup list|restore`."""
    group = subparsers.add_parser(
        "backup", help="list or restore the project's rolling backups"
    ).add_subparsers(dest="backup_command", required=True)
    p = group.add_parser("list", parents=[common], help="list the backups of the project, newest first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backup_list)
    p = group.add_parser(
        "restore",
        parents=[common],
        help="replace the project file by one of its backups (the current file is backed up first)",
    )
    p.add_argument("name", metavar="NAME", help="a backup's name from 'gradeapp backup list', or 'latest'")
    p.set_defaults(func=cmd_backup_restore)


def cmd_backup_list(args: argparse.Namespace) -> int:
    target = project_path(args.project)
    found = backups(target)
    if args.json:
        print_json(
            [
                {"name": b.name, "taken": b.taken.isoformat(), "reason": b.reason, "path": str(b.path)}
                for b in found
            ]
        )
        return 0
    if not found:
        print(f"no backups of {target} yet (folder {backup_folder(target)})")
        return 0
    print(f"backups of {target} (in {backup_folder(target)}), newest first:")
    for b in found:
        print(
            f"  {b.name}  {b.taken:%Y-%m-%d %H:%M:%S} UTC  {b.reason:<15} {b.path.stat().st_size:>12,} bytes"
        )
    return 0


def cmd_backup_restore(args: argparse.Namespace) -> int:
    target = project_path(args.project)
    chosen, previous = restore(target, args.name)
    print(f"restored {target} from {chosen.name}")
    if previous is not None:
        print(f"the replaced file is kept as backup {previous.name}")
    return 0
