"""Load a Skill-Mix catalog: the reference's skills.csv + topics.txt, or our generic JSONL/CSV."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gradeapp.db import Store
from gradeapp.errors import InputError
from gradeapp.io.text import open_text, read_csv_rows, read_jsonl

EXCLUDED_STATUSES = {"remove", "in review", "maybe"}
REFERENCE_COLUMNS = ("category", "skill", "definition", "example")


def _bool(value: Any, file: Path, line: int, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, "", 0, "0", "false", "False", "no"):
        return False
    if value in (1, "1", "true", "True", "yes"):
        return True
    raise InputError(f"expected true/false, got {value!r}", file=file, line=line, field=field)


def _skill(row: dict, file: Path, line: int, name_field: str) -> dict:
    name = row.get(name_field)
    if not isinstance(name, str) or not name.strip():
        raise InputError("a skill needs a non-empty name", file=file, line=line, field=name_field)
    out = {"name": name.strip()}
    for key in ("status", "category", "definition", "example"):
        value = row.get(key) or ""
        if not isinstance(value, str):
            raise InputError(f"expected text, got {type(value).__name__}", file=file, line=line, field=key)
        out[key] = value.strip()
    out["common"] = _bool(row.get("common"), file, line, "common")
    freq = row.get("frequency")
    if freq not in (None, ""):
        try:
            out["frequency"] = float(freq)
        except (TypeError, ValueError, OverflowError):
            raise InputError(
                f"expected a number, got {str(freq)[:40]!r}", file=file, line=line, field="frequency"
            ) from None
        if not math.isfinite(out["frequency"]) or isinstance(freq, bool):
            raise InputError(
                f"expected a finite number, got {freq!r}", file=file, line=line, field="frequency"
            )
    return out


def read_skills_csv(path: Path) -> Iterator[dict]:
    """Read skills from a CSV: the reference layout (skill column, status filter) or ours (name column)."""
    seen: set[str] = set()
    name_field = None
    for line, row in read_csv_rows(path):
        if name_field is None:
            name_field = "skill" if "skill" in row else "name" if "name" in row else None
            if name_field is None:
                raise InputError(
                    "no 'skill' or 'name' column in the header", file=path, line=1, field="skill"
                )
        if (row.get("status") or "").strip().lower() in EXCLUDED_STATUSES:
            continue
        skill = _skill(row, path, line, name_field)
        if skill["name"] in seen:
            raise InputError(f"duplicate skill {skill['name']!r}", file=path, line=line, field=name_field)
        seen.add(skill["name"])
        yield skill


def read_skills_jsonl(path: Path) -> Iterator[dict]:
    """Read skills from JSONL: one {"name", "category", "definition", "example", "common"} per line."""
    seen: set[str] = set()
    for line, obj in read_jsonl(path):
        if (str(obj.get("status") or "")).strip().lower() in EXCLUDED_STATUSES:
            continue
        skill = _skill(obj, path, line, "name")
        if skill["name"] in seen:
            raise InputError(f"duplicate skill {skill['name']!r}", file=path, line=line, field="name")
        seen.add(skill["name"])
        yield skill


def read_topics(path: Path) -> list[str]:
    """Read topics: one per line (blank lines skipped), or a JSONL of {"topic": ...}."""
    topics: list[str] = []
    if path.suffix == ".jsonl":
        for line, record in read_jsonl(path):
            topic = record.get("topic") or record.get("name")
            if not isinstance(topic, str) or not topic.strip():
                raise InputError("a topic needs a non-empty name", file=path, line=line, field="topic")
            topics.append(topic.strip())
    else:
        with open_text(path) as lines:
            for number, raw in enumerate(lines, 1):
                if raw.strip():
                    if len(raw) > 500:
                        raise InputError(
                            "a topic longer than 500 characters", file=path, line=number, field="topic"
                        )
                    topics.append(raw.strip())
    if not topics:
        raise InputError("no topics in the file", file=path)
    dupes = {topic for topic in topics if topics.count(topic) > 1}
    if dupes:
        raise InputError(f"duplicate topic {sorted(dupes)[0]!r}", file=path, field="topic")
    return topics


def resolve_catalog(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Split paths into skills files and topics files; a folder gives its skills.* and topics.*."""
    skills: list[Path] = []
    topics: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = False
            for name in ("skills.csv", "skills.jsonl"):
                if (path / name).exists():
                    skills.append(path / name)
                    found = True
            for name in ("topics.txt", "topics.jsonl"):
                if (path / name).exists():
                    topics.append(path / name)
                    found = True
            if not found:
                raise InputError("no skills.csv, skills.jsonl or topics.txt in this folder", file=path)
        elif not path.exists():
            raise InputError("no such file", file=path)
        elif path.name.startswith("topics") or path.suffix == ".txt":
            topics.append(path)
        elif path.suffix in (".csv", ".jsonl"):
            skills.append(path)
        else:
            raise InputError(
                "expected a .csv or .jsonl skills file, a .txt topics file or a folder", file=path
            )
    return skills, topics


def import_catalog(store: Store, paths: list[Path]) -> dict[str, int]:
    """Import skills and topics in one transaction: all of it, or nothing on any error."""
    skill_files, topic_files = resolve_catalog(paths)
    skills: list[dict] = []
    for path in skill_files:
        skills.extend(read_skills_csv(path) if path.suffix == ".csv" else read_skills_jsonl(path))
    topics: list[str] = []
    for path in topic_files:
        topics.extend(read_topics(path))
    with store.atomic():
        added, updated = store.upsert_skills(skills)
        new_topics = store.add_topics(topics)
        counts = {"skills_added": added, "skills_updated": updated, "topics_added": new_topics}
        for path in skill_files + topic_files:
            store.log_import("catalog", str(path), None, counts)
    return counts


def set_common(store: Store, names: list[str], common: bool = True) -> int:
    """Flag (or unflag) skills as common; an unknown name is an error and changes nothing."""
    known = store.skill_ids()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"unknown skill {unknown[0]!r}", field="skill")
    with store.atomic():
        store.set_skills_common(names, common)
    return len(names)
