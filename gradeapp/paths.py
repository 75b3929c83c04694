"""Where gradeapp keeps per-user files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from platformdirs import user_data_dir

PROJECT_SUFFIX = ".gradeapp"


def data_dir() -> Path:
    """Return the per-user data folder (GRADEAPP_DATA_DIR overrides it, for tests and portable use)."""
    override = os.environ.get("GRADEAPP_DATA_DIR")
    return Path(override) if override else Path(user_data_dir("gradeapp", appauthor=False))


def default_project() -> Path:
    """Return the per-user default project (GRADEAPP_PROJECT overrides it)."""
    override = os.environ.get("GRADEAPP_PROJECT")
    return Path(override) if override else data_dir() / f"default{PROJECT_SUFFIX}"


def demo_data_dir() -> Path:
    """Return the folder of the bundled demo files (read-only, inside the installed package)."""
    return Path(__file__).parent / "data" / "demo"


def file_slug(text: str, fallback: str, max_length: int | None = None) -> str:
    """Return text made safe for a file name (letters, digits, '.', '_', '-'), or fallback if nothing is left."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
    return slug[:max_length] or fallback
