"""The Qt desk: the only package that imports PySide6."""

from gradeapp.ui import qt_compat  # noqa: F401 - must run before any view makes Qt calls
