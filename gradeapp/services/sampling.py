"""Draw combinations from a project's catalog and store them."""

from __future__ import annotations

from collections.abc import Sequence

from gradeapp.core.sampling import draw_combinations, n_combinations, novelty_bound
from gradeapp.db import Store


def sample_into(store: Store, ks: Sequence[int], n: int, seed: int, *, exclude_common: bool = False) -> dict:
    """Draw n combinations per k from the project's catalog and store them; return a report."""
    skills = [s for s in store.skills() if not (exclude_common and s["common"])]
    names = [s["name"] for s in skills]
    topics = store.topics()
    report = {"seed": seed, "exclude_common": exclude_common, "per_k": []}
    with store.atomic():
        sid, tid = store.skill_ids(), store.topic_ids()
        for k in ks:
            drawn = draw_combinations(names, topics, k, n, seed)
            ids = {store.combination_id([sid[s] for s in c.skills], tid[c.topic], seed) for c in drawn}
            report["per_k"].append(
                {
                    "k": k,
                    "drawn": len(drawn),
                    "distinct": len(ids),
                    "possible": n_combinations(len(names), k, len(topics)),
                    "novelty_bound": novelty_bound(k),
                }
            )
    return report
