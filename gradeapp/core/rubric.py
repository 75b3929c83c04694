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


# Abbreviations pysbd does not know, after which a lower-case word or a number goes on the sentence.
_ABBREVIATION_END = re.compile(
    r"(?<![\w.])(?:vol|vols|tsp|tbsp|oz|lb|lbs|approx|fig|figs|no|nos|ch|pp|cf|vs|ca|est|dept|gal|qt|pt)\.\s*$",
    re.I,
)
_QUOTES = "'\"‘’“”"
# A sentence ending inside a quotation that is itself quoted ('...never again.'"), then a new sentence.
# (also after one curly closing quote: pysbd splits after ".”" but not after ".’")
_NESTED_QUOTE_END = re.compile(rf"(?:(?<=[.!?][{_QUOTES}][{_QUOTES}])|(?<=[.!?]’))\s+(?=[{_QUOTES}]?[A-Z])")
# An item of a list written inside the sentence ("Steps: 1) knead, 2) rest, 3) bake.").
_INLINE_ITEM = re.compile(r"^\s*\(?(?:\d{1,2}|[a-z])\)")
_INLINE_LIST_BEFORE = re.compile(r"[:,;][ \t]*$")
_TERMINAL_END = re.compile(rf"[.!?…:;][{_QUOTES})\]]*\s*$")
_QUESTION_END = re.compile(rf"[?!][{_QUOTES}]*[ \t]*$")
_DOUBLE_QUOTED = re.compile(r'["“]([^"“”]+)["”]')
_INNER_END = re.compile(rf"[.!?][{_QUOTES}]?\s+(?=[{_QUOTES}]?[A-Z])")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences: pysbd (a maintained rule-based segmenter), then our corrections.

    pysbd's pieces are corrected where it is wrong on model replies (docs/text-handling.md): a piece
    without a letter or digit (a closing quote or bracket split off after the period) joins the
    sentence before it; a piece after an abbreviation pysbd does not know (`Vol.`, `tsp.`) that goes
    on in lower case or with a number joins it too, as does one in lower case after a question or an
    exclamation mark ("Why? asked Grandpa."), as does an inline list item after a colon or comma
    ("Steps: 1) knead, 2) rest"), or a piece after a line break inside a sentence
    (no terminal mark, the next line in lower case); a sentence ending in a nested quotation
    (`'never again.'"`) is split from a capitalised sentence after it; the sentences of a quotation
    that ends its sentence are counted (`_split_quoted`).
    """
    if not text or not text.strip():
        return []
    pieces: list[str] = []
    for piece in _segmenter().segment(text):
        pieces.extend(p for p in _NESTED_QUOTE_END.split(piece) if p)
    merged: list[str] = []
    for piece in pieces:
        if merged and _continues(merged[-1], piece):
            merged[-1] += piece
        elif piece.strip():
            merged.append(piece)
    return [part for sentence in merged for part in _split_quoted(sentence)]


def _split_quoted(sentence: str) -> list[str]:
    """Split the sentences inside a double-quoted passage that ends the sentence (pysbd keeps them whole).

    A quotation the sentence goes on after ('"Measure twice. Cut once." hangs above the bench') is
    part of that sentence; one that closes it or stands alone ('"I trained. I'll win."') counts the
    sentences it holds.
    """
    cuts = []
    for quoted in _DOUBLE_QUOTED.finditer(sentence):
        if any(ch.isalnum() for ch in sentence[quoted.end() :]):
            continue
        cuts.extend(quoted.start(1) + inner.end() for inner in _INNER_END.finditer(quoted.group(1)))
    if not cuts:
        return [sentence]
    bounds = [0, *cuts, len(sentence)]
    return [sentence[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if sentence[a:b].strip()]


def _continues(before: str, piece: str) -> bool:
    """Tell whether pysbd's piece goes on the sentence before it rather than starting one."""
    if not any(ch.isalnum() for ch in piece):
        return True
    start = piece.lstrip()[:1]
    if _ABBREVIATION_END.search(before) and (start.islower() or start.isdigit()):
        return True
    if _INLINE_ITEM.match(piece) and _INLINE_LIST_BEFORE.search(before):
        return True
    if _QUESTION_END.search(before) and start.islower():
        return True  # a question or exclamation the sentence goes on after ("Why? asked Grandpa.")
    return "\n" in before[-2:] and not _TERMINAL_END.search(before) and start.islower()


def count_sentences(text: str) -> int:
    """Count sentences (split_sentences); the count used for the sentence-limit check."""
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
