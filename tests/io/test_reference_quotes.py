"""The quotes of the reference's stored judge replies: taken from the explanations, checked, stored."""

from __future__ import annotations

from gradeapp.core.evidence import GROUNDINGS
from gradeapp.db import evidence_store
from gradeapp.services.catalog import import_catalog
from gradeapp.services.evidence import evidence_statistics
from gradeapp.services.imports import import_sources


def test_reference_replies_quotes_are_classified_and_stored_with_their_spans(store, reference_dir):
    import_catalog(store, [reference_dir])
    import_sources(store, [reference_dir / "test"])
    rows = evidence_store.all_evidence_rows(store)
    texts = evidence_store.generation_texts(store, {r["generation_id"] for r in rows})
    # 48 replies in the public 10%: 21 quote the text (30 quotes), every one found word for word; of the
    # 99 points the judge credits, 15 have a grounded quote (figures reported in docs/evidence.md).
    assert (len(rows), len({r["reply_id"] for r in rows})) == (30, 21)
    assert {r["grounding"] for r in rows} == {"grounded"} and set(GROUNDINGS) >= {"grounded"}
    for row in rows:
        if row["grounding"] != "not_found":
            assert (
                texts[row["generation_id"]][row["start_char"] : row["end_char"]].lower()
                in row["quote"].lower()
            )
    table = evidence_statistics(store, bootstrap=0)["grounding"]
    assert table["credited"].sum() == 99
    assert round((table["grounded"] * table["credited"]).sum()) == 15
