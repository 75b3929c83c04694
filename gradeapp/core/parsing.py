"""Read a student's answer and a judge's verdicts out of raw model replies.

Judge verdicts are matched to criteria **by name**, never by position: a skipped row leaves its
criterion 'missing' instead of shifting every later point.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, SKILL_PREFIX, TOPIC, skill_stem


def extract_answer(reply: str) -> str:
    """Return the text after the last 'Answer:' and before 'Explanation', stripped (reference rule)."""
    text = (reply or "").split("Answer:")[-1]
    return text.split("Explanation")[0].strip()


# -- verdict parsing ------------------------------------------------------------------------------
@dataclass
class Point:
    """One criterion's parsed point: value 1/0, or None with a status saying why."""

    value: int | None
    raw_value: str | None
    status: str  # ok | fractional | missing | empty | unparsed
    reason: str | None = None


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


class CriterionMatcher:
    """Map a label written by a judge ('Correctly illustrates metaphor', '**Red Herring**') to a criterion."""

    def __init__(self, skills: Sequence[str], topic: str) -> None:
        self.skills = list(skills)
        self.topic = topic
        self._full = {s: _norm(s) for s in skills}
        self._stem = {s: _norm(skill_stem(s)) for s in skills}

    def match(self, label: str) -> str | None:
        low = _norm(label)
        if not low:
            return None
        # Exactly one skill must be named (full name or the part before '('); several is ambiguous.
        hits = [
            s
            for s in self.skills
            if any(
                cand and re.search(rf"(?<![a-z]){re.escape(cand)}(?![a-z])", low)
                for cand in (self._full[s], self._stem[s])
            )
        ]
        if len(hits) == 1:
            return SKILL_PREFIX + hits[0]
        if hits:
            return None
        if (
            "pertain" in low
            or "topic" in low
            or (self.topic and _norm(self.topic) in low)
            or "relevan" in low
        ):
            return TOPIC
        if "sense" in low or "coheren" in low or "clarity" in low:
            return MAKES_SENSE
        if "at most" in low or "sentence" in low or "length" in low:
            return SENTENCE_LIMIT
        return None


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


def _parse_table(
    reply: str, matcher: CriterionMatcher, out: dict, unmatched: list
) -> tuple[bool, float | None]:
    found = False
    total = None
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
            p = _point_from_text(value)
            m = _NUMBER.match(re.sub(r"^[\s*]+", "", value))
            total = float(m.group(1)) if m else None
            del p
            continue
        crit = matcher.match(label)
        if crit is None:
            unmatched.append(label)
        elif crit not in out:
            out[crit] = _point_from_text(value)
    return found, total


_EARNED = re.compile(r"points?\s+earned(?:\s+for\s+(?P<label>[^:\n]+?))?\s*[:=]\s*(?P<value>[^\n]*)", re.I)
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _heading(line: str) -> str:
    bold = _BOLD.search(line)
    if bold:
        return bold.group(1)
    return line.split(":", 1)[0] if ":" in line else line


_HEADING_LIKE = re.compile(r"^\s*(\*\*|\d+[.)]|[-*•]\s|#)|:")


def _segment_criterion(segment: str, matcher: CriterionMatcher) -> tuple[str | None, str]:
    """Find the criterion a passage before a 'Point earned' is about, from its heading lines."""
    lines = [ln.strip() for ln in segment.strip().splitlines() if ln.strip()]
    for line in lines:
        if _HEADING_LIKE.search(line):
            crit = matcher.match(_heading(line))
            if crit:
                return crit, _heading(line)
    return None, lines[0] if lines else ""


def _parse_points(reply: str, matcher: CriterionMatcher, out: dict, unmatched: list) -> bool:
    found = False
    start = 0
    for m in _EARNED.finditer(reply):
        found = True
        if m.group("label"):
            label = m.group("label")
            crit = matcher.match(label)
        else:
            crit, label = _segment_criterion(reply[start : m.start()], matcher)
        start = m.end()
        if crit is None:
            unmatched.append(label.strip()[:80])
        elif crit not in out:
            out[crit] = _point_from_text(m.group("value"))
    return found


def _parse_json(reply: str, matcher: CriterionMatcher, criteria: Sequence[str], out: dict) -> bool:
    """Read our own structured format: {"<criterion>": {"pass": 0|1, "reason": "..."}, ...}."""
    text = reply.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("{") :] if "{" in text else text
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return False
    if not isinstance(obj, dict):
        return False
    obj = obj.get("criteria", obj) if isinstance(obj.get("criteria"), dict) else obj
    for key, item in obj.items():
        crit = key if key in criteria else matcher.match(key)
        if crit is None or crit in out:
            continue
        value = item.get("pass", item.get("value")) if isinstance(item, dict) else item
        reason = item.get("reason") if isinstance(item, dict) else None
        if isinstance(value, bool):
            value = int(value)
        p = _point_from_text(str(value)) if value is not None else Point(None, None, "unparsed")
        p.reason = reason if isinstance(reason, str) else None
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
        table_found, total = _parse_table(reply or "", matcher, out, unmatched)
        if table_found:
            fmt = "table"
        if _parse_points(reply or "", matcher, out, unmatched) and not table_found:
            fmt = "points"
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
