"""Prompt templates for generation (two turns) and grading, ours or the reference's.

A template folder has the reference layout: `generation/<version>.json` (a JSON list of format strings,
one per user turn) and `grade/<version>.json` (a list with one format string). Placeholders:
{topic} {skills_str} {skills_defs_and_examples} {skills_defs_and_examples_simple} {skills_defs}
{num_skills} {num_skills_str} {num_sentences} {num_sentences_str}, and for grading also
{student_answer} {rubric_items}, plus ours: {criteria_list} {criteria_json}.
Our own templates (`gradeapp/data/prompts/`) ask the judge for a JSON object keyed by criterion name.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, TOPIC, criteria, sentence_limit
from gradeapp.errors import GradeappError, InputError

DEFAULT_VERSION = "gradeapp-v1"
# The grading prompt moved on alone: v2 asks, per criterion, for the words of the text that show it.
GRADING_VERSION = "gradeapp-v2"
BUILTIN_DIR = Path(__file__).parents[1] / "data" / "prompts"

_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def number_words(n: int) -> str:
    """Spell a small number in English words ('two'); larger ones stay digits."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


def sentences_words(n: int) -> str:
    """Return 'one sentence' / 'three sentences'."""
    return f"{number_words(n)} sentence{'s' if n != 1 else ''}"


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GenerationPrompts:
    """The user turns of the generation conversation."""

    version: str
    turns: tuple[str, ...]
    source: str

    @property
    def hash(self) -> str:
        return _hash(list(self.turns))


@dataclass(frozen=True)
class GradingPrompts:
    """The grading prompt, and whether the judge is asked for our JSON object (structured)."""

    version: str
    template: str
    source: str
    structured: bool  # our JSON format, sent with a JSON-schema response_format when the endpoint has it
    rubric_start: str = "Correctly illustrates"

    @property
    def hash(self) -> str:
        return _hash(
            {"template": self.template, "rubric_start": self.rubric_start, "structured": self.structured}
        )

    @property
    def asks_quotes(self) -> bool:
        """Tell whether the template asks for each criterion's quotes (our JSON field "quotes")."""
        return self.structured and '"quotes"' in self.template


def _load_list(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such prompt file", file=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", file=path, line=exc.lineno) from None
    if not isinstance(data, list) or not data or not all(isinstance(t, str) for t in data):
        raise InputError("a prompt file must be a JSON list of strings", file=path)
    _check_fields(data, path)
    return data


_KNOWN = {
    "topic",
    "skills_str",
    "skills_defs_and_examples",
    "skills_defs_and_examples_simple",
    "skills_defs",
    "num_skills",
    "num_skills_str",
    "num_sentences",
    "num_sentences_str",
    "student_answer",
    "rubric_items",
    "criteria_list",
    "criteria_json",
}


def _check_fields(templates: Sequence[str], path: Path) -> None:
    for template in templates:
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as exc:
            raise InputError(f"bad template ({exc})", file=path) from None
        unknown = sorted(n for n in names if n not in _KNOWN)
        if unknown:
            raise InputError(f"unknown placeholder {{{unknown[0]}}}", file=path, field=unknown[0])


def generation_prompts(folder: Path | None = None, version: str | None = None) -> GenerationPrompts:
    """Load generation turns: ours by default, or `<folder>/generation/<version>.json` (reference layout)."""
    if folder is None:
        version = version or DEFAULT_VERSION
        path = BUILTIN_DIR / "generation" / f"{version}.json"
        return GenerationPrompts(version, tuple(_load_list(path)), "builtin")
    version = version or "default"
    path = Path(folder) / "generation" / f"{version}.json"
    return GenerationPrompts(f"ref-{version}", tuple(_load_list(path)), str(path))


def grading_prompts(folder: Path | None = None, version: str | None = None) -> GradingPrompts:
    """Load the grading prompt: ours by default, or `<folder>/grade/<version>.json` (reference layout).

    Reference templates are asked as they are (a table, or 'Point earned' lines) and parsed by
    criterion name; the reference's 'llama' version words skill items 'Contains <skill>'.
    """
    if folder is None:
        version = version or GRADING_VERSION
        templates = _load_list(BUILTIN_DIR / "grade" / f"{version}.json")
        return GradingPrompts(version, templates[0], "builtin", structured=True)
    version = version or "gpt"
    path = Path(folder) / "grade" / f"{version}.json"
    templates = _load_list(path)
    if len(templates) != 1:
        raise InputError("a grading prompt file must hold exactly one template", file=path)
    start = "Contains" if version == "llama" else "Correctly illustrates"
    return GradingPrompts(f"ref-{version}", templates[0], str(path), structured=False, rubric_start=start)


# -- rendering -----------------------------------------------------------------------------------
def _fields(
    skills: Sequence[dict], topic: str, rubric_start: str = "Correctly illustrates"
) -> dict[str, object]:
    names = [s["name"] for s in skills]
    k = len(names)
    n = sentence_limit(k)
    crits = criteria(names)
    labels = {c: f"the text correctly illustrates {c[len('skill:') :]}" for c in crits[:k]}
    labels[TOPIC] = f"the text pertains to {topic}"
    labels[MAKES_SENSE] = "the text makes sense"
    labels[SENTENCE_LIMIT] = f"the text has at most {sentences_words(n)}"
    return {
        "topic": topic,
        "skills_str": ", ".join(names),
        "skills_defs_and_examples": "\n".join(
            f"Skill: {s['name']}\nDefinition: {s.get('definition', '')}\nExample: {s.get('example', '')}"
            for s in skills
        ),
        "skills_defs_and_examples_simple": "\n".join(
            f"**{s['name']}**: {s.get('definition', '')} For example, {s.get('example', '')}" for s in skills
        ),
        "skills_defs": "\n".join(f"**{s['name']}**: {s.get('definition', '')}" for s in skills),
        "num_skills": k,
        "num_skills_str": number_words(k),
        "num_sentences": n,
        "num_sentences_str": sentences_words(n),
        "rubric_items": ", ".join(
            [f"{rubric_start} {name.strip().lower()}" for name in names]
            + [f"Pertains to {topic}", "Text makes sense", f"At most {sentences_words(n)}"]
        ),
        "criteria_list": "\n".join(f"- {c}: {labels[c]}" for c in crits),
        "criteria_json": json.dumps(crits, ensure_ascii=False),
    }


def render_generation(prompts: GenerationPrompts, skills: Sequence[dict], topic: str) -> list[str]:
    """Return the user turns of the generation conversation for a combination."""
    fields = _fields(skills, topic)
    return [t.format_map(fields) for t in prompts.turns]


def render_grading(prompts: GradingPrompts, skills: Sequence[dict], topic: str, answer: str) -> str:
    """Return the grading prompt for one generation's answer."""
    fields = _fields(skills, topic, prompts.rubric_start)
    fields["student_answer"] = answer
    try:
        return prompts.template.format_map(fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise GradeappError(f"{prompts.source}: cannot fill the grading template ({exc})") from None


def grading_schema(criterion_names: Sequence[str], *, quotes: bool = False) -> dict:
    """Return the response_format asking for {criterion: {pass: 0|1, reason[, quotes]}} with every criterion."""
    properties: dict[str, dict] = {"pass": {"type": "integer", "enum": [0, 1]}, "reason": {"type": "string"}}
    if quotes:
        properties["quotes"] = {"type": "array", "items": {"type": "string"}}
    item = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "skillmix_grade",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {c: item for c in criterion_names},
                "required": list(criterion_names),
                "additionalProperties": False,
            },
        },
    }
