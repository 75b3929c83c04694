"""The one way commands print machine-readable output."""

from __future__ import annotations

import json
from typing import Any


def print_json(obj: Any, *, indent: int | None = 2) -> None:
    """Print obj as JSON (UTF-8 text kept as is, values JSON cannot hold written with str())."""
    print(json.dumps(obj, indent=indent, ensure_ascii=False, default=str))
