"""A project's Skill-Mix checks: the program's sentence counts and named skills, cached per generation.

The pure rules live in gradeapp.core (rubric checks, metrics); this module reads a project's
current verdicts, generations and checks to apply them.
"""

from __future__ import annotations

import json

from gradeapp.core.rubric import count_sentences, count_sentences_reference, named_skills
from gradeapp.db import Store


def ensure_checks(store: Store, batch: int = 2000) -> int:
    """Compute and cache the checks of every generation that has none yet; return how many."""
    done = 0
    while True:
        rows = store.generations_without_checks(limit=batch)
        if not rows:
            return done
        skills_of = {}
        out = []
        for gid, text, _k, cid in rows:
            if cid not in skills_of:
                skills_of[cid] = [s["name"] for s in store.combination(cid)["skills"]]
            out.append(
                (
                    gid,
                    count_sentences(text),
                    count_sentences_reference(text),
                    json.dumps(named_skills(text, skills_of[cid])),
                )
            )
        with store.atomic():
            store.save_checks(out)
        done += len(out)
