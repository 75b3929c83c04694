"""The run dialog: a real run against the loopback server, a responsive desk, Cancel that keeps work."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sqlite3  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import Qt, QTimer  # noqa: E402

from gradeapp.ui.run_dialog import open_run_dialog  # noqa: E402
from tests.fakeopenai import make_project  # noqa: E402


def count(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def dialog_on(qtbot, path, server, *, concurrency: int = 4):
    dialog = open_run_dialog(None, path)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.model, "gpt-4o-mini")
    qtbot.keyClicks(dialog.base_url, server.base_url)
    dialog.concurrency.setValue(concurrency)
    return dialog


def test_judge_run_from_the_dialog_stores_every_verdict(qtbot, tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=4, k=2)
    dialog = dialog_on(qtbot, path, fake_openai)
    dialog.runs.setValue(2)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=30000)
    assert dialog.outcome == "done", dialog.status.text()
    assert dialog.progress.maximum() == 8 and dialog.progress.value() == 8
    assert "8 of 8 judge runs stored" in dialog.status.text()
    assert count(path, "SELECT COUNT(*) FROM verdicts") == 8 * 5
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_generation_run_from_the_dialog(qtbot, tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=0)
    dialog = dialog_on(qtbot, path, fake_openai)
    dialog.kind.setCurrentIndex(dialog.kind.findData("generate"))
    dialog.ks.clear()
    qtbot.keyClicks(dialog.ks, "2")
    dialog.combinations.setValue(2)
    dialog.rounds.setValue(1)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=30000)
    assert dialog.outcome == "done", dialog.status.text()
    assert count(path, "SELECT COUNT(*) FROM generations WHERE student = 'gpt-4o-mini'") == 2


def test_desk_stays_responsive_and_cancel_keeps_finished_calls(qtbot, tmp_path, fake_openai):
    path = make_project(tmp_path / "p.gradeapp", n_generations=40, k=2)
    fake_openai.hold_after(6)  # the 7th call and later wait on the server until the test releases them
    dialog = dialog_on(qtbot, path, fake_openai, concurrency=2)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    try:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.progress.value() >= 6 and fake_openai.held >= 2, timeout=60000)
        # two calls are in flight: the UI thread keeps turning, timer ticks and typing are handled
        timer.start(20)
        qtbot.waitUntil(lambda: len(ticks) >= 10, timeout=60000)
        qtbot.keyClicks(dialog.key_env, "_X")
        assert dialog.key_env.text().endswith("_X")
        assert dialog.outcome is None
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=60000)
    finally:
        timer.stop()
        fake_openai.release()
    assert dialog.outcome == "cancelled"
    kept = count(path, "SELECT COUNT(*) FROM replies")
    assert kept == 6
    assert f"{kept} finished calls kept" in dialog.status.text()
    assert count(path, "SELECT COUNT(*) FROM verdicts") == kept * 5
    assert count(path, "SELECT status FROM jobs") == "interrupted"


def test_local_model_choice_replaces_model_url_and_key(qtbot, tmp_path):
    from gradeapp.llm.local_server import bundled_model_path, server_installed

    dialog = open_run_dialog(None, make_project(tmp_path / "p.gradeapp", n_generations=1))
    qtbot.addWidget(dialog)
    if not (server_installed() and bundled_model_path() is not None):
        assert not dialog.local.isEnabled() and "gradeapp[local]" in dialog.local.toolTip()
        return
    qtbot.mouseClick(dialog.local, Qt.MouseButton.LeftButton)
    assert dialog.local.isChecked()
    assert not (dialog.model.isEnabled() or dialog.base_url.isEnabled() or dialog.key_env.isEnabled())


@pytest.mark.slow
def test_local_model_run_from_the_dialog(qtbot, tmp_path, local_server):
    from gradeapp.llm.local_server import write_note

    write_note(local_server)  # as `gradeapp local serve` does: the run uses the session's server
    path = make_project(tmp_path / "p.gradeapp", n_generations=0)
    dialog = open_run_dialog(None, path)
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.local, Qt.MouseButton.LeftButton)
    dialog.kind.setCurrentIndex(dialog.kind.findData("generate"))
    dialog.ks.clear()
    qtbot.keyClicks(dialog.ks, "2")
    dialog.combinations.setValue(1)
    dialog.rounds.setValue(1)
    dialog.max_tokens.setValue(48)  # two short turns: bounded in time on a loaded machine
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.outcome is not None, timeout=600000)
    assert dialog.outcome == "done", dialog.status.text()
    student = local_server.model.name
    assert count(path, f"SELECT COUNT(*) FROM generations WHERE student = '{student}'") == 1
