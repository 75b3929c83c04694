"""The statistics view: filled off the UI thread, refreshed when verdicts arrive, exports by button."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from gradeapp.db import open_project  # noqa: E402
from gradeapp.services.stats import StatsOptions  # noqa: E402
from gradeapp.ui.stats_view import StatsView  # noqa: E402
from tests.simulate import simulate_project  # noqa: E402


@pytest.fixture()
def project(tmp_path) -> Path:
    path = tmp_path / "sim.gradeapp"
    simulate_project(path, n_generations=300, n_audit=60, seed=4)
    return path


@pytest.fixture()
def view(qtbot, project):
    v = StatsView(project, poll_ms=100, options=StatsOptions(bootstrap=0))
    qtbot.addWidget(v)
    v.resize(1000, 650)
    v.show()
    qtbot.waitUntil(lambda: v.stats is not None, timeout=30_000)
    yield v
    v.close()


def test_view_fills_its_tables_and_plots_off_the_ui_thread(view, tmp_path):
    rates = view.models["pass_rates"].frame()
    assert set(rates["estimator"]) == {
        "judge_only",
        "human_only",
        "ppi++",
        "stratified",
    }  # Rogan-Gladen is opt-in
    assert view.models["agreement"].rowCount() > 0
    assert view.models["pass_rates"].data(view.models["pass_rates"].index(0, 0)) != ""
    assert view.curve_figure.axes and view.bias_figure.axes
    assert view.export_button.isEnabled()
    columns = list(rates.columns)  # the raw table keeps every row, with its reason beside the interval
    assert columns[columns.index("ci_high") + 1] == "note"
    view.tabs.setCurrentIndex(1)
    view.grab().save(str(tmp_path / "stats_view.png"))
    assert (tmp_path / "stats_view.png").stat().st_size > 10_000


def test_view_refreshes_when_a_verdict_arrives(view, project, qtbot):
    before = view.models["agreement"].frame().set_index("criterion")["n"]["makes_sense"]
    with qtbot.waitSignal(view.stats_refreshed, timeout=30_000), open_project(project) as store:
        drawn = {g for (g,) in store.execute("SELECT generation_id FROM audit_items")}
        gid = next(g for (g,) in store.execute("SELECT id FROM generations") if g not in drawn)
        person = store.grader_id("human", "late person")
        store.add_verdicts(
            [{"grader_id": person, "generation_id": gid, "criterion": "makes_sense", "value": 1}]
        )
        store.add_review(person, gid, "submit")
    after = view.models["agreement"].frame().set_index("criterion")["n"]["makes_sense"]
    assert after == before + 1


def test_export_button_writes_the_exports(view, qtbot, tmp_path):
    out = tmp_path / "exported"
    view.choose_export_dir = lambda: out
    with qtbot.waitSignal(view.export_finished, timeout=60_000) as blocker:
        qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(out)]
    for name in ("pass_rates.csv", "agreement.csv", "verdicts.csv", "verdicts.parquet", "report.html"):
        assert (out / name).exists()


def test_judges_tab_names_the_better_judge(qtbot, tmp_path):
    path = tmp_path / "two.gradeapp"
    simulate_project(
        path, n_generations=400, n_audit=150, judges={"good": (0.95, 0.92), "poor": (0.8, 0.7)}, seed=6
    )
    v = StatsView(path, poll_ms=10_000, options=StatsOptions(bootstrap=200))
    qtbot.addWidget(v)
    v.show()
    qtbot.waitUntil(lambda: v.judges_tab.comparison is not None, timeout=60_000)
    v.tabs.setCurrentWidget(v.judges_tab)
    assert v.tabs.tabText(v.tabs.currentIndex()) == "Judges"
    assert v.judges_tab.verdict.text().startswith("Judge good agrees with people better than poor")
    table = v.judges_tab.models["judges"].frame()
    assert set(table["judge"]) == {"good", "poor"}
    assert v.judges_tab.models["pairs"].rowCount() == 7
    v.close()


def test_judges_tab_with_one_judge_says_so(view, qtbot):
    qtbot.waitUntil(lambda: "one judge" in view.judges_tab.verdict.text(), timeout=30_000)
    assert view.judges_tab.comparison is None


def test_the_view_opens_on_a_summary_that_answers_first(view, qtbot, tmp_path):
    assert view.tabs.currentIndex() == 0 and view.tabs.tabText(0) == "Summary"
    assert [view.tabs.tabText(i) for i in range(view.tabs.count())][:3] == ["Summary", "Plots", "Pass rates"]
    text = view.summary_text.toPlainText()
    rates = view.stats.pass_rates
    students = sorted(rates["student"].unique())
    assert "What is each model's true pass rate?" in text
    for student in students:
        assert f"{student}: At k = " in text  # one sentence per student
    ppi = rates[(rates["metric"] == "full_marks") & (rates["estimator"] == "ppi++")].dropna(
        subset=["estimate"]
    )
    first = ppi.sort_values(["student", "k"]).iloc[0]
    assert f"{100 * first['estimate']:.0f}%" in text  # the headline shows the calibrated rates
    assert "kappa" in view.trust_text.text()
    ax = view.forest_figure.axes[0]
    assert len(ax.get_yticklabels()) >= 3  # criteria and composites, worst first
    view.grab().save(str(tmp_path / "summary.png"))
    assert (tmp_path / "summary.png").stat().st_size > 10_000


def test_progress_is_shown_and_a_computation_can_be_cancelled(view, qtbot):
    seen = []
    view.refresh()
    view._job.signals.progress.connect(lambda f, what: seen.append((f, what)))
    with qtbot.waitSignal(view.stats_refreshed, timeout=30_000):
        pass
    assert seen and all(0.0 <= f <= 1.0 for f, _ in seen) and any("judge" in w for _, w in seen)
    assert view.progress.value() == 1000 and not view.cancel_button.isEnabled()
    assert view.progress.isHidden() and view.cancel_button.isHidden()  # nothing left over in the corner
    previous = view.stats
    view.refresh()
    assert view.cancel_button.isEnabled()
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view._busy, timeout=30_000)
    assert view.status.text().startswith("cancelled"), view.status.text()
    assert view.stats is previous and not view.cancel_button.isEnabled()
    with qtbot.waitSignal(view.stats_refreshed, timeout=30_000):
        view.refresh()  # computes again after a cancel


def test_esc_and_ctrl_w_close_the_window(qtbot, project):
    from PySide6.QtGui import QKeySequence

    for key in (QKeySequence("Esc"), QKeySequence("Ctrl+W")):
        v = StatsView(project, poll_ms=10_000, options=StatsOptions(bootstrap=0))
        qtbot.addWidget(v)
        v.show()
        qtbot.waitExposed(v)
        v.activateWindow()
        qtbot.waitUntil(lambda v=v: v.isActiveWindow(), timeout=30_000)
        combo = key[0]
        qtbot.keyClick(v, combo.key(), combo.keyboardModifiers())
        qtbot.waitUntil(lambda v=v: not v.isVisible(), timeout=30_000)


def test_tables_read_in_words_numbers_formatted_long_text_whole_on_hover(view):
    model = view.models["pass_rates"]
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert not any("_" in h for h in headers), headers
    assert "CI low" in headers and "CI high" in headers
    frame = model.frame()
    row = frame.dropna(subset=["estimate"]).index[0]
    estimate = model.index(row, list(frame.columns).index("estimate"))
    assert estimate.data().endswith("%")  # a rate reads as a percent
    note = model.index(row, list(frame.columns).index("note"))
    assert note.data(Qt.ItemDataRole.ToolTipRole) == frame.at[row, "note"] or not frame.at[row, "note"]
    agreement = view.models["agreement"]
    kappa = agreement.index(0, list(agreement.frame().columns).index("kappa")).data()
    assert len(kappa.split(".")[1]) == 3  # three decimals
    table = view.tables["pass_rates"].widget(0)
    assert all(table.columnWidth(c) <= 340 for c in range(model.columnCount())) and table.wordWrap()


def test_every_tab_is_filled_or_says_why_it_is_empty(view, qtbot):
    qtbot.waitUntil(lambda: "one judge" in view.judges_tab.verdict.text(), timeout=30_000)
    for name in view.models:
        reason = view.empty_reason(name)
        assert (view.models[name].rowCount() > 0) == (reason is None), name
        if reason is not None:
            assert view.tables[name].currentWidget().text() == reason and len(reason) > 20
    assert view.judges_tab.panes.isHidden()  # no three empty panes under the sentence
