"""The desk opens every other view from its menus, and grades a team package as its person."""

import pytest
from PySide6.QtWidgets import QApplication

from gradeapp.db import open_project
from gradeapp.services import team
from gradeapp.ui.optional_views import VIEWS


@pytest.mark.parametrize("key", sorted(VIEWS))
def test_every_view_of_the_view_menu_opens(qtbot, open_desk, demo_path, key):
    window = open_desk(demo_path)
    before = set(QApplication.topLevelWidgets())
    window.actions_by_id[key].trigger()
    qtbot.waitUntil(
        lambda: any(w.isVisible() for w in set(QApplication.topLevelWidgets()) - before), timeout=30_000
    )
    opened = [w for w in set(QApplication.topLevelWidgets()) - before if w.isVisible()]
    # a second open raises the window already open instead of opening another
    window.actions_by_id[key].trigger()
    assert [w for w in set(QApplication.topLevelWidgets()) - before if w.isVisible()] == opened
    for w in opened:
        w.close()


def test_verdicts_record_the_guideline_version_shown(qtbot, open_desk, demo_path):
    window = open_desk(demo_path)
    assert "Guideline v1" in window.guideline_view.toPlainText()
    qtbot.keyClick(window, "a")
    with open_project(demo_path, create=False) as store:
        versions = {
            r[0]
            for r in store.execute(
                "SELECT guideline_version FROM verdicts WHERE grader_id = ?", [window.grader_id]
            )
        }
    assert versions == {1}


def test_a_package_is_graded_as_the_person_it_was_made_for(qtbot, open_desk, demo_path, tmp_path):
    with open_project(demo_path, create=False) as store:
        team.assign(store, ["dora", "eli"], tmp_path / "packages", overlap=0.0, use_all=True)
    package = next((tmp_path / "packages").glob("*dora*"))
    window = open_desk(package)  # settings name the annotator 'tess (test)'
    assert window.annotator == "dora" and "package for dora" in window.windowTitle()
