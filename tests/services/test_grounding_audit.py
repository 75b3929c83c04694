"""The grounding-aware active audit design: quotes raise inclusion probabilities, the estimates stay valid."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gradeapp.cli import main
from gradeapp.core.evidence_stats import grounded_uncertainty, ungrounded_share
from gradeapp.db import audit_store, evidence_store, open_project
from gradeapp.errors import GradeappError
from gradeapp.services.audit import draw_audit, draw_pool
from gradeapp.services.evidence import grounding_aware_uncertainty
from tests.active_study import summarise
from tests.coverage import scored
from tests.grounding_study import build_pool, run_study
from tests.simulate import simulate_project


def test_ungrounded_share_counts_credited_points_of_quoting_judges_only():
    verdicts = pd.DataFrame(
        [("gpt", 1, "topic", 1, 2, 1), ("gpt", 1, "makes_sense", 1, 2, 1), ("gpt", 2, "topic", 1, 2, 0),
         ("old", 3, "topic", 1, 2, 1)],
        columns=["grader", "generation_id", "criterion", "run", "k", "value"],
    )  # fmt: skip
    quotes = pd.DataFrame(
        [("gpt", 1, "topic", 1, "grounded")],
        columns=["grader", "generation_id", "criterion", "run", "grounding"],
    )
    # generation 1: one of two credited points without a grounded quote; 2 credits nothing; 3's judge never quotes
    assert ungrounded_share(verdicts, quotes).to_dict() == {1: 0.5}
    assert grounded_uncertainty(np.array([0.0, 0.8, np.nan]), np.array([0.5, 1.0, 0.0])) == pytest.approx(
        [0.25, 1.0, 1.0]
    )


@pytest.fixture(scope="module")
def quoted(tmp_path_factory):
    """A project whose judge's runs agree everywhere, and whose quotes are missing on generations 1-40."""
    path = tmp_path_factory.mktemp("grounding") / "g.gradeapp"
    simulate_project(path, n_generations=200, n_audit=0, sensitivity=0.9, specificity=0.9, ks=(2,), seed=5)
    with open_project(path) as store:
        credited = store.execute(
            "SELECT v.grader_id, v.generation_id, v.criterion, v.run FROM current_verdicts v JOIN graders g "
            "ON g.id = v.grader_id WHERE g.kind = 'judge' AND v.value = 1"
        ).fetchall()
        rows = [
            {"grader_id": gr, "generation_id": gid, "criterion": crit, "run": run, "quote": "q",
             "grounding": "not_found" if gid <= 40 else "grounded", "start_char": None if gid <= 40 else 0,
             "end_char": None if gid <= 40 else 1}
            for gr, gid, crit, run in credited
        ]  # fmt: skip
        evidence_store.add_evidence(store, rows)
    return path


def test_a_grounding_draw_raises_the_doubt_where_quotes_are_not_found(quoted, capsys):
    with open_project(quoted) as store:
        pool = draw_pool(store)
        raised = pd.Series(grounding_aware_uncertainty(store, pool), index=pool["generation_id"])
    before = pool.set_index("generation_id")["uncertainty"]
    credited = raised.index[raised.index <= 40]
    assert (raised[credited] >= before[credited]).all() and (raised > before).sum() > 20
    assert (raised[raised.index > 40] == before[before.index > 40]).all()  # grounded quotes: unchanged
    args = ["audit", "draw", "--project", str(quoted), "--design", "active", "--size", "40", "--grounding"]
    assert main([*args, "--seed", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "grounded quote" in report["params"]["uncertainty"]
    with open_project(quoted) as store:
        items = audit_store.audit_items_df(store, report["id"])
        assert (items["inclusion_prob"] > 0).all()
        with pytest.raises(GradeappError, match="--design active"):
            draw_audit(store, 40, design="uniform", grounding=True)


@pytest.mark.slow
def test_seeded_study_the_grounding_design_covers_and_narrows_the_plain_active_one(tmp_path):
    # the fast subset of bench/bench_grounding.py: one pool, 20 audits per design
    path = build_pool(tmp_path / "pool.gradeapp", per_cell=300, seed=2)
    res = run_study(path, reps=20, n=50, seed=2)
    ppi = scored(res[(res["estimator"] == "ppi++") & res["estimate"].notna()])
    assert ppi[ppi["design"] == "active+grounding"]["cover"].mean() >= 0.93  # 20 x 4 cells x 3 metrics
    table = summarise(res).set_index(["estimator", "metric", "design"])
    widths = {d: np.mean([table.loc[("ppi++", m, d), "half_width"] for m in ("full_marks", "skill_fraction")])
              for d in ("uniform", "active", "active+grounding")}  # fmt: skip
    assert widths["active+grounding"] < widths["active"] and widths["active+grounding"] < widths["uniform"]
