"""The import, as a person asks for it: a strict backup, then every source in one transaction.

The desk's File → Import and `gradeapp import` both call import_sources. It also owns the rule of when
an imported item (person x generation) counts as submitted.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from gradeapp.db import Store
from gradeapp.db.item_store import active_draw_generations, decided_criteria, is_submitted
from gradeapp.io.importers import ImportedItems, import_source
from gradeapp.services.backup import snapshot

DRAFT_EXAMPLES = 5


def import_sources(
    store: Store, sources: list[Path], kind: str | None = None, *, as_drafts: bool = False
) -> dict[str, dict[str, Any]]:
    """Back up the project, then import several sources in one transaction; return counts per source.

    One bad source changes nothing at all. A person's imported item that decides every criterion of its
    generation is submitted (the file's own 'submitted' 1/0 wins), unless as_drafts.
    """
    snapshot(store, "import")
    settle = partial(settle_items, as_drafts=as_drafts)
    report: dict[str, dict[str, Any]] = {}
    with store.atomic():
        for number, source in enumerate(sources, 1):
            # a source named twice reports twice (the second time adds nothing), not once with 0 added
            key = str(source) if str(source) not in report else f"{source} (again, source {number})"
            report[key] = import_source(store, source, kind, settle)
    return report


def submitted_after_import(complete: bool, file_flag: bool | None, as_drafts: bool) -> bool:
    """Tell whether an imported item is submitted: the file's flag, else whether it is complete."""
    return not as_drafts and (complete if file_flag is None else file_flag)


def settle_items(store: Store, items: ImportedItems, *, as_drafts: bool) -> dict[str, Any]:
    """Submit the imported items the rule says are submitted; report the drafts left and the audit draw."""
    submit: list[tuple[int, int]] = []
    drafts: list[tuple[int, int]] = []
    for (grader_id, gid), flag in sorted(items.flags.items()):
        complete = set(items.criteria[gid]) <= decided_criteria(store, grader_id, gid)
        if submitted_after_import(complete, flag, as_drafts):
            submit.append((grader_id, gid))
        elif not is_submitted(store, grader_id, gid):
            drafts.append((grader_id, gid))
    counts: dict[str, Any] = {"items_submitted": _add_submits(store, submit)}
    if drafts:
        counts["items_left_as_drafts"] = len(drafts)
        counts["drafts_for_example"] = ", ".join(
            f"{items.uids[gid]} ({items.grader_names.get(grader_id, grader_id)})"
            for grader_id, gid in drafts[:DRAFT_EXAMPLES]
        ) + (" ..." if len(drafts) > DRAFT_EXAMPLES else "")
    name, drawn = active_draw_generations(store)
    touched = {gid for _grader_id, gid in items.flags}
    counts["items_in_audit_draw"] = (
        f"{len(touched & drawn)} of {len(touched)} generations (draw {name!r})"
        if name
        else "no audit draw yet (gradeapp audit draw)"
    )
    return counts


def _add_submits(store: Store, items: list[tuple[int, int]]) -> int:
    """Record a submit for each (person, generation) whose latest submit/unsubmit event is not a submit."""
    added = 0
    for grader_id, gid in items:
        if not is_submitted(store, grader_id, gid):
            store.add_review(grader_id, gid, "submit")
            added += 1
    return added
