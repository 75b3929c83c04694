"""Storage: the only code that writes SQL."""

from gradeapp.db.project import open_project
from gradeapp.db.store import Store

__all__ = ["Store", "open_project"]
