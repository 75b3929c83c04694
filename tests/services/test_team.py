"""Team workflow: assignment packages and exact, idempotent, order-independent merging."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from pathlib import Path

import pytest

from gradeapp.cli import main as cli_main
from gradeapp.db import open_project, team_store
from gradeapp.errors import GradeappError
from gradeapp.services.package_types import PackageRefused
from gradeapp.services.team import assign, merge_packages, plan_assignment
from tests.team_sim import Clock, criteria_of, grade, package_uids, simulate

PEOPLE = ("ann", "ben", "cleo")


@pytest.fixture(scope="module")
def team(copy_demo, tmp_path_factory):
    """A main project, three packages with 30% overlap, each graded in two sessions (snapshot after the first)."""
    root = tmp_path_factory.mktemp("team")
    main = copy_demo(root / "main.gradeapp")
    with open_project(main) as store:
        report = assign(store, PEOPLE, root / "packages", overlap=0.3, use_all=True, seed=7)
    clock = Clock()
    finals, snaps = {}, {}
    for i, p in enumerate(report["packages"]):
        path = Path(p["path"])
        uids = package_uids(path)
        half = len(uids) // 2
        simulate(path, p["annotator"], clock, seed=i, uids=uids[:half])
        snaps[p["annotator"]] = shutil.copyfile(path, root / f"snapshot-{p['annotator']}.gradeapp")
        simulate(path, p["annotator"], clock, seed=100 + i, uids=uids[half:])
        # Back to the first half: a correction made after the snapshot was taken.
        with open_project(path, create=False) as pkg:
            crit = criteria_of(pkg, uids[0])[-1]
            grade(pkg, p["annotator"], uids[0], {crit: 0}, seconds=9.0, created=clock())
        finals[p["annotator"]] = path
    # Ann is given a second package later (a re-assignment) and re-grades three of her items in it:
    # her later decisions must count whichever of her packages is merged last.
    with open_project(main) as store:
        extra = Path(
            assign(store, ["ann"], root / "second", overlap=0.0, use_all=True)["packages"][0]["path"]
        )
    redo = package_uids(finals["ann"])[:3]
    with open_project(extra, create=False) as pkg:
        for uid in redo:
            grade(pkg, "ann", uid, dict.fromkeys(criteria_of(pkg, uid), 0), seconds=15.0, created=clock())
    return {
        "main": main,
        "finals": finals,
        "snaps": snaps,
        "extra": extra,
        "redo": redo,
        "report": report,
        "root": root,
    }


def content(path: Path) -> dict:
    """Return what a project holds, independent of row ids."""
    with open_project(path, create=False) as store:
        return {
            "history": team_store.verdict_history(store),
            "current": team_store.current_verdict_content(store),
            "reviews": team_store.review_history(store),
            "graders": sorted(store.execute("SELECT kind, name FROM graders").fetchall()),
        }


def full_dump(path: Path) -> list[str]:
    """Return every row and schema object of a file (ids included; not the planner's statistics)."""
    conn = sqlite3.connect(path)
    try:
        # PRAGMA optimize on close may refresh sqlite_stat1: query-planner data, not project content.
        return [line for line in conn.iterdump() if "sqlite_stat" not in line and "ANALYZE" not in line]
    finally:
        conn.close()


# -- assign -----------------------------------------------------------------------------------------
def test_plan_gives_the_overlap_fraction_to_two_people_and_balances_load():
    plan = plan_assignment(list(range(1, 101)), ["a", "b", "c", "d"], overlap=0.2, copies=2, seed=3)
    owners = {g: [a for a, ids in plan.items() if g in ids] for g in range(1, 101)}
    assert sorted(len(o) for o in owners.values()).count(2) == 20
    assert all(1 <= len(o) <= 2 for o in owners.values())
    loads = [len(ids) for ids in plan.values()]
    assert max(loads) - min(loads) <= 1
    pairs = {tuple(sorted(o)) for o in owners.values() if len(o) == 2}
    assert len(pairs) == 6  # every pair of the four people shares something
    assert plan == plan_assignment(list(range(1, 101)), ["a", "b", "c", "d"], overlap=0.2, copies=2, seed=3)


def test_plan_refuses_bad_input():
    with pytest.raises(GradeappError, match="two annotators"):
        plan_assignment([1, 2], ["a"], overlap=0.2, copies=2, seed=1)
    with pytest.raises(GradeappError, match="between 0 and 1"):
        plan_assignment([1, 2], ["a", "b"], overlap=1.5, copies=2, seed=1)
    with pytest.raises(GradeappError, match="named twice"):
        plan_assignment([1, 2], ["a", "a"], overlap=0.0, copies=2, seed=1)


def test_packages_hold_only_what_the_person_needs(team):
    with open_project(team["main"], create=False) as store:
        parent_uuid = store.uuid
        n_main = store.info()["generations"]
        main_guideline = store.execute("SELECT text FROM guidelines WHERE version = 1").fetchone()[0]
    seen: dict[str, int] = {}
    # A freshly made package (the fixture's ones have been graded already).
    fresh_main = shutil.copyfile(team["main"], team["root"] / "main-for-assign.gradeapp")
    with open_project(fresh_main) as store:
        report = assign(store, PEOPLE, team["root"] / "fresh-packages", overlap=0.3, use_all=True, seed=7)
    for p in report["packages"]:
        with open_project(p["path"], create=False) as pkg:
            proj = pkg.project
            assert proj["parent_uuid"] == parent_uuid and proj["package_for"] == p["annotator"]
            assert proj["package_id"] == p["package_id"] and proj["uuid"] != parent_uuid
            assert "demo" not in proj
            for table in ("verdicts", "replies", "reviews", "jobs", "audit_items"):
                assert pkg.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
            assert pkg.execute("SELECT kind, name FROM graders").fetchall() == [("human", p["annotator"])]
            assert (
                pkg.execute("SELECT text FROM guidelines WHERE version = 1").fetchone()[0] == main_guideline
            )
            assert len(pkg.skills()) == 20 and len(pkg.topics()) == 10
            uids = [r[0] for r in pkg.execute("SELECT uid FROM generations")]
            assert len(uids) == p["generations"]
            assert pkg.execute("SELECT COUNT(*) FROM checks").fetchone()[0] == len(uids)
            gen = pkg.generation(pkg.generation_id(uids[0]))  # the desk's read of a generation works
            assert gen["skills"] and gen["topic"]
            for u in uids:
                seen[u] = seen.get(u, 0) + 1
    assert len(seen) == n_main
    assert sum(1 for n in seen.values() if n == 2) == round(0.3 * n_main)


def test_assign_uses_the_newest_draw_and_needs_all_without_one(copy_demo, tmp_path):
    main = copy_demo(tmp_path / "main.gradeapp")
    with open_project(main) as store:
        report = assign(store, ["ann", "ben"], tmp_path / "p-demo", overlap=0.0)
        assert report["source"] == "audit draw 'demo audit (demo)'" and report["generations"] == 72
        # the same project without its draw: assign refuses to split the whole pool by accident
        store.execute("DELETE FROM audit_items")
        store.execute("DELETE FROM audit_draws")
        with pytest.raises(GradeappError, match="no audit draw.*--all"):
            assign(store, PEOPLE, tmp_path / "p0")
        # An audit draw as the audit module stores one (10 items, uniform design).
        store.execute(
            "INSERT INTO audit_draws(name, design, seed, created) VALUES ('pilot', 'uniform', 1, '2026-01-01')"
        )
        store.execute(
            "INSERT INTO audit_items(draw_id, generation_id, inclusion_prob) SELECT 1, id, 0.2 FROM generations "
            "ORDER BY id LIMIT 10"
        )
        report = assign(store, ["ann", "ben"], tmp_path / "p1", overlap=0.2)
        assert report["source"] == "audit draw 'pilot'" and report["generations"] == 10
        assert sum(p["generations"] for p in report["packages"]) == 12
        with pytest.raises(GradeappError, match="already exists"):
            assign(store, ["ann", "ben"], tmp_path / "p1", overlap=0.2)
        with pytest.raises(GradeappError, match="no audit draw named 'nope'"):
            assign(store, ["ann"], tmp_path / "p2", overlap=0.0, draw="nope")


# -- merge ------------------------------------------------------------------------------------------
def test_merge_adds_the_work_and_again_adds_nothing(team, tmp_path):
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    with open_project(main) as store:
        humans_before = store.execute(
            "SELECT COUNT(*) FROM verdicts v JOIN graders g ON g.id = v.grader_id WHERE g.kind = 'human'"
        ).fetchone()[0]
        first = merge_packages(store, list(team["finals"].values()))
        total = {r["annotator"]: r["verdicts_added"] for r in first}
        for person, path in team["finals"].items():
            with open_project(path, create=False) as pkg:
                assert total[person] == pkg.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] > 0
        second = merge_packages(store, list(team["finals"].values()))
        assert all(r["verdicts_added"] == 0 and r["reviews_added"] == 0 for r in second)
        assert all(r["verdicts_known"] == total[r["annotator"]] for r in second)
        humans_after = store.execute(
            "SELECT COUNT(*) FROM verdicts v JOIN graders g ON g.id = v.grader_id WHERE g.kind = 'human'"
        ).fetchone()[0]
        assert humans_after == humans_before + sum(total.values())
        # Every merged row carries the fields the desk wrote.
        row = store.execute(
            "SELECT v.seconds, v.guideline_version, v.created FROM verdicts v JOIN graders g ON g.id = v.grader_id "
            "WHERE g.name = 'ann' ORDER BY v.created LIMIT 1"
        ).fetchone()
        assert row[0] is not None and row[1] == 1 and row[2].startswith("2026-03-01T09:00:07")


def test_snapshot_then_final_adds_only_the_new_rows(team, tmp_path):
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    with open_project(main) as store:
        snap = merge_packages(store, [team["snaps"]["ann"]])[0]
        final = merge_packages(store, [team["finals"]["ann"]])[0]
    with (
        open_project(team["snaps"]["ann"], create=False) as s,
        open_project(team["finals"]["ann"], create=False) as f,
    ):
        n_snap = s.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
        n_final = f.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
    assert snap["verdicts_added"] == n_snap
    assert final["verdicts_added"] == n_final - n_snap and final["verdicts_known"] == n_snap


def test_merged_project_is_identical_whatever_the_order(team, tmp_path):
    results = []
    for i, order in enumerate(itertools.permutations(PEOPLE)):
        main = shutil.copyfile(team["main"], tmp_path / f"main-{i}.gradeapp")
        with open_project(main) as store:
            # Snapshots in reverse order first for some orders: a second session merged later.
            if i % 2:
                merge_packages(store, [team["snaps"][p] for p in reversed(order)])
            # Ann's second package goes in first (so its later rows get the lower ids) or last.
            if i < 3:
                merge_packages(store, [team["extra"]])
            for p in order:
                merge_packages(store, [team["finals"][p]])
            if i >= 3:
                merge_packages(store, [team["extra"]])
            again = merge_packages(
                store,
                [team["finals"][p] for p in order] + [team["snaps"][p] for p in order] + [team["extra"]],
            )
            assert sum(r["verdicts_added"] + r["reviews_added"] for r in again) == 0
            ann = store.grader_id("human", "ann")
            for uid in team["redo"]:
                values = store.execute(
                    "SELECT value FROM current_verdicts WHERE grader_id = ? AND generation_id = ?",
                    [ann, store.generation_id(uid)],
                ).fetchall()
                assert values and all(v == (0,) for v in values)
        results.append(content(main))
    for other in results[1:]:
        assert other == results[0]
    # The correction made after the snapshot is what counts for cleo's first item (ann's was re-graded).
    with open_project(tmp_path / "main-1.gradeapp", create=False) as store:
        last = store.execute(
            "SELECT v.value, v.seconds FROM current_verdicts v JOIN graders g ON g.id = v.grader_id "
            "WHERE g.name = 'cleo' AND v.seconds = 9.0"
        ).fetchall()
        assert last == [(0, 9.0)]


def test_current_verdict_follows_the_issue_order_whatever_the_merge_order(copy_demo, tmp_path):
    """A person with two packages sharing an item: the later package's decision wins in both merge orders.

    The order is the one in which the parent issued the packages (its own clock), never a package's
    `created` stamps."""
    main = copy_demo(tmp_path / "main.gradeapp")
    with open_project(main) as store:
        one = assign(store, ["ann"], tmp_path / "one", overlap=0.0, use_all=True)["packages"][0]["path"]
        two = assign(store, ["ann"], tmp_path / "two", overlap=0.0, use_all=True)["packages"][0]["path"]
    clock = Clock()
    with open_project(one, create=False) as p1, open_project(two, create=False) as p2:
        grade(p1, "ann", "demo-001", {"topic": 1}, seconds=20, created=clock())
        grade(p2, "ann", "demo-001", {"topic": 0}, seconds=20, created=clock())  # later: it counts
    outcomes = []
    for i, order in enumerate(([one, two], [two, one])):
        copy = shutil.copyfile(main, tmp_path / f"m{i}.gradeapp")
        with open_project(copy) as store:
            for path in order:
                merge_packages(store, [path])
            ann = store.grader_id("human", "ann")
            outcomes.append(store.current_verdict(ann, store.generation_id("demo-001"), "topic")["value"])
            view = store.execute(
                "SELECT value FROM current_verdicts WHERE grader_id = ? AND criterion = 'topic'", [ann]
            ).fetchall()
            assert view == [(0,)]
    assert outcomes == [0, 0]


# -- refusals ---------------------------------------------------------------------------------------
def _refused(main: Path, packages: list[Path], match: str) -> None:
    before = full_dump(main)
    with open_project(main, create=False) as store, pytest.raises(PackageRefused, match=match):
        merge_packages(store, packages)
    assert full_dump(main) == before


def _tampered(src: Path, dest: Path, *sql: str) -> Path:
    shutil.copyfile(src, dest)
    conn = sqlite3.connect(dest)
    with conn:
        for statement in sql:
            conn.execute(statement)
    conn.close()
    return dest


def test_foreign_package_is_refused_and_changes_nothing(team, copy_demo, tmp_path):
    other = copy_demo(tmp_path / "other.gradeapp")
    with open_project(other) as store:
        store.set_project_value("uuid", "00000000-0000-0000-0000-000000000000")  # a distinct project
        path = assign(store, ["ann"], tmp_path / "foreign", overlap=0.0, use_all=True)["packages"][0]["path"]
    simulate(Path(path), "ann", Clock(), seed=5, uids=["demo-001", "demo-002"])
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    _refused(main, [Path(path)], "belongs to another project")


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        (
            [
                "UPDATE generations SET text = text || ' (edited)' WHERE id = (SELECT MIN(generation_id) FROM verdicts)"
            ],
            "differs from the text",
        ),
        (
            ["UPDATE generations SET uid = 'not-assigned' WHERE id = (SELECT MIN(id) FROM generations)"],
            "not assigned",
        ),
        (["UPDATE project SET value = 'cleo' WHERE key = 'package_for'"], "issued for"),
        (["UPDATE project SET value = 'forged' WHERE key = 'package_id'"], "not issued by this project"),
        (
            [
                "INSERT INTO graders(key, kind, name, created) VALUES ('judge:x', 'judge', 'x', '2026')",
                "INSERT INTO verdicts(grader_id, generation_id, criterion, value, created) SELECT "
                "(SELECT id FROM graders WHERE kind = 'judge'), MIN(id), 'topic', 1, '2026' FROM generations",
            ],
            "holds work of judge",
        ),
        (
            [
                "INSERT INTO _sqlite_migrations(migration_set, name, applied_at) VALUES ('gradeapp', '999_future', '2030')"
            ],
            "newer gradeapp",
        ),
        (["UPDATE guidelines SET text = 'something else'"], "guideline version 1"),
    ],
    ids=[
        "text-edited",
        "extra-generation",
        "other-person",
        "forged-id",
        "judge-verdicts",
        "newer-schema",
        "guideline",
    ],
)
def test_tampered_package_is_refused_and_changes_nothing(team, tmp_path, sql, match):
    bad = _tampered(team["finals"]["ben"], tmp_path / "bad.gradeapp", *sql)
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    # A good package in the same call is not merged either: one transaction.
    _refused(main, [team["finals"]["ann"], bad], match)


def test_changed_verdict_with_a_merged_identity_is_refused(team, tmp_path):
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    with open_project(main) as store:
        merge_packages(store, [team["finals"]["cleo"]])
    bad = _tampered(
        team["finals"]["cleo"],
        tmp_path / "bad.gradeapp",
        "UPDATE verdicts SET value = 1 - value WHERE id = 1",
    )
    _refused(main, [bad], "conflict")


def test_not_a_package_is_refused(team, tmp_path):
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    junk = tmp_path / "junk.gradeapp"
    junk.write_text("hello")
    _refused(main, [junk], "not a gradeapp")
    _refused(main, [shutil.copyfile(team["main"], tmp_path / "plain.gradeapp")], "not an assignment package")


# -- CLI --------------------------------------------------------------------------------------------
def test_cli_assign_merge_and_refusal(copy_demo, tmp_path, capsys):
    main = copy_demo(tmp_path / "main.gradeapp")
    out = tmp_path / "pk"
    assert (
        cli_main(
            [
                "assign",
                "--project",
                str(main),
                "--annotators",
                "ann,ben,cleo",
                "--overlap",
                "0.2",
                "--out",
                str(out),
                "--all",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "split 163 generations of the project (every generation): 33 go to more than one person" in text
    packages = sorted(out.glob("*.gradeapp"))
    assert len(packages) == 3
    simulate(packages[0], "ann", Clock(), seed=1, uids=package_uids(packages[0])[:3])
    assert cli_main(["merge", "--project", str(main), *map(str, packages)]) == 0
    lines = capsys.readouterr().out.splitlines()
    with open_project(packages[0], create=False) as pkg:
        n_ann = pkg.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
    assert f"(ann): {n_ann} verdicts added, 0 already merged" in lines[0] and n_ann > 0
    assert "0 verdicts added" in lines[1] and "0 verdicts added" in lines[2]
    assert cli_main(["packages", "--project", str(main)]) == 0
    assert "merged 1x" in capsys.readouterr().out
    bad = _tampered(
        packages[1],
        tmp_path / "bad.gradeapp",
        "UPDATE generations SET text = 'x' WHERE id = (SELECT MIN(id) FROM generations)",
    )
    assert cli_main(["merge", "--project", str(main), str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("gradeapp: error: ")
        and "refused, nothing merged: tampered" in err
        and len(err.splitlines()) == 1
    )


def test_every_team_command_is_documented():
    doc = (Path(__file__).parents[2] / "docs" / "team.md").read_text(encoding="utf-8")
    for command in (
        "assign",
        "merge",
        "packages",
        "adjudicate list",
        "adjudicate decide",
        "adjudicate agreement",
        "guidelines init",
        "guidelines edit",
        "guidelines show",
        "guidelines history",
        "guidelines agreement",
        "annotators",
    ):
        assert f"gradeapp {command}" in doc, command


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        ("UPDATE verdicts SET criterion = 'skill:nonexistent' WHERE id = (SELECT MIN(id) FROM verdicts)",
         "not a criterion of generation"),
        ("UPDATE verdicts SET run = -3 WHERE id = (SELECT MIN(id) FROM verdicts)", "run -3"),
        ("UPDATE verdicts SET run = 'two' WHERE id = (SELECT MIN(id) FROM verdicts)", "run 'two'"),
        ("UPDATE verdicts SET created = '2999-01-01T00:00:00+00:00' WHERE id = (SELECT MIN(id) FROM verdicts)",
         "in the future"),
        ("UPDATE verdicts SET created = 'soon' WHERE id = (SELECT MIN(id) FROM verdicts)", "not a time"),
        ("UPDATE verdicts SET seconds = -5 WHERE id = (SELECT MIN(id) FROM verdicts)", "seconds -5"),
        ("UPDATE reviews SET created = '2999-01-01T00:00:00+00:00' WHERE id = (SELECT MIN(id) FROM reviews)",
         "in the future"),
    ],
)  # fmt: skip
def test_merge_validates_every_row_against_the_project(team, tmp_path, sql, match):
    pkg = _tampered(team["finals"]["ann"], tmp_path / "bad.gradeapp", sql)
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    _refused(main, [pkg], match)


def test_merge_refuses_values_and_statuses_a_schema_change_let_through(team, tmp_path):
    # A file whose CHECK constraints were removed (writable_schema) can hold any value: still refused.
    dest = tmp_path / "bad.gradeapp"
    shutil.copyfile(team["finals"]["ann"], dest)
    conn = sqlite3.connect(dest)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'verdicts'").fetchone()[0]
    relaxed = sql.replace("CHECK (value IN (0, 1))", "").replace(
        "CHECK (status IN ('ok', 'fractional', 'missing', 'empty', 'unparsed', 'retracted'))", ""
    )
    assert relaxed != sql
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'verdicts'", [relaxed])
    conn.commit()
    conn.close()
    conn = sqlite3.connect(dest)
    conn.execute("UPDATE verdicts SET value = 2 WHERE id = (SELECT MIN(id) FROM verdicts)")
    conn.commit()
    conn.close()
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    _refused(main, [dest], "value 2")
    conn = sqlite3.connect(dest)
    conn.execute("UPDATE verdicts SET value = 1, status = 'bribed' WHERE id = (SELECT MIN(id) FROM verdicts)")
    conn.commit()
    conn.close()
    _refused(main, [dest], "unknown status 'bribed'")


# -- crafted packages: only plain tables, every value to its type, a time bound ------------------------
_ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r"


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        (["UPDATE reviews SET seconds = 'abc' WHERE id = (SELECT MIN(id) FROM reviews)"], "seconds 'abc'"),
        (["UPDATE verdicts SET seconds = 'abc' WHERE id = (SELECT MIN(id) FROM verdicts)"], "seconds 'abc'"),
        (["UPDATE verdicts SET seconds = 1e300 WHERE id = (SELECT MIN(id) FROM verdicts)"], r"seconds 1e\+300"),
        (["UPDATE verdicts SET note = x'00ff' WHERE id = (SELECT MIN(id) FROM verdicts)"], "note b'"),
        (["UPDATE verdicts SET value = NULL, status = 'ok' WHERE id = (SELECT MIN(id) FROM verdicts)"],
         "status 'ok' with value None"),
        (["UPDATE verdicts SET guideline_version = 'v1' WHERE id = (SELECT MIN(id) FROM verdicts)"],
         "guideline_version 'v1'"),
        (["UPDATE project SET value = x'00' WHERE key = 'package_id'"], "project setting 'package_id'"),
        (["UPDATE generations SET text = x'00' WHERE id = (SELECT MIN(id) FROM generations)"], "text b'"),
        (["ALTER TABLE verdicts RENAME TO verdicts_real",
          "CREATE VIEW verdicts AS SELECT v.* FROM verdicts_real v, (" + _ENDLESS + ") e"],
         "'verdicts' is a view, not a table"),
        (["CREATE TRIGGER t AFTER INSERT ON project BEGIN SELECT 1; END"], "holds a trigger"),
        (["ALTER TABLE reviews ADD COLUMN shadow TEXT AS (upper(note))"], "computed column 'shadow'"),
    ],
    ids=["review-seconds-text", "verdict-seconds-text", "seconds-huge", "note-blob", "ok-without-value",
         "guideline-text", "project-number", "text-blob", "endless-view", "trigger", "generated-column"],
)  # fmt: skip
def test_a_crafted_package_is_refused_in_one_line_with_nothing_changed(team, tmp_path, sql, match):
    pkg = _tampered(team["finals"]["ann"], tmp_path / "bad.gradeapp", *sql)
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    _refused(main, [team["finals"]["ben"], pkg], match)


def test_merge_of_a_crafted_package_prints_one_line_and_exits_2(team, tmp_path, capsys):
    pkg = _tampered(
        team["finals"]["ann"], tmp_path / "bad.gradeapp", "UPDATE reviews SET seconds = 'abc' WHERE id = 1"
    )
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    before = full_dump(main)
    assert cli_main(["merge", str(pkg), "--project", str(main)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "refused, nothing merged" in err and "seconds 'abc'" in err
    assert full_dump(main) == before
    # and the project still exports (the merged 'abc' used to break every later export)
    assert (
        cli_main(["export", "--project", str(main), "--out", str(tmp_path / "out"), "--bootstrap", "0"]) == 0
    )


def test_a_read_that_runs_past_its_time_bound_is_stopped(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.db")
    try:
        with pytest.raises(TimeoutError, match="longer than 0.2 s"), team_store.time_bound(conn, 0.2):
            conn.execute(f"SELECT COUNT(*) FROM ({_ENDLESS})").fetchone()
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the handler is gone afterwards
    finally:
        conn.close()


def test_a_package_that_reads_too_long_is_refused(team, tmp_path, monkeypatch):
    from gradeapp.services import team as team_service

    monkeypatch.setattr(team_service, "PACKAGE_READ_SECONDS", 0.0)
    main = shutil.copyfile(team["main"], tmp_path / "main.gradeapp")
    _refused(main, [team["finals"]["ann"]], "reading took longer than 0 s")
