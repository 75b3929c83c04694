"""Evidence: the words of a text that show a criterion, and whether a judge's quote is really there.

A quote is checked against the graded text in three steps:

1. `grounded`: after normalising both (case folded, every run of whitespace one space, curly and other
   typographic quote marks and apostrophes made straight, dashes made '-'), the quote occurs in the
   text; an ellipsis in the quote ('...' or '…') splits it into parts that must occur in order.
2. `near`: otherwise, rapidfuzz's `partial_ratio_alignment` finds the passage of the text most like the
   quote; it counts when its score is at least NEAR_THRESHOLD (90 of 100: about one character wrong in
   ten, enough for a changed word ending, a dropped article or a typo, not for a paraphrase) and the quote
   has at least MIN_NEAR_CHARS characters (a short quote matches almost anything).
3. `not_found`: neither.

Every grounded or near quote comes with the span it matched, as character offsets [start, end) into
the original text (not the normalised one), so the desk can highlight it and the statistics can count
its tokens. Quotes are taken from our JSON replies' `quotes` field, or, for replies in the reference's
free-text format, from the passages in quotation marks of each criterion's explanation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from gradeapp.core.parsing import CriterionMatcher, reply_criteria_object
from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, SKILL_PREFIX, TOPIC, skill_stem

GROUNDED = "grounded"
NEAR = "near"
NOT_FOUND = "not_found"
GROUNDINGS = (GROUNDED, NEAR, NOT_FOUND)
NEAR_THRESHOLD = 90.0
MIN_NEAR_CHARS = 8

# Typographic marks a judge (or a person's clipboard) may use for the text's plain ones.
_MARKS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.+|\u2026)\s*")
_EDGE = " \t\r\n\"'.,;:!?"


@dataclass(frozen=True)
class Grounding:
    """How one quote was found in a text: its class, the matched span [start, end) and the fuzzy score."""

    quote: str
    grounding: str  # grounded | near | not_found
    start: int | None = None
    end: int | None = None
    score: float | None = None


def normalise(text: str) -> tuple[str, list[int]]:
    """Return the text normalised for matching and, per character of it, its index in the original.

    Case is folded character by character (so one original character stays one character: a rare
    expanding fold such as 'ß' -> 'ss' maps every produced character back to its source).
    """
    out: list[str] = []
    index: list[int] = []
    last_space = True  # drops leading whitespace
    for i, char in enumerate(text.translate(_MARKS)):
        if char.isspace():
            if not last_space:
                out.append(" ")
                index.append(i)
            last_space = True
            continue
        last_space = False
        for folded in char.casefold():
            out.append(folded)
            index.append(i)
    if out and out[-1] == " ":
        out.pop()
        index.pop()
    return "".join(out), index


def _clean_quote(quote: str) -> str:
    return normalise(quote)[0].strip(_EDGE)


def ground_quote(quote: str, text: str) -> Grounding:
    """Classify one quote against a text: grounded, near (score >= NEAR_THRESHOLD) or not_found."""
    norm_text, index = normalise(text)
    cleaned = _clean_quote(quote)
    if not cleaned or not norm_text:
        return Grounding(quote, NOT_FOUND)
    span = _exact_span(cleaned, norm_text)
    if span is not None:
        return Grounding(quote, GROUNDED, index[span[0]], index[span[1] - 1] + 1, 100.0)
    if len(cleaned) < MIN_NEAR_CHARS:
        return Grounding(quote, NOT_FOUND)
    # The ellipsis is dropped for the fuzzy step: the alignment then spans the gap it stood for.
    alignment = fuzz.partial_ratio_alignment(_ELLIPSIS.sub(" ", cleaned), norm_text)
    if alignment is None or alignment.score < NEAR_THRESHOLD or alignment.dest_end <= alignment.dest_start:
        return Grounding(quote, NOT_FOUND, score=round(alignment.score, 1) if alignment else None)
    start, end = alignment.dest_start, alignment.dest_end
    return Grounding(quote, NEAR, index[start], index[end - 1] + 1, round(alignment.score, 1))


def _exact_span(cleaned: str, norm_text: str) -> tuple[int, int] | None:
    """Return the normalised span of the quote's parts (split at ellipses) found in order, or None."""
    parts = [p.strip(_EDGE) for p in _ELLIPSIS.split(cleaned)]
    parts = [p for p in parts if p]
    if not parts:
        return None
    first = norm_text.find(parts[0])
    if first < 0:
        return None
    pos = first + len(parts[0])
    for part in parts[1:]:
        found = norm_text.find(part, pos)
        if found < 0:
            return None
        pos = found + len(part)
    return first, pos


# -- quotes out of a judge's reply ---------------------------------------------------------------
_QUOTED = re.compile(
    r'"([^"\n]{3,})"|\u201c([^\u201d\n]{3,})\u201d|(?<![\w])\u2018([^\u2019\n]{3,})\u2019(?![\w])'
)
_EARNED = re.compile(r"points?\s+earned(?:\s+for\s+[^:\n]+?)?\s*[:=][^\n]*", re.I)
_LETTER = re.compile(r"[^\W\d_]")
_HEADING_MARK = re.compile(r"^\s*(?:\*\*|#+|\d+[.)]|[-*\u2022])\s*")


def quoted_passages(explanation: str) -> list[str]:
    """Return the passages in double (straight or curly) or curly single quotation marks, in order."""
    return [next(g for g in m.groups() if g is not None).strip() for m in _QUOTED.finditer(explanation or "")]


def json_quotes(raw: str, criteria: Sequence[str]) -> dict[str, list[str]] | None:
    """Return each criterion's `quotes` (or `quote`) from a JSON reply; None when the reply is not JSON."""
    obj = reply_criteria_object(raw)
    if obj is None:
        return None
    out: dict[str, list[str]] = {}
    for crit in criteria:
        item = obj.get(crit)
        if not isinstance(item, dict):
            continue
        value = item.get("quotes", item.get("quote"))
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        quotes = [q.strip() for q in values if isinstance(q, str) and q.strip()]
        if quotes:
            out[crit] = quotes
    return out


def free_text_quotes(raw: str, skills: Sequence[str], topic: str) -> dict[str, list[str]]:
    """Return per criterion the quoted passages of its explanation in a reference-format reply.

    The explanation of a criterion is, in this order of preference: the cells after its label in a
    table row; the passage before each 'Point earned' line, under the heading that names it; a
    paragraph that names it (the reference's tables often explain below the table). Quotes of the
    rubric's own words (a skill's name, the topic, 'at most two sentences') are not evidence.
    """
    matcher = CriterionMatcher(skills, topic)
    out: dict[str, list[str]] = {}
    for crit, explanation in _explanations(raw or "", matcher):
        quotes = [q for q in quoted_passages(explanation) if not _is_rubric_words(q, skills, topic)]
        if quotes:
            out.setdefault(crit, []).extend(quotes)
    return out


def _is_rubric_words(quote: str, skills: Sequence[str], topic: str) -> bool:
    cleaned = _clean_quote(quote)
    labels = {_clean_quote(x) for s in skills for x in (s, skill_stem(s), f"correctly illustrates {s}")}
    labels |= {_clean_quote(topic), _clean_quote(f"pertains to {topic}"), "text makes sense", "makes sense"}
    return cleaned in labels or (cleaned.startswith("at most ") and "sentence" in cleaned)


def _explanations(raw: str, matcher: CriterionMatcher) -> list[tuple[str, str]]:
    """Return (criterion, explanation) pairs: a table's explaining cells, 'Point earned' passages, paragraphs."""
    pairs: list[tuple[str, str]] = []
    for line in raw.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.count("|") >= 2 else []
        if len(cells) >= 2 and _LETTER.search(" ".join(cells[1:])):
            crit = matcher.match(_HEADING_MARK.sub("", cells[0]).strip("*: "))
            if crit:
                pairs.append((crit, " ".join(cells[1:])))
    if pairs:
        return pairs
    start = 0
    for m in _EARNED.finditer(raw):
        segment = raw[start : m.start()]
        start = m.end()
        crit = _segment_criterion(segment, matcher)
        if crit:
            pairs.append((crit, segment))
    if pairs:
        return pairs
    for paragraph in re.split(r"\n\s*\n", raw):
        if "|" in paragraph:
            continue
        unquoted = _QUOTED.sub(" ", paragraph)
        crit = matcher.match(unquoted) or matcher.match(
            re.split(r"(?<=[.!?])\s", unquoted.strip(), maxsplit=1)[0]
        )
        if crit:
            pairs.append((crit, paragraph))
    return pairs


def _segment_criterion(segment: str, matcher: CriterionMatcher) -> str | None:
    """Return the criterion named by the first line of a passage that names one."""
    for line in segment.strip().splitlines():
        head = _HEADING_MARK.sub("", line).strip()
        head = head.split(":", 1)[0] if ":" in head else head
        crit = matcher.match(head.strip("* "))
        if crit:
            return crit
    return None


def reply_quotes(
    raw: str, skills: Sequence[str], topic: str, criteria: Sequence[str]
) -> dict[str, list[str]]:
    """Return per criterion the judge's quotes: the JSON `quotes` field, else the explanation's quotes."""
    quotes = json_quotes(raw, criteria)
    return quotes if quotes is not None else free_text_quotes(raw, skills, topic)


def ground_reply(
    raw: str, text: str, skills: Sequence[str], topic: str, criteria: Sequence[str]
) -> list[tuple[str, Grounding]]:
    """Return (criterion, grounding) for every quote of a judge's reply, checked against the text."""
    return [
        (crit, ground_quote(quote, text))
        for crit, quotes in reply_quotes(raw, skills, topic, criteria).items()
        for quote in quotes
    ]


def quote_rows(raw: str, text: str, skills: Sequence[str], topic: str) -> list[dict]:
    """Return the evidence rows of a judge's reply: criterion, offsets, quote, grounding and score.

    What the judge's save path stores beside the verdicts (db/evidence_store.py's columns).
    """
    crits = [SKILL_PREFIX + s for s in skills] + [TOPIC, MAKES_SENSE, SENTENCE_LIMIT]
    return [
        {
            "criterion": crit,
            "start_char": found.start,
            "end_char": found.end,
            "quote": found.quote,
            "grounding": found.grounding,
            "score": found.score,
        }
        for crit, found in ground_reply(raw, text, skills, topic, crits)
    ]
