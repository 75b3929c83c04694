"""The one way commands print machine-readable output."""

from __future__ import annotations

import json
import math
from typing import Any


def json_ready(obj: Any) -> Any:
    """Return obj with what JSON cannot hold made plain: NaN -> null, numpy scalars -> Python, keys -> str."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


def print_json(obj: Any, *, indent: int | None = 2) -> None:
    """Print obj as JSON (UTF-8 text kept as is, other values JSON cannot hold written with str()).

    `indent=None` prints one compact line (`gradeapp info --json`, which scripts read line by line).
    """
    print(json.dumps(json_ready(obj), indent=indent, ensure_ascii=False, default=str))


# How every table is printed: no raw NaN where a person reads, a dash with the reason beside the table.
TABLE_FORMAT = {"float_format": lambda x: f"{x:.3f}", "index": False, "na_rep": "–"}
UNDEFINED_LEGEND = (
    "– = not defined for that row (no data, no variation, or not this estimator's figure: "
    "the note, alpha_note or the lines below the table say why; --json gives null)"
)
