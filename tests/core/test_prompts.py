"""Prompt templates: ours, a reference-layout folder, and the errors a user can make in one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradeapp.core.prompts import (
    generation_prompts,
    grading_prompts,
    grading_schema,
    render_generation,
    render_grading,
    sentences_words,
)
from gradeapp.errors import InputError
from tests.helpers import find_reference as reference_dir

SKILLS = [
    {"name": "irony", "definition": "Saying the opposite of what is meant.", "example": "What lovely rain."},
    {
        "name": "analogy (extended comparison)",
        "definition": "Explaining by likeness.",
        "example": "A heart is a pump.",
    },
    {"name": "hyperbole", "definition": "Exaggerating for effect.", "example": "I waited forever."},
]


def test_our_grading_prompt_names_every_criterion_and_embeds_the_answer():
    text = render_grading(
        grading_prompts(), SKILLS, "Falconry", "The falcon, a feathered arrow, never misses."
    )
    names = json.loads(text.split("criterion names: ")[1].split("]")[0] + "]")
    assert names == [
        "skill:irony",
        "skill:analogy (extended comparison)",
        "skill:hyperbole",
        "topic",
        "makes_sense",
        "sentence_limit",
    ]
    assert "The falcon, a feathered arrow, never misses." in text
    assert "at most two sentences" in text and '"pass": 0 or 1' in text


def test_our_generation_prompt_has_two_turns_with_the_sentence_limit():
    turns = render_generation(generation_prompts(), SKILLS, "Falconry")
    assert len(turns) == 2
    assert "Falconry" in turns[0] and "Definition: Saying the opposite of what is meant." in turns[0]
    assert "at most two sentences" in turns[1]


def test_sentence_words():
    assert sentences_words(1) == "one sentence" and sentences_words(5) == "five sentences"
    assert sentences_words(25) == "25 sentences"


def test_reference_folder_renders_the_reference_fields():
    ref = reference_dir()
    if ref is None:
        pytest.skip("the Skill-Mix reference data (shared/data/skillmix-reference) is not on this machine")
    gen = generation_prompts(ref / "prompts")
    assert gen.version == "ref-default"
    turns = render_generation(gen, SKILLS, "Falconry")
    assert (
        len(turns) == 2
        and "**irony**: Saying the opposite of what is meant. For example, What lovely rain." in turns[0]
    )
    assert "two sentences" in turns[1]
    text = render_grading(grading_prompts(ref / "prompts", "gpt"), SKILLS, "Falconry", "A text.")
    assert (
        "Correctly illustrates irony, Correctly illustrates analogy (extended comparison), Correctly illustrates "
        "hyperbole, Pertains to Falconry, Text makes sense, At most two sentences" in text
    )
    llama = render_grading(grading_prompts(ref / "prompts", "llama"), SKILLS, "Falconry", "A text.")
    assert "Contains irony" in llama and "**irony**: Saying the opposite of what is meant.\n" in llama


def test_a_bad_prompt_folder_is_an_error_naming_file_and_field(tmp_path):
    (tmp_path / "grade").mkdir()
    bad = tmp_path / "grade" / "mine.json"
    bad.write_text(json.dumps(["Grade {student_answr} please"]))
    with pytest.raises(InputError, match=r"mine.json, field 'student_answr': unknown placeholder"):
        grading_prompts(tmp_path, "mine")
    bad.write_text("[not json")
    with pytest.raises(InputError, match="line 1"):
        grading_prompts(tmp_path, "mine")
    with pytest.raises(InputError, match="no such prompt file"):
        grading_prompts(tmp_path, "other")


def test_the_prompt_hash_follows_the_template(tmp_path: Path):
    (tmp_path / "grade").mkdir()
    f = tmp_path / "grade" / "v.json"
    f.write_text(json.dumps(["Grade {student_answer} by {rubric_items}."]))
    first = grading_prompts(tmp_path, "v").hash
    f.write_text(json.dumps(["Grade {student_answer} by {rubric_items}!"]))
    assert grading_prompts(tmp_path, "v").hash != first
    assert grading_prompts().hash != first


def test_grading_schema_requires_every_criterion():
    schema = grading_schema(["skill:irony", "topic"])["json_schema"]["schema"]
    assert schema["required"] == ["skill:irony", "topic"] and schema["additionalProperties"] is False
    assert schema["properties"]["topic"]["properties"]["pass"]["enum"] == [0, 1]
