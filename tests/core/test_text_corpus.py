"""Text handling proven on real replies: sentence counts, answers and named skills written by hand.

The corpus (tests/core/text_corpus/, docs/text-handling.md):
- adversarial.jsonl: our own cases (quotes and dialogue, closing quotes after the period, curly quotes,
  abbreviations, decimals, initials, ellipses, parentheses, lists; preambles, code fences, markdown,
  trailing explanations, second turns that still explain; the naming penalty);
- local_model.jsonl: replies of the local model (SmolLM2-135M-Instruct through llama.cpp's server);
- reference.jsonl: the reference's stored replies, read from ../shared at test time (never copied):
  each case names the file, row and column, and the hand-chosen answer as [start, end) of the reply.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from gradeapp.core.parsing import extract_answer
from gradeapp.core.rubric import count_sentences, named_skills
from tests.helpers import find_reference

CORPUS = Path(__file__).parent / "text_corpus"


def load(name: str) -> list[dict]:
    """Return the cases of one corpus file."""
    with open(CORPUS / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def reference_row(case: dict) -> dict[str, str]:
    """Return the stored row a reference case points at (the file is read, never copied)."""
    ref = find_reference()
    if ref is None:
        pytest.skip("the public Skill-Mix reference data (../shared/data/skillmix-reference) is not here")
    with open(ref / case["file"], newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))[case["row"]]


def expected_answer(case: dict, reply: str) -> str:
    """Return the hand-chosen answer of a case: written out, or a span of the reference's reply."""
    if "file" in case:
        return "" if case["answer"] is None else reply[case["answer"][0] : case["answer"][1]]
    return case["answer"]


ADVERSARIAL = load("adversarial.jsonl")
LOCAL = load("local_model.jsonl")
REFERENCE = load("reference.jsonl")
REPLIES = [c for c in ADVERSARIAL + LOCAL + REFERENCE if "reply" in c or "file" in c]
TEXTS = [c for c in ADVERSARIAL if "text" in c and "sentences" in c]
NAMING = [c for c in ADVERSARIAL + LOCAL + REFERENCE if "named" in c]


def _reply(case: dict) -> str:
    return reference_row(case)[case["column"]] if "file" in case else case["reply"]


def _skills(case: dict) -> list[str]:
    if "file" in case:
        return [s.strip() for s in reference_row(case)["skills"].split(",") if s.strip()]
    return case["skills"]


def test_the_corpus_holds_at_least_150_hand_checked_cases():
    ids = [c["id"] for c in ADVERSARIAL + LOCAL + REFERENCE]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 150
    assert len(LOCAL) >= 10 and len(REFERENCE) >= 40


@pytest.mark.parametrize("case", TEXTS, ids=[c["id"] for c in TEXTS])
def test_sentence_count_matches_the_hand_count(case):
    assert count_sentences(case["text"]) == case["sentences"], case["kind"]


@pytest.mark.parametrize("case", REPLIES, ids=[c["id"] for c in REPLIES])
def test_answer_and_its_sentences_match_the_hand_choice(case):
    reply = _reply(case)
    answer = extract_answer(reply)
    assert answer == expected_answer(case, reply), case["kind"]
    assert count_sentences(answer) == case["sentences"], case["kind"]


@pytest.mark.parametrize("case", NAMING, ids=[c["id"] for c in NAMING])
def test_naming_penalty_matches_the_hand_choice(case):
    if "text" in case:
        text = case["text"]
    else:
        reply = _reply(case)
        text = expected_answer(case, reply)
    assert named_skills(text, _skills(case)) == case["named"]


def test_closing_quote_after_the_period_is_one_sentence():
    # the demo's text that the segmenter used to count as two (pysbd splits off the closing quote)
    text = "Because the glaze swelled, it crazed, and my teacher kindly called the mug 'full of character.'"
    assert count_sentences(text) == 1
