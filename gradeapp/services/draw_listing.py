"""The audit draws of a project as a person lists them (`gradeapp audit list`), read-only."""

from __future__ import annotations

import json
from typing import Any

from gradeapp.db import Store, audit_store


def list_draws(store: Store, name: str | None = None) -> list[dict[str, Any]]:
    """Return each audit draw (or the one named) with its settings and its generations in draw order."""
    draws = audit_store.audit_draws_df(store)
    if name:
        draws = draws[draws["name"] == name]
    items = audit_store.audit_items_df(store)
    listed = []
    for _, draw in draws.iterrows():
        drawn = items[items["draw_id"] == draw["id"]]
        seed = draw["seed"]
        listed.append(
            {
                "name": draw["name"],
                "design": draw["design"],
                "seed": None if seed is None or seed != seed else int(seed),  # NaN != NaN: no seed
                "params": json.loads(draw["params"] or "{}"),
                "created": draw["created"],
                "generations": drawn["uid"].tolist(),
                "items": drawn[["uid", "stratum", "inclusion_prob"]].to_dict("records"),
            }
        )
    return listed
