"""Evidence: one function per user action (mark, remove, restore) and the statistics of a project.

A mark is a person's selection of the text attached to a criterion; it is stored append-only with its
character offsets and the words themselves (`db/evidence_store.py`). Evidence is optional: a verdict
without it is complete. Judge quotes are stored with their verdicts by the judge's save path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gradeapp.core import evidence_stats
from gradeapp.core.rubric import criteria as rubric_criteria
from gradeapp.db import evidence_store, team_store
from gradeapp.db.connection import now_iso
from gradeapp.db.store import Store
from gradeapp.errors import GradeappError
from gradeapp.io.evidence_report import evidence_section
from gradeapp.io.tables import write_csv
from gradeapp.services.package_types import PACKAGE_READ_SECONDS, check_evidence_types, refuse

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class EvidenceChange:
    """What one evidence action changed: the row written, the mark it concerns and that mark's span."""

    row_id: int  # the row appended (an 'add' or a 'remove')
    mark_id: int  # the current mark this concerns (the new one, or the one removed)
    generation_id: int
    criterion: str
    start: int
    end: int
    quote: str
    removed: bool


def _generation(store: Store, generation_id: int) -> tuple[str, list[str]]:
    row = store.execute(
        "SELECT text, combination_id FROM generations WHERE id = ?", [generation_id]
    ).fetchone()
    if row is None:
        raise GradeappError(f"no generation {generation_id} in this project")
    skills = [
        r[0]
        for r in store.execute(
            "SELECT s.name FROM combination_skills cs JOIN skills s ON s.id = cs.skill_id "
            "WHERE cs.combination_id = ? ORDER BY cs.position",
            [row[1]],
        )
    ]
    return row[0] or "", rubric_criteria(skills)


def trim_selection(text: str, start: int, end: int) -> tuple[int, int]:
    """Return the selection without the whitespace at its edges (a selection by words often takes a space)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def mark_evidence(
    store: Store, grader_id: int, generation_id: int, criterion: str, start: int, end: int
) -> EvidenceChange:
    """Attach the words [start, end) of a generation's text to a criterion as this person's evidence."""
    text, crits = _generation(store, generation_id)
    if criterion not in crits:
        raise GradeappError(f"criterion '{criterion}' is not one of generation {generation_id}'s")
    if not 0 <= start < end <= len(text):
        raise GradeappError(f"selection {start}-{end} is outside the text ({len(text)} characters)")
    start, end = trim_selection(text, start, end)
    if start == end:
        raise GradeappError("select some words of the text first")
    row = {"grader_id": grader_id, "generation_id": generation_id, "criterion": criterion}
    [row_id] = evidence_store.add_evidence(
        store, [{**row, "start_char": start, "end_char": end, "quote": text[start:end]}]
    )
    return EvidenceChange(
        row_id, row_id, generation_id, criterion, start, end, text[start:end], removed=False
    )


def remove_evidence(store: Store, grader_id: int, mark_id: int) -> EvidenceChange:
    """Remove one of this person's current marks by appending a 'remove' row that names it."""
    mark = evidence_store.evidence_row(store, mark_id)
    if mark is None or mark["grader_id"] != grader_id or not evidence_store.is_current(store, mark_id):
        raise GradeappError(f"evidence {mark_id} is not a current mark of this grader")
    [row_id] = evidence_store.add_evidence(
        store,
        [
            {
                **{
                    k: mark[k]
                    for k in ("grader_id", "generation_id", "criterion", "run", "start_char", "end_char")
                },
                "quote": mark["quote"],
                "action": "remove",
                "removes_id": mark_id,
            }
        ],
    )
    return EvidenceChange(
        row_id, mark_id, mark["generation_id"], mark["criterion"], mark["start_char"], mark["end_char"],
        mark["quote"], removed=True,
    )  # fmt: skip


def restore_evidence(store: Store, grader_id: int, mark_id: int) -> EvidenceChange:
    """Undo a removal: add the removed mark again, as a new row with the same words and offsets."""
    mark = evidence_store.evidence_row(store, mark_id)
    if mark is None or mark["grader_id"] != grader_id:
        raise GradeappError(f"evidence {mark_id} is not a mark of this grader")
    return mark_evidence(
        store, grader_id, mark["generation_id"], mark["criterion"], mark["start_char"], mark["end_char"]
    )


def generation_evidence(
    store: Store, generation_id: int, grader_ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """Return the current marks and quotes of a generation (of some graders), oldest first (read-only)."""
    return evidence_store.current_evidence(store, generation_id, grader_ids)


def cell_evidence(store: Store, generation_id: int, criterion: str) -> dict[str, list[dict[str, Any]]]:
    """Return per grader (people first, then judges) its current marks on one generation x criterion."""
    out: dict[str, list[dict[str, Any]]] = {}
    for mark in evidence_store.cell_marks(store, generation_id, criterion):
        name = mark["grader"] if mark["kind"] != "judge" else f"judge {mark['grader']} (run {mark['run']})"
        out.setdefault(name, []).append(mark)
    return out


def generation_ungrounded(store: Store) -> pd.Series:
    """Return per generation the share of the judges' credited points without a grounded quote (read-only)."""
    marks = evidence_store.current_evidence_df(store)
    quotes = marks[(marks["kind"] == "judge") & marks["grounding"].notna()]
    if quotes.empty:
        return pd.Series(dtype=float)
    points = evidence_store.verdict_points_df(store)
    return evidence_stats.ungrounded_share(points[points["kind"] == "judge"], quotes)


def grounding_aware_uncertainty(store: Store, pool: pd.DataFrame) -> np.ndarray:
    """Return the pool's uncertainty raised by each generation's share of ungrounded credited points."""
    ungrounded = generation_ungrounded(store).reindex(pool["generation_id"]).fillna(0.0)
    return evidence_stats.grounded_uncertainty(pool["uncertainty"].to_numpy(), ungrounded.to_numpy())


def evidence_statistics(
    store: Store, *, bootstrap: int = 200, seed: int = 0, confidence: float = 0.95
) -> dict[str, pd.DataFrame]:
    """Return the grounding (per criterion, and per k over all criteria), grounded-agreement and span-agreement
    tables of a project (read-only)."""
    marks = evidence_store.current_evidence_df(store)
    points = evidence_store.verdict_points_df(store)
    judge_points = points[points["kind"] == "judge"]
    quotes = marks[(marks["kind"] == "judge") & marks["grounding"].notna()]
    human = points[points["kind"] == "human"][["generation_id", "criterion", "value"]]
    spans = marks[marks["start"].notna() & (marks["grounding"].isna() | marks["grounding"].ne("not_found"))]
    kinds = dict(zip(points["grader"], points["kind"], strict=True)) | dict(
        zip(marks["grader"], marks["kind"], strict=True)
    )
    # A grader who never marks (evidence is optional; an older judge prompt never quotes) is not taken
    # to have marked nothing: only graders with some evidence in the project take part.
    graded = points[points["grader"].isin(set(marks["grader"]))][["grader", "generation_id", "criterion"]]
    graded = graded.drop_duplicates()
    texts = evidence_store.generation_texts(store, spans["generation_id"].unique().tolist())
    return {
        "grounding": evidence_stats.grounding_table(judge_points, quotes, confidence),
        "grounding_by_k": evidence_stats.grounding_table(
            judge_points, quotes, confidence, by_criterion=False
        ),
        "grounded_agreement": evidence_stats.grounded_agreement(judge_points, quotes, human, confidence),
        "span_agreement": evidence_stats.span_agreement(
            spans, graded, texts, kinds, bootstrap=bootstrap, seed=seed, confidence=confidence
        ),
    }


EVIDENCE_FILES = {
    "evidence": "evidence.csv",
    "grounding": "evidence_grounding.csv",
    "grounding_by_k": "evidence_grounding_by_k.csv",
    "grounded_agreement": "evidence_agreement.csv",
    "span_agreement": "evidence_spans.csv",
}


def has_evidence(store: Store) -> bool:
    """Tell whether the project holds any evidence row (read-only)."""
    return evidence_store.has_evidence(store)


def evidence_frame(store: Store) -> pd.DataFrame:
    """Return every current mark and quote: grader, kind, generation, criterion, run, offsets, quote, grounding."""
    marks = evidence_store.current_evidence_df(store)
    return marks.drop(columns=["grader_id"]).rename(columns={"id": "evidence_id"})


def export_evidence(
    store: Store, out: Path, *, bootstrap: int = 200, seed: int = 0
) -> tuple[dict[str, Path], str]:
    """Write evidence.csv and the statistics tables into out; return their paths and the report's section.

    A project without evidence gets none of these files and no section (evidence is optional).
    """
    if not has_evidence(store):
        return {}, ""
    out = Path(out)
    stats = evidence_statistics(store, bootstrap=bootstrap, seed=seed)
    tables = {"evidence": evidence_frame(store), **stats}
    paths = {
        name if name == "evidence" else f"evidence_{name}": write_csv(tables[name], out / file)
        for name, file in EVIDENCE_FILES.items()
    }
    return paths, evidence_section(stats)


def merge_package_evidence(
    store: Store, package: Path, grader_id: int, person: str, uid_ids: dict[str, int], issued: str
) -> int:
    """Bring a package's evidence of its person into the project (inside the merge's transaction).

    Exact and idempotent: a mark current in the package and not in the project is added; a mark the
    package removed is removed here too when it is current. Returns how many rows were appended.
    """
    conn = team_store.open_readonly(Path(package))
    try:
        # the package's tables were checked by team.read_package; this read is bounded in time as that one
        with team_store.time_bound(conn, PACKAGE_READ_SECONDS):
            current, removed = evidence_store.package_marks(conn, person)
    except TimeoutError as exc:
        raise refuse(Path(package), f"{exc}: a crafted file?") from None
    finally:
        conn.close()
    check_evidence_types(Path(package), current + removed)

    def row(mark: dict) -> dict:
        keys = ("criterion", "run", "start_char", "end_char", "quote", "created")
        return {**{k: mark[k] for k in keys}, "grader_id": grader_id, "generation_id": uid_ids[mark["uid"]],
                "merged_from": issued}  # fmt: skip

    added = evidence_store.insert_new_evidence(store.conn, [row(m) for m in current])
    return added + sum(evidence_store.remove_matching(store.conn, row(m), now_iso()) for m in removed)
