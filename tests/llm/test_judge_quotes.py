"""The judge's quotes: asked by the schema, checked against the text, stored with the verdicts."""

from __future__ import annotations

from gradeapp.core.evidence import GROUNDED, NOT_FOUND
from gradeapp.db import open_project
from gradeapp.services import evidence
from tests.fakeopenai import make_project
from tests.llm.test_judge import judge, rows


def test_judge_asks_for_quotes_and_stores_each_classified_with_its_span(tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=6, k=3)
    judge(path, fake_openai, runs=1)
    schema = fake_openai.chat_calls()[0]["body"]["response_format"]["json_schema"]["schema"]
    item = schema["properties"]["topic"]
    assert item["required"] == ["pass", "reason", "quotes"]
    stored = rows(
        path,
        "SELECT e.quote, e.grounding, e.start_char, e.end_char, g.text, v.value FROM evidence e "
        "JOIN generations g ON g.id = e.generation_id JOIN current_verdicts v ON v.grader_id = e.grader_id "
        "AND v.generation_id = e.generation_id AND v.criterion = e.criterion AND v.run = e.run "
        "WHERE e.reply_id IS NOT NULL",
    )
    assert {r[1] for r in stored} == {GROUNDED, NOT_FOUND}
    assert all(value == 1 for *_, value in stored)  # the fake quotes credited points only
    for quote, grounding, start, end, text, _ in stored:
        if grounding == GROUNDED:
            assert text[start:end].upper() == quote  # found in the text despite the capitals
        else:
            assert start is None and end is None
    with open_project(path, create=False) as store:
        table = evidence.evidence_statistics(store, bootstrap=0)["grounding"]
    assert 0 < table["grounded"].mean() < 1
