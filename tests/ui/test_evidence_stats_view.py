"""The Statistics window's Evidence tab, filled from a simulated project whose judge quotes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from gradeapp.db import evidence_store, open_project  # noqa: E402
from gradeapp.services.stats import StatsOptions  # noqa: E402
from gradeapp.ui.stats_view import StatsView  # noqa: E402
from tests.simulate import simulate_project  # noqa: E402


@pytest.fixture()
def project(tmp_path):
    path = tmp_path / "sim.gradeapp"
    simulate_project(path, n_generations=120, n_audit=40, seed=4)
    with open_project(path) as store:
        credited = store.execute(
            "SELECT v.grader_id, v.generation_id, v.criterion, v.run, g.text FROM current_verdicts v "
            "JOIN graders gr ON gr.id = v.grader_id JOIN generations g ON g.id = v.generation_id "
            "WHERE gr.kind = 'judge' AND v.value = 1"
        ).fetchall()
        rows = [
            {"grader_id": grader, "generation_id": gid, "criterion": crit, "run": run, "quote": text[:9],
             "start_char": 0, "end_char": 9, "grounding": "grounded" if i % 3 else "not_found"}
            for i, (grader, gid, crit, run, text) in enumerate(credited)
        ]  # fmt: skip
        evidence_store.add_evidence(store, rows)
    return path


def test_evidence_tab_shows_the_grounding_of_the_judges_quotes(qtbot, project):
    view = StatsView(project, poll_ms=60_000, options=StatsOptions(bootstrap=0))
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.evidence_tab.refreshed, timeout=60_000):
        pass
    tab = view.evidence_tab
    assert view.tabs.tabText(view.tabs.indexOf(tab)) == "Evidence"
    by_k = tab.tables["grounding_by_k"]
    shares = (by_k["grounded"] * by_k["credited"]).sum() / by_k["credited"].sum()
    assert shares == pytest.approx(2 / 3, abs=0.02)
    model = tab.models["grounding_by_k"]
    assert model.rowCount() == len(by_k) and model.headerData(0, Qt.Orientation.Horizontal) == "judge"
    assert "credited judge points" in tab.status.text()
    view.close()
