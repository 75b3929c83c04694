"""The Skill-Mix rubric: the k + 3 criteria of a generation and its deterministic checks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

SKILL_PREFIX = "skill:"
TOPIC = "topic"
MAKES_SENSE = "makes_sense"
SENTENCE_LIMIT = "sentence_limit"
OTHER_CRITERIA = (TOPIC, MAKES_SENSE, SENTENCE_LIMIT)


def sentence_limit(k: int) -> int:
    """Return the most sentences a k-skill answer may have: max(1, k - 1)."""
    return max(1, k - 1)


def skill_criterion(skill: str) -> str:
    """Return the criterion name of a skill point."""
    return f"{SKILL_PREFIX}{skill}"


def criteria(skills: Sequence[str]) -> list[str]:
    """Return the k + 3 criteria of a generation, skills first, in the order given."""
    return [skill_criterion(s) for s in skills] + list(OTHER_CRITERIA)


def is_skill_criterion(criterion: str) -> bool:
    return criterion.startswith(SKILL_PREFIX)


def criterion_label(criterion: str, topic: str = "", k: int | None = None) -> str:
    """Return the human wording of a criterion, as the rubric shows it."""
    if is_skill_criterion(criterion):
        return f"Correctly illustrates {criterion[len(SKILL_PREFIX) :]}"
    if criterion == TOPIC:
        return f"Pertains to {topic}" if topic else "Pertains to the topic"
    if criterion == MAKES_SENSE:
        return "Text makes sense"
    if criterion == SENTENCE_LIMIT:
        if k is None:
            return "Within the sentence limit"
        n = sentence_limit(k)
        return f"At most {n} sentence{'s' if n > 1 else ''}"
    return criterion


# -- sentence counting ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # imported lazily: start-up of the desk does not pay for it

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with pysbd (a maintained rule-based segmenter)."""
    if not text or not text.strip():
        return []
    return [s for s in _segmenter().segment(text) if s.strip()]


def count_sentences(text: str) -> int:
    """Count sentences with pysbd; the count used for the sentence-limit check."""
    return len(split_sentences(text))


_REF_TITLES = re.compile(r"\b(Mr|Mrs|Ms|Dr|Prof)\. ")
_REF_BOUNDARY = re.compile(r"[.!?]['\"]* ['\"]*[A-Z]")


def count_sentences_reference(text: str) -> int:
    """Count sentences the way the reference pipeline does, kept for comparison.

    The reference joins a few titles to their names, then counts the pieces left after splitting
    at a terminal mark, optional quotes, one space, optional quotes and a capital letter. It
    returns 1 for an empty text.
    """
    text = _REF_TITLES.sub(lambda m: m.group(1) + ".", text)
    return len(_REF_BOUNDARY.split(text))


# -- naming penalty -------------------------------------------------------------------------------
def skill_stem(skill: str) -> str:
    """Return the part of a skill's name before any '(', lower-cased and stripped."""
    return skill.split("(", 1)[0].strip().lower()


def named_skills(text: str, skills: Iterable[str]) -> list[str]:
    """Return the skills whose name (before any '(') appears, lower-cased, in the lower-cased text."""
    low = (text or "").lower()
    return [s for s in skills if skill_stem(s) and skill_stem(s) in low]


def check_generation(text: str, k: int, skills: Sequence[str]) -> dict:
    """Run the deterministic checks of one generation: sentence counts and named skills."""
    n = count_sentences(text)
    return {
        "n_sentences": n,
        "n_sentences_ref": count_sentences_reference(text),
        "sentence_limit": sentence_limit(k),
        "within_limit": n <= sentence_limit(k),
        "named_skills": named_skills(text, skills),
    }
