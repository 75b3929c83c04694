"""Import files into a project: the strict backup first, then every source in one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gradeapp.db.backup import Backup
from gradeapp.db.store import Store
from gradeapp.services.backup import snapshot


def import_files(
    store: Store, sources: list[Path], kind: str | None = None, *, as_drafts: bool = False
) -> tuple[dict[str, dict[str, Any]], Backup]:
    """Back the project up (refusing to go on without a backup), then import the sources; return both.

    The backup is the one the README promises before every import: if the import is not what the person
    wanted, `gradeapp backup restore` brings the project back as it was.
    """
    # deferred: the importers load pandas, which the desk does not need until a person imports
    from gradeapp.io.importers import import_sources

    backup = snapshot(store, "import")
    return import_sources(store, [Path(s) for s in sources], kind, as_drafts=as_drafts), backup
