"""Read a student's answer and a judge's verdicts out of raw model replies.

Judge verdicts are matched to criteria **by name**, never by position (the rule, in docs/judge.md):

1. ``exact``: the row's label is, letter for letter, a criterion's own text (``Correctly illustrates metaphor``, ``metaphor``,
   ``skill:metaphor``, ``Pertains to Kite flying``, ``Text makes sense``, ``topic``...).
2. ``normalised``: after lower-casing and removing markdown, numbering, the rubric's fixed prefixes
   (``Correctly illustrates``, ``Pertains to``...), punctuation and parentheses, the label names exactly
   one skill (its full name or the part before ``(``), or the topic / sense / sentence-limit wording.
3. ``fuzzy``: the rows still unmatched are scored against the criteria still free (rapidfuzz's WRatio on
   the normalised texts) and assigned by the best one-to-one match (scipy's linear_sum_assignment); a pair
   counts only when it scores at least FUZZY_THRESHOLD and beats the row's and the criterion's next best
   by FUZZY_MARGIN.
4. ``elimination``: when exactly one row and one criterion are left over and the row sits, among the
   matched rows, where the criterion sits in the rubric, they are matched.

A row naming two skills, or one no rule can place, stays unmatched: its criterion is ``missing``, and no
later point is ever shifted onto it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, SKILL_PREFIX, TOPIC, skill_stem

MATCH_METHODS = ("exact", "normalised", "fuzzy", "elimination")
FUZZY_THRESHOLD = 80.0
FUZZY_MARGIN = 10.0


def extract_answer_reference(reply: str) -> str:
    """Return the text after the last 'Answer:' and before 'Explanation', stripped (the reference's rule).

    Kept for the reference's own runs: their verdicts were given on exactly this text.
    """
    text = (reply or "").split("Answer:")[-1]
    return text.split("Explanation")[0].strip()


# "Answer:", "**Answer:**", "### Answer", "Revised answer:", at any case; the last one counts.
_ANSWER_MARK = re.compile(
    r"(?:^|(?<=[\s\"“]))[#>*_ \t]*(?:(?:improved|revised|final|new)\s+)?answer[*_ \t]*:[*_]*"
    r"|^[#>*_ \t]*(?:(?:improved|revised|final|new)\s+)?answer[*_ \t]*$"
    r"|^[ \t]*text[ \t]*:",  # "Text: ..." at the start of a line
    re.I | re.M,
)
# "Explanation:" anywhere (case as written), or a line that opens with it (any case, any markdown).
_EXPLANATION_MARK = re.compile(
    r"[#*_ \t]*\bExplanation\b[*_ \t]*[:\-–—]|^[#>*_ \t]*explanation\b", re.M | re.I
)
# A line that introduces the answer ("Here is a text...:", "Sure! Here's the improved version:"), or a
# bare "Sure!" on a line of its own; a line ending in a period is the student's text, never a preamble.
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok|here(?:'s| is| are)|below is|i have|i've|the (?:improved|revised)"
    r"|improved|revised)\b[^\n]*:|(?:sure|certainly|of course|okay)[.!]*)[ \t]*(?:\n|$)",
    re.I,
)
# A line anywhere that introduces the text after it ("...how about this? Here's a possible example:").
_INTRODUCTION = re.compile(
    r"^[^\n]*\b(?:here(?:'s| is| are)|below is|for example|an example|possible example|revised text|"
    r"improved text|new text)\b[^\n]*:[ \t]*\n",
    re.I | re.M,
)
# A line or paragraph after the answer that talks about it rather than being part of it.
_COMMENTARY_LINE = re.compile(
    r"^\s*(?:[-*•]\s*\*\*|\d+[.)]\s*\*\*|\(?note\b|this (?:text|answer|passage|example|sentence|version|"
    r"revised|improved|new|piece)|in this (?:piece of )?(?:text|answer|passage|example|sentence|version|revised|"
    r"improved)|(?:the|my) (?:revised |improved |new )?(?:text|answer|passage|sentence|example)(?: [\w' ]{1,30})? "
    r"(?:illustrates|demonstrates|uses|shows|keeps|now|contains|has)|here,|i hope|let me know|"
    r"skills? (?:used|illustrated|shown)|(?:it|which) (?:illustrates|demonstrates))",
    re.I,
)
# a paragraph opening with a "Label: " (a skill's name, "Context: ") is commentary too
_COMMENTARY = re.compile(rf"{_COMMENTARY_LINE.pattern}|^\s*[\w][\w ()'-]{{1,60}}:\s", re.I)
_EMPHASIS = re.compile(r"\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")  # bold and italics
_FENCE = re.compile(r"^\s*```[\w-]*\s*$", re.M)


def extract_answer(reply: str) -> str:
    """Return the student's text out of a raw generation reply (docs/text-handling.md).

    The reference's rule (after the last 'Answer:', before 'Explanation') made robust to what real
    models write: markdown around the markers ('**Answer:**', '### Explanation'), a preamble when
    there is no marker ('Here is a text...:'), code fences, bold and italics, block quotes, and
    paragraphs after the answer that explain it without an 'Explanation:' marker.
    """
    text = reply or ""
    marks = list(_ANSWER_MARK.finditer(text))
    if marks:
        text = text[marks[-1].end() :]
    text = _PREAMBLE.sub("", text.lstrip(), count=1)
    intros = list(_INTRODUCTION.finditer(text))
    if intros and text[intros[-1].end() :].strip():
        text = text[intros[-1].end() :]
    cut = _EXPLANATION_MARK.search(text)
    if cut:
        text = text[: cut.start()]
    text = _FENCE.sub("", text)
    text = re.sub(r"^[ \t]*>[ \t]?", "", text, flags=re.M)  # block quotes
    return _balance_quotes(_EMPHASIS.sub("", _without_commentary(text)).strip())


def _without_commentary(text: str) -> str:
    """Return the answer's first paragraph and those after it up to the first that talks about it."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip())]
    kept = paragraphs[:1]
    for para in paragraphs[1:]:
        if _COMMENTARY.match(para):
            break
        kept.append(para)
    lines = "\n\n".join(p for p in kept if p).splitlines()
    # a commentary line under the answer without a blank line between ends it too
    end = next((i for i, line in enumerate(lines) if i and _COMMENTARY_LINE.match(line)), len(lines))
    lines = lines[:end]
    while lines and lines[-1].rstrip().endswith(":"):
        lines.pop()  # an introduction with nothing after it ("The skills mentioned are:")
    return "\n".join(lines)


def _balance_quotes(text: str) -> str:
    """Drop a lone double quote at either end (a quotation the reply opened and the cut left open)."""
    if text.count('"') == 1 and (text.startswith('"') or text.endswith('"')):
        return text.strip('"').strip()
    return text


# -- verdict parsing ------------------------------------------------------------------------------
@dataclass
class Point:
    """One criterion's parsed point: value 1/0, or None with a status saying why; how its row was matched."""

    value: int | None
    raw_value: str | None
    status: str  # ok | fractional | missing | empty | unparsed
    reason: str | None = None
    match: str | None = None  # exact | normalised | fuzzy | elimination (None: no row matched)


@dataclass
class ParsedReply:
    points: dict[str, Point]
    status: str  # ok | partial | empty, with ',total_mismatch' or ',unmatched' appended when seen
    fmt: str  # table | points | json | none
    unmatched: list[str] = field(default_factory=list)
    total: float | None = None


def _norm(text: str) -> str:
    text = text.lower().replace("-", " ").replace("_", " ")
    text = re.sub(r"[*`'\"‘’“”]", "", text)
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"\s+\)", ")", text)
    return re.sub(r"\s+", " ", text).strip()


# The rubric's fixed wording around a criterion, and how judges rephrase it.
_PREFIXES = re.compile(
    r"^(?:(?:correctly|properly|successfully|clearly)\s+)?"
    r"(?:illustrates?|illustration of|demonstrates?|uses?|use of|shows?|includes?|employs?|"
    r"pertains? to|pertaining to|relates? to|relevance to|relevant to|about)\s+(?:the\s+)?"
    r"(?:(?:skill|topic|concept)(?:\s+of)?\s*)?"
)
_NUMBERING = re.compile(
    r"^\s*(?:#+\s*|[-*•+]\s+|\(?\d+[.):]\s*|\(?[a-z][.)]\s+|(?:criterion|point)\s*\d+\s*[:.)-]?\s*)+"
)


def normalise_label(text: str, *, strip_prefix: bool = True) -> str:
    """Return a label reduced to its words: no markdown, numbering, fixed prefix, punctuation or brackets."""
    low = (text or "").strip().lower()
    low = re.sub(r"[*_`#]+", " ", low).strip()
    low = _NUMBERING.sub("", low)
    low = re.sub(r"^skill\s*:\s*", "", low)
    low = re.sub(r"[‘’'`]s\b", "", low)  # possessives
    low = re.sub(r"[^\w\s]", " ", low)  # punctuation, slashes, hyphens and brackets become spaces
    low = re.sub(r"\s+", " ", low).strip()
    return _PREFIXES.sub("", low).strip() if strip_prefix else low


def _word_in(needle: str, hay: str) -> bool:
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", hay) is not None


class CriterionMatcher:
    """Map labels written by a judge ('Correctly illustrates metaphor', '**Red Herring**') to criteria."""

    def __init__(self, skills: Sequence[str], topic: str) -> None:
        self.skills = list(skills)
        self.topic = topic
        self.criteria = [SKILL_PREFIX + s for s in self.skills] + [TOPIC, MAKES_SENSE, SENTENCE_LIMIT]
        self._exact: dict[str, str] = {}
        for s in self.skills:
            for text in (s, SKILL_PREFIX + s, f"Correctly illustrates {s}", f"Correctly illustrates {s}."):
                self._exact.setdefault(text.strip(), SKILL_PREFIX + s)
        for text, crit in (
            (TOPIC, TOPIC),
            (f"Pertains to {topic}", TOPIC),
            (f"Pertains to {topic}.", TOPIC),
            (MAKES_SENSE, MAKES_SENSE),
            ("Text makes sense", MAKES_SENSE),
            ("Makes sense", MAKES_SENSE),
            (SENTENCE_LIMIT, SENTENCE_LIMIT),
        ):
            self._exact.setdefault(text.strip(), crit)
        self._names = {s: normalise_label(s) for s in self.skills}
        self._stems = {s: normalise_label(skill_stem(s)) for s in self.skills}
        self._topic = normalise_label(topic)
        # What the fuzzy step compares a label with, per criterion.
        self._fuzzy_text = {SKILL_PREFIX + s: self._names[s] for s in self.skills}
        self._fuzzy_text.update(
            {
                TOPIC: f"topic {self._topic}",
                MAKES_SENSE: "text makes sense",
                SENTENCE_LIMIT: "at most sentences",
            }
        )

    def match_one(self, label: str) -> tuple[str | None, str | None]:
        """Return (criterion, method) for one label by the exact and normalised rules; ('', None) if ambiguous."""
        raw = (label or "").strip()
        if not raw:
            return None, None
        crit = self._exact.get(raw) or self._exact.get(raw.rstrip(":. "))
        if crit:
            return crit, "exact"
        words = normalise_label(label, strip_prefix=False)
        low = normalise_label(label)
        if not words:
            return None, None
        # Exactly one skill must be named (full name or the part before '('); several is ambiguous.
        hits = [s for s in self.skills if _word_in(self._names[s], low) or _word_in(self._stems[s], low)]
        if len(hits) > 1:
            # A name contained in another ('irony' in 'dramatic irony'): the longest distinct one wins.
            longest = [s for s in hits if not any(o != s and self._names[s] in self._names[o] for o in hits)]
            named = [s for s in longest if _word_in(self._names[s], low) or _word_in(self._stems[s], low)]
            hits = named if len(named) == 1 and len(longest) < len(hits) else hits
        if len(hits) == 1:
            return SKILL_PREFIX + hits[0], "normalised"
        if hits:
            return "", None
        if "pertain" in words or "topic" in words or _word_in(self._topic, low) or "relevan" in words:
            return TOPIC, "normalised"
        if "sense" in words or "coheren" in words or "clarity" in words or "logical" in words:
            return MAKES_SENSE, "normalised"
        if "at most" in words or "sentence" in words or "length" in words:
            return SENTENCE_LIMIT, "normalised"
        return None, None

    def match(self, label: str) -> str | None:
        """Return the criterion one label names by the exact and normalised rules, or None."""
        return self.match_one(label)[0] or None

    def assign(self, labels: Sequence[str]) -> list[tuple[str | None, str | None]]:
        """Match every row label to a criterion, one-to-one; return (criterion, method) per row, in order."""
        out: list[tuple[str | None, str | None]] = [(None, None)] * len(labels)
        taken: set[str] = set()
        ambiguous: set[int] = set()
        for i, label in enumerate(labels):
            crit, method = self.match_one(label)
            if crit == "":
                ambiguous.add(i)
            elif crit and crit in taken:
                out[i] = (crit, "duplicate")  # a second row for one criterion: the first counts
            elif crit:
                out[i] = (crit, method)
                taken.add(crit)
        free_rows = [i for i in range(len(labels)) if out[i][0] is None and i not in ambiguous]
        free_rows = [i for i in free_rows if normalise_label(labels[i], strip_prefix=False)]
        free_crits = [c for c in self.criteria if c not in taken]
        if free_rows and free_crits:
            for i, crit in self._fuzzy(labels, free_rows, free_crits):
                out[i] = (crit, "fuzzy")
                taken.add(crit)
        free_rows = [i for i in free_rows if out[i][0] is None]
        free_crits = [c for c in self.criteria if c not in taken]
        if (
            len(free_rows) == 1
            and len(free_crits) == 1
            and self._order_agrees(out, free_rows[0], free_crits[0])
        ):
            out[free_rows[0]] = (free_crits[0], "elimination")
        return out

    def _fuzzy(self, labels: Sequence[str], rows: list[int], crits: list[str]) -> list[tuple[int, str]]:
        import numpy as np
        from rapidfuzz import fuzz, process
        from scipy.optimize import linear_sum_assignment

        queries = [normalise_label(labels[i]) for i in rows]
        choices = [self._fuzzy_text[c] for c in crits]
        scores = process.cdist(queries, choices, scorer=fuzz.WRatio, dtype=np.float64)
        r_idx, c_idx = linear_sum_assignment(scores, maximize=True)
        found = []
        for r, c in zip(r_idx, c_idx, strict=True):
            s = scores[r, c]
            row_next = max((scores[r, j] for j in range(len(crits)) if j != c), default=0.0)
            col_next = max((scores[i, c] for i in range(len(rows)) if i != r), default=0.0)
            if s >= FUZZY_THRESHOLD and s - row_next >= FUZZY_MARGIN and s - col_next >= FUZZY_MARGIN:
                found.append((rows[r], crits[c]))
        return found

    def _order_agrees(self, out: list, row: int, crit: str) -> bool:
        """Tell whether the leftover row sits among the matched rows where its criterion sits in the rubric."""
        rank = {c: i for i, c in enumerate(self.criteria)}
        matched = sorted((i, rank[c]) for i, (c, m) in enumerate(out) if c and m != "duplicate")
        if not matched:
            return False
        if [r for _, r in matched] != sorted(r for _, r in matched):
            return False  # the judge reordered its rows: position says nothing
        return all((i < row) == (r < rank[crit]) for i, r in matched)


_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*\d+(?:\.\d+)?)?")


def _point_from_text(raw: str) -> Point:
    """Read one numeric point: 1 or 0 is ok, another number is fractional, anything else unparsed."""
    cleaned = re.sub(r"^[\s*`'\"‘’“”]+", "", raw or "")
    m = _NUMBER.match(cleaned)
    if not m:
        return Point(None, (raw or "").strip()[:40], "unparsed")
    number = float(m.group(1))
    token = m.group(0).strip()
    if number in (0.0, 1.0):
        return Point(int(number), token, "ok")
    return Point(None, token, "fractional")


def _is_total(label: str) -> bool:
    low = _norm(label)
    return "total" in low or low.startswith("grade") or low == "score"


def _table_rows(reply: str) -> tuple[bool, list[tuple[str, str]], float | None]:
    """Return (a table was seen, its criterion rows as (label, value) in order, the stated total)."""
    found = False
    total = None
    rows: list[tuple[str, str]] = []
    for line in reply.splitlines():
        if "|" not in line:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        cells = [c for c in cells if c]
        if len(cells) < 2 or set("".join(cells)) <= set("-: "):
            continue
        label, value = cells[0], cells[1]
        if _norm(label) in ("criteria", "criterion") or _norm(value).startswith("point"):
            continue
        found = True
        if _is_total(label):
            m = _NUMBER.match(re.sub(r"^[\s*]+", "", value))
            total = float(m.group(1)) if m else None
            continue
        rows.append((label, value))
    return found, rows, total


_EARNED = re.compile(r"points?\s+earned(?:\s+for\s+(?P<label>[^:\n]+?))?\s*[:=]\s*(?P<value>[^\n]*)", re.I)
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _heading(line: str) -> str:
    bold = _BOLD.search(line)
    if bold:
        return bold.group(1)
    return line.split(":", 1)[0] if ":" in line else line


_HEADING_LIKE = re.compile(r"^\s*(\*\*|\d+[.)]|[-*•]\s|#)|:")


def _segment_label(segment: str, matcher: CriterionMatcher) -> str:
    """Return the heading a passage before a 'Point earned' is about: the first that names a criterion."""
    lines = [ln.strip() for ln in segment.strip().splitlines() if ln.strip()]
    headings = [_heading(ln) for ln in lines if _HEADING_LIKE.search(ln)]
    for h in headings:
        if matcher.match(h):
            return h
    return headings[0] if headings else (lines[0] if lines else "")


def _points_rows(reply: str, matcher: CriterionMatcher) -> list[tuple[str, str]]:
    """Return the 'Point earned' blocks as (label, value) in order."""
    rows: list[tuple[str, str]] = []
    start = 0
    for m in _EARNED.finditer(reply):
        label = m.group("label") or _segment_label(reply[start : m.start()], matcher)
        start = m.end()
        rows.append((label.strip()[:200], m.group("value")))
    return rows


def _assign_rows(rows: list[tuple[str, str]], matcher: CriterionMatcher, out: dict, unmatched: list) -> None:
    """Match the rows to criteria (see the module's rule) and read each matched row's point."""
    for (label, value), (crit, method) in zip(rows, matcher.assign([lb for lb, _ in rows]), strict=True):
        if method == "duplicate":
            continue
        if crit is None:
            unmatched.append(label.strip()[:80])
        elif crit not in out:
            p = _point_from_text(value)
            p.match = method
            out[crit] = p


def reply_criteria_object(reply: str) -> dict | None:
    """Return the criteria object of a JSON judge reply (inside a code fence or a "criteria" key), or None."""
    text = (reply or "").strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("{") :] if "{" in text else text
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    return obj.get("criteria", obj) if isinstance(obj.get("criteria"), dict) else obj


def _parse_json(reply: str, matcher: CriterionMatcher, criteria: Sequence[str], out: dict) -> bool:
    """Read our own structured format: {"<criterion>": {"pass": 0|1, "reason": "..."}, ...}."""
    obj = reply_criteria_object(reply)
    if obj is None:
        return False
    keys = list(obj)
    assigned = matcher.assign([k for k in keys if k not in criteria])
    methods = dict(zip([k for k in keys if k not in criteria], assigned, strict=True))
    for key, item in obj.items():
        crit, method = (key, "exact") if key in criteria else methods[key]
        if crit is None or method == "duplicate" or crit in out:
            continue
        value = item.get("pass", item.get("value")) if isinstance(item, dict) else item
        reason = item.get("reason") if isinstance(item, dict) else None
        if isinstance(value, bool):
            value = int(value)
        p = _point_from_text(str(value)) if value is not None else Point(None, None, "unparsed")
        p.reason = reason if isinstance(reason, str) else None
        p.match = method
        out[crit] = p
    return True


def parse_judge_reply(reply: str, skills: Sequence[str], topic: str) -> ParsedReply:
    """Parse a judge's reply into one Point per criterion (k skills + topic, makes_sense, sentence_limit).

    Understands our JSON format, the reference's rubric table and its 'Point earned: n' format.
    """
    crits = [SKILL_PREFIX + s for s in skills] + [TOPIC, MAKES_SENSE, SENTENCE_LIMIT]
    matcher = CriterionMatcher(skills, topic)
    out: dict[str, Point] = {}
    unmatched: list[str] = []
    total = None
    fmt = "none"
    if _parse_json(reply or "", matcher, crits, out):
        fmt = "json"
    else:
        table_found, rows, total = _table_rows(reply or "")
        point_rows = _points_rows(reply or "", matcher)
        if table_found:
            fmt = "table"
        elif point_rows:
            fmt = "points"
        _assign_rows(rows + point_rows, matcher, out, unmatched)
    if not out:
        points = {c: Point(None, None, "empty") for c in crits}
        status = "empty"
    else:
        points = {c: out.get(c, Point(None, None, "missing")) for c in crits}
        status = "ok" if all(p.status == "ok" for p in points.values()) else "partial"
    if total is not None:
        parsed_sum = sum(p.value for p in points.values() if p.value is not None)
        if status == "ok" and abs(parsed_sum - total) > 1e-9:
            status += ",total_mismatch"
    if unmatched:
        status += ",unmatched"
    return ParsedReply(points=points, status=status, fmt=fmt, unmatched=unmatched, total=total)
