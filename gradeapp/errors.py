"""Errors a user can cause, with a message a person can act on."""

from __future__ import annotations

from pathlib import Path


class GradeappError(Exception):
    """A problem with the user's input or project; the CLI prints it in one line and exits 2."""


class InputError(GradeappError):
    """Bad input data, located by file, line (or row) and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.reason = message
        where = []
        if self.file:
            where.append(self.file)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ProjectError(GradeappError):
    """The project file cannot be used (locked, newer schema, foreign package...)."""


class EnvironmentFailure(GradeappError):
    """A problem of the machine, not of the input (disk full, permissions, a lock, a damaged file): exit 1."""
