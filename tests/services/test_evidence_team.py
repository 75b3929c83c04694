"""Evidence in team packages: marked in a package, merged exactly and idempotently into the project."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradeapp.core.rubric import TOPIC
from gradeapp.db import open_project
from gradeapp.services import evidence
from gradeapp.services.package_types import PackageRefused
from gradeapp.services.team import assign, merge_packages


def _current(path: Path, uid: str) -> list[tuple]:
    with open_project(path, create=False) as store:
        gid = store.execute("SELECT id FROM generations WHERE uid = ?", [uid]).fetchone()[0]
        return [
            (m["criterion"], m["start_char"], m["end_char"], m["quote"])
            for m in evidence.generation_evidence(store, gid)
        ]


def test_package_marks_and_removals_merge_exactly_once(copy_demo, tmp_path):
    main = copy_demo(tmp_path / "main.gradeapp")
    with open_project(main) as store:
        package = Path(
            assign(store, ["ann"], tmp_path / "packages", overlap=0.0, use_all=True)["packages"][0]["path"]
        )
    with open_project(package, create=False) as pkg:
        gid, uid, _text = pkg.execute("SELECT id, uid, text FROM generations ORDER BY id LIMIT 1").fetchone()
        ann = pkg.grader_id("human", "ann")
        kept = evidence.mark_evidence(pkg, ann, gid, TOPIC, 0, 5)
        dropped = evidence.mark_evidence(pkg, ann, gid, TOPIC, 6, 12)
        evidence.remove_evidence(pkg, ann, dropped.mark_id)
    with open_project(main) as store:
        [first] = merge_packages(store, [package])
        [again] = merge_packages(store, [package])
    assert (first["evidence_added"], again["evidence_added"]) == (1, 0)
    assert _current(main, uid) == [(TOPIC, kept.start, kept.end, kept.quote)]
    with open_project(package, create=False) as pkg:
        evidence.remove_evidence(pkg, ann, kept.mark_id)
    with open_project(main) as store:
        [removal] = merge_packages(store, [package])
    assert removal["evidence_added"] == 1 and _current(main, uid) == []


def test_a_package_mark_of_the_wrong_type_is_refused_and_nothing_is_merged(copy_demo, tmp_path):
    main = copy_demo(tmp_path / "main.gradeapp")
    with open_project(main) as store:
        package = Path(
            assign(store, ["ann"], tmp_path / "packages", overlap=0.0, use_all=True)["packages"][0]["path"]
        )
    with open_project(package, create=False) as pkg:
        gid, uid, _text = pkg.execute("SELECT id, uid, text FROM generations ORDER BY id LIMIT 1").fetchone()
        evidence.mark_evidence(pkg, pkg.grader_id("human", "ann"), gid, TOPIC, 0, 5)
        pkg.execute("UPDATE evidence SET quote = zeroblob(10)")  # a crafted file: bytes where words belong
    with open_project(main) as store:
        before = store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
        with pytest.raises(PackageRefused, match="evidence mark 1: quote"):
            merge_packages(store, [package])
        assert store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == before
    assert _current(main, uid) == []
