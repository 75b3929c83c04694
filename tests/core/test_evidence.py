"""Quote grounding and the quotes taken out of judge replies."""

from __future__ import annotations

import json

from gradeapp.core.evidence import (
    GROUNDED,
    NEAR,
    NEAR_THRESHOLD,
    NOT_FOUND,
    free_text_quotes,
    ground_quote,
    ground_reply,
    json_quotes,
    normalise,
    quoted_passages,
)
from gradeapp.core.rubric import criteria

TEXT = "The  Bees,\nthey say, \u201cnever sting twice\u201d \u2014 so Anna\u2019s hive is safe."


def test_normalise_maps_every_character_back_to_the_original():
    norm, index = normalise("  A\u00a0\u201cB\u201d\n\nc ")
    assert norm == 'a "b" c'
    assert [("  A\u00a0\u201cB\u201d\n\nc "[i]) for i in index] == [
        "A",
        "\u00a0",
        "\u201c",
        "B",
        "\u201d",
        "\n",
        "c",
    ]


def test_quote_differing_in_case_space_and_quote_marks_is_grounded_with_its_original_span():
    found = ground_quote('the bees, they say, "Never sting twice"', TEXT)
    assert found.grounding == GROUNDED
    # The quote's edge punctuation and marks are dropped, so the span ends at its last word.
    assert TEXT[found.start : found.end] == "The  Bees,\nthey say, \u201cnever sting twice"


def test_quote_with_an_ellipsis_is_grounded_when_its_parts_occur_in_order():
    found = ground_quote("Anna's hive ... safe", TEXT)
    assert found.grounding == GROUNDED
    assert TEXT[found.start : found.end] == "Anna\u2019s hive is safe"
    assert ground_quote("safe ... Anna's hive", TEXT).grounding != GROUNDED


def test_quote_with_a_changed_word_ending_is_near_with_the_span_it_matched():
    found = ground_quote("so Anna's hives is safe", TEXT)
    assert found.grounding == NEAR
    assert found.score >= NEAR_THRESHOLD
    assert "hive is safe" in TEXT[found.start : found.end]


def test_paraphrase_and_short_misses_are_not_found():
    assert ground_quote("bees are dangerous animals to keep", TEXT).grounding == NOT_FOUND
    assert ground_quote("wasp", TEXT).grounding == NOT_FOUND
    assert ground_quote("", TEXT).grounding == NOT_FOUND


def test_quoted_passages_reads_straight_and_curly_quotes_but_not_apostrophes():
    text = 'It says "one thing" and \u201canother thing\u201d; the student\'s \u2018third one\u2019 too.'
    assert quoted_passages(text) == ["one thing", "another thing", "third one"]


def test_json_quotes_reads_quotes_lists_and_a_single_quote():
    raw = json.dumps(
        {"topic": {"pass": 1, "reason": "r", "quotes": ["hive"]}, "makes_sense": {"quote": "x y"}}
    )
    assert json_quotes(raw, ["topic", "makes_sense", "sentence_limit"]) == {
        "topic": ["hive"],
        "makes_sense": ["x y"],
    }
    assert json_quotes("| a | b |", ["topic"]) is None


def test_points_format_quotes_go_to_the_criterion_of_their_heading():
    raw = (
        '1. Correctly illustrates metaphor:\nThe phrase "a sea of thread" is a metaphor.\nPoint earned: 1\n\n'
        '2. Pertains to Sewing:\nIt speaks of "Sewing" and "the needle".\nPoint earned: 1\n'
    )
    quotes = free_text_quotes(raw, ["metaphor"], "Sewing")
    assert quotes == {"skill:metaphor": ["a sea of thread"], "topic": ["the needle"]}


def test_table_explained_below_gives_each_paragraph_to_the_criterion_it_names():
    raw = (
        "| Criteria | Points Earned |\n|---|---|\n| Correctly illustrates metaphor | 1 |\n| Text makes sense | 1 |\n"
        "| Total Points Earned | 2 |\n\n"
        'Explanation:\n\nThe metaphor is met as "a sea of thread" compares.\n\n'
        "It meets the 'At most two sentences' criterion."
    )
    assert free_text_quotes(raw, ["metaphor"], "Sewing") == {"skill:metaphor": ["a sea of thread"]}


def test_ground_reply_classifies_every_quote_of_a_reply():
    text = "A sea of thread covered the table."
    raw = json.dumps(
        {
            "skill:metaphor": {"pass": 1, "reason": "", "quotes": ["a sea of thread", "an ocean of yarn"]},
            "topic": {"pass": 1, "reason": "", "quotes": ["covered the tables"]},
        }
    )
    got = [
        (c, g.grounding) for c, g in ground_reply(raw, text, ["metaphor"], "Sewing", criteria(["metaphor"]))
    ]
    assert got == [("skill:metaphor", GROUNDED), ("skill:metaphor", NOT_FOUND), ("topic", NEAR)]
