"""Evidence carried by the verdict files: exported in verdicts.csv/Parquet, imported from JSONL/CSV."""

from __future__ import annotations

import json

import pytest

from gradeapp.core.rubric import TOPIC
from gradeapp.db import evidence_store, open_project
from gradeapp.errors import InputError
from gradeapp.services import evidence
from gradeapp.services.export import verdicts_frame
from gradeapp.services.imports import import_sources


def test_evidence_goes_out_in_the_verdict_export_and_comes_back_in_by_import(copy_demo, tmp_path):
    source, target = copy_demo(tmp_path / "a.gradeapp"), copy_demo(tmp_path / "b.gradeapp")
    with open_project(source) as store:
        person = store.grader_id("human", "pat")
        gid, uid, text = store.execute("SELECT id, uid, text FROM generations ORDER BY id LIMIT 1").fetchone()
        store.add_verdicts([{"grader_id": person, "generation_id": gid, "criterion": TOPIC, "value": 1}])
        end = text.index(" ", 5)  # a word's end
        evidence.mark_evidence(store, person, gid, TOPIC, 0, end)
        frame = verdicts_frame(store)
    row = frame[(frame["grader"] == "pat") & (frame["criterion"] == TOPIC)].iloc[0]
    assert json.loads(row["evidence"]) == [{"start": 0, "end": end, "quote": text[:end]}]
    assert frame[frame["grader"] != "pat"]["evidence"].isna().all()
    records = tmp_path / "pat.jsonl"
    keep = ["generation", "kind", "grader", "criterion", "run", "value", "status", "evidence"]
    records.write_text(json.dumps({k: row[k] for k in keep}, default=int) + "\n", encoding="utf-8")
    with open_project(target) as store:
        for _ in range(2):  # a second import adds nothing
            import_sources(store, [records])
        rows = evidence_store.all_evidence_rows(store)
    assert [(r["generation_id"], r["criterion"], r["start_char"], r["end_char"]) for r in rows] == [
        (gid, TOPIC, 0, end)
    ]
    assert uid == row["generation"]


def test_an_evidence_field_that_does_not_match_the_text_names_its_line_and_field(copy_demo, tmp_path):
    path = copy_demo(tmp_path / "a.gradeapp")
    with open_project(path) as store:
        uid, text = store.execute("SELECT uid, text FROM generations ORDER BY id LIMIT 1").fetchone()
        records = tmp_path / "bad.jsonl"
        good = {"generation": uid, "kind": "human", "grader": "pat", "criterion": TOPIC, "value": 1}
        bad = {**good, "evidence": [{"start": 0, "end": 4, "quote": "nothing like the text"}]}
        records.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
        with pytest.raises(InputError) as err:
            import_sources(store, [records])
        assert (err.value.line, err.value.field) == (2, "evidence")
        assert evidence_store.all_evidence_rows(store) == []
