"""Open, create and describe project files: the first step of every command and of the desk."""

from __future__ import annotations

from pathlib import Path

from gradeapp.db import Store, open_project
from gradeapp.db.connection import LOCK_TIMEOUT_ENV, ProjectReadOnly, is_busy, is_damaged
from gradeapp.errors import ProjectError
from gradeapp.paths import default_project
from gradeapp.services.demo import build_demo, ensure_default_project


def project_path(path: str | Path | None) -> Path:
    """Return the project file to use: the given path, else the per-user default (a copy of the demo)."""
    if path:
        return Path(path)
    default = default_project()
    ensure_default_project(default)
    return default


def open_existing(path: str | Path | None) -> Store:
    """Open the project at path (or the per-user default, created from the demo on first use)."""
    target = project_path(path)
    if not target.exists():
        raise ProjectError(
            f"{target}: no such project file (create it with 'gradeapp init --project {target}')"
        )
    return open_project(target, create=False)


def create_project(path: str | Path | None, *, demo: bool = False, name: str | None = None) -> Path:
    """Create a new project file (empty, or a copy of the demo); refuse to overwrite one."""
    target = Path(path) if path else default_project()
    if target.exists():
        raise ProjectError(f"{target}: already exists (choose another --project)")
    if demo:
        build_demo(target)
    else:
        open_project(target, create=True, name=name).close()
    return target


# What the command line needs to know of a project file (its type, its lock limit, how its failures read),
# passed on so that the command line never reaches into gradeapp.db itself.
__all__ = [
    "LOCK_TIMEOUT_ENV",
    "ProjectReadOnly",
    "Store",
    "create_project",
    "is_busy",
    "is_damaged",
    "open_existing",
    "project_path",
]
