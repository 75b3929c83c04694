"""Import our generic generations format (JSONL, CSV or Parquet; one generation a record)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gradeapp.db import Store
from gradeapp.db.connection import now_iso
from gradeapp.db.judge_store import generation_contents
from gradeapp.errors import InputError
from gradeapp.io.importers.combinations import CombinationResolver
from gradeapp.io.importers.fields import int_field, json_field, skills_field, text_field, time_field
from gradeapp.io.importers.sources import batched, file_digest, source_records

_FAST_KEYS = frozenset(("id", "student", "k", "skills", "topic", "text", "round"))


def _validate_generation(
    record: dict, path: Path, line: int, resolver: CombinationResolver, stamp: str, source: str
) -> tuple:
    """Return the store-ready tuple of one record, or raise an InputError naming its first problem."""
    uid = record.get("id")
    if isinstance(uid, int) and not isinstance(uid, bool):
        uid = str(uid)
    if not isinstance(uid, str) or not uid.strip():
        raise InputError("missing or not text", file=path, line=line, field="id")
    student = text_field(record, "student", path, line)
    k = int_field(record, "k", path, line, minimum=1)
    skills = skills_field(record, path, line)
    if len(skills) != k:
        raise InputError(f"k = {k} but {len(skills)} skills are listed", file=path, line=line, field="k")
    topic = text_field(record, "topic", path, line)
    text = text_field(record, "text", path, line, allow_empty=True)
    round_number = int_field(record, "round", path, line, default=1, minimum=1)
    combination_id = resolver.combination(skills, topic, path, line)
    return (
        uid,
        combination_id,
        student,
        round_number,
        json_field(record, "prompt", path, line),
        json_field(record, "raw_reply", path, line),
        text or "",
        record.get("source") if isinstance(record.get("source"), str) else source,
        json_field(record, "meta", path, line),
        time_field(record, "created", path, line) or stamp,
    )


def _fast_row(record: dict, combinations: dict[tuple, int], source: str, stamp: str) -> tuple | None:
    """Return the row of a record of the common shape (plain fields, a known combination), else None."""
    uid = record.get("id")
    skills = record.get("skills")
    if not (
        record.keys() <= _FAST_KEYS
        and type(uid) is str
        and uid
        and type(skills) is list
        and type(record.get("student")) is str
        and record["student"]
        and type(record.get("k")) is int
        and len(skills) == record["k"]
        and type(record.get("text")) is str
        and type(record.get("round", 1)) is int
        and record.get("round", 1) >= 1
    ):
        return None
    combination_id = combinations.get((record.get("topic"), *skills))
    if combination_id is None:
        return None
    round_number = record.get("round", 1)
    return (
        uid,
        combination_id,
        record["student"],
        round_number,
        None,
        None,
        record["text"],
        source,
        None,
        stamp,
    )


def generation_rows(store: Store, path: Path) -> Iterator[tuple[int, tuple]]:
    """Validate a generic generations file and yield (line, store-ready tuple) (see GENERATION_COLUMNS).

    The common shape (plain fields, known combination) takes a fast path; anything else goes
    through the full validation, which names the line and field of the first problem.
    """
    resolver = CombinationResolver(store)
    seen: set[str] = set()
    stamp = now_iso()
    source = f"import:{path.name}"
    combinations: dict[tuple, int] = {}
    for line, record in source_records(path):
        row = _fast_row(record, combinations, source, stamp)
        if row is None:
            row = _validate_generation(record, path, line, resolver, stamp, source)
            if record.keys() <= _FAST_KEYS:
                combinations[(record["topic"], *record["skills"])] = row[1]
        if row[0] in seen:
            raise InputError(f"duplicate id {row[0]!r}", file=path, line=line, field="id")
        seen.add(row[0])
        yield line, row


def import_generations(store: Store, path: Path) -> dict[str, int]:
    """Import a generic generations file (JSONL, CSV or Parquet); return counts. All or nothing."""
    added = read = 0
    with store.atomic():
        for batch in batched(generation_rows(store, path)):
            read += len(batch)
            inserted = store.insert_generations([row for _line, row in batch])
            if inserted < len(batch):
                _refuse_changed_generations(store, path, batch)
            added += inserted
        counts = {"generations_read": read, "generations_added": added}
        store.log_import("generations", str(path), file_digest(path), counts)
    return counts


def _refuse_changed_generations(store: Store, path: Path, batch: list[tuple[int, tuple]]) -> None:
    """Refuse rows whose id is already in the project with another text, student, round or combination."""
    stored = generation_contents(store, [row[0] for _line, row in batch])
    for line, (uid, combination_id, student, round_number, _prompt, _raw, text, *_rest) in batch:
        old = stored.get(uid)
        if old is not None and old != (combination_id, student, round_number, text):
            raise InputError(
                f"id {uid!r} is already in the project with a different text, student, round or skills/topic "
                "(give the new generation another id)",
                file=path,
                line=line,
                field="id",
            )
