"""Skill and topic names of an imported record resolved to a combination of the catalog."""

from __future__ import annotations

from pathlib import Path

from gradeapp.db import Store
from gradeapp.errors import InputError


class CombinationResolver:
    """Resolve skill and topic names to a combination id, with errors located in the input."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.skill_ids = store.skill_ids()
        self.topic_ids = store.topic_ids()
        self._combinations: dict[tuple, int] = {}

    def combination(
        self, skills: list[str], topic: str, file: Path, line: int, seed: int | None = None
    ) -> int:
        """Return the id of the combination of these skills and topic (created when new)."""
        ids = []
        for name in skills:
            skill_id = self.skill_ids.get(name)
            if skill_id is None:
                raise InputError(
                    f"unknown skill {name!r} (import the catalog first)", file=file, line=line, field="skills"
                )
            ids.append(skill_id)
        if len(set(ids)) != len(ids):
            raise InputError("a skill is listed twice", file=file, line=line, field="skills")
        topic_id = self.topic_ids.get(topic)
        if topic_id is None:
            raise InputError(
                f"unknown topic {topic!r} (import the catalog first)", file=file, line=line, field="topic"
            )
        key = (tuple(ids), topic_id)
        combination_id = self._combinations.get(key)
        if combination_id is None:
            combination_id = self.store.combination_id(ids, topic_id, seed)
            self._combinations[key] = combination_id
        return combination_id
