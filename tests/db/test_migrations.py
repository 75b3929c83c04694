import sqlite3

import pytest

from gradeapp.db import open_project
from gradeapp.db.migrations import known_migrations
from gradeapp.errors import ProjectError


def test_new_project_is_created_by_migrations_with_safe_pragmas(tmp_path):
    store = open_project(tmp_path / "p.gradeapp")
    assert store.applied_migrations() == known_migrations()
    assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    tables = set(store.db.table_names())
    for t in (
        "skills",
        "topics",
        "combinations",
        "generations",
        "graders",
        "verdicts",
        "replies",
        "audit_items",
    ):
        assert t in tables
    assert len(store.uuid) == 36
    assert store.integrity_check() == "ok"


def test_reopening_keeps_uuid_and_applies_nothing_twice(tmp_path):
    path = tmp_path / "p.gradeapp"
    first = open_project(path)
    uuid = first.uuid
    first.close()
    again = open_project(path)
    assert again.uuid == uuid
    assert again.applied_migrations() == known_migrations()


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.execute(
            "INSERT INTO generations(uid, combination_id, student, text, created) VALUES ('x', 999, 's', 't', 'now')"
        )


def test_file_from_newer_gradeapp_is_refused(tmp_path):
    path = tmp_path / "p.gradeapp"
    open_project(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations(migration_set, name, applied_at) VALUES ('gradeapp', '999_future', 'now')"
    )
    conn.commit()
    conn.close()
    with pytest.raises(ProjectError, match="newer gradeapp"):
        open_project(path)


def test_other_sqlite_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE stuff (x)")
    conn.commit()
    conn.close()
    with pytest.raises(ProjectError, match="not a gradeapp project"):
        open_project(path)
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["stuff"]


def test_missing_project_is_not_created_when_asked_not_to(tmp_path):
    with pytest.raises(ProjectError, match="no such project"):
        open_project(tmp_path / "nope.gradeapp", create=False)
    assert not (tmp_path / "nope.gradeapp").exists()


def test_verdicts_are_append_only_and_latest_counts(store):
    sid = store.upsert_skills([{"name": "metaphor"}, {"name": "irony"}])
    assert sid == (2, 0)
    store.add_topics(["Kites"])
    cid = store.combination_id(
        [store.skill_ids()["metaphor"], store.skill_ids()["irony"]], store.topic_ids()["Kites"]
    )
    store.insert_generations([("g1", cid, "m", 1, None, None, "text", None, None, "now")])
    gid = store.generation_id("g1")
    person = store.grader_id("human", "ann")
    store.add_verdicts([{"grader_id": person, "generation_id": gid, "criterion": "topic", "value": 1}])
    store.add_verdicts([{"grader_id": person, "generation_id": gid, "criterion": "topic", "value": 0}])
    assert store.current_verdict(person, gid, "topic")["value"] == 0
    assert store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 2
    store.add_verdicts(
        [{"grader_id": person, "generation_id": gid, "criterion": "topic", "status": "retracted"}]
    )
    assert store.current_verdict(person, gid, "topic") is None
    assert store.info()["verdicts"]["human"] == {"1": 0, "0": 0, "unparsed": 0}


def test_judge_grader_identity_includes_its_configuration_but_never_a_key(store):
    a = store.grader_id(
        "judge", "gpt-x", model="gpt-x", endpoint_host="api.example", temperature=0.0, prompt_hash="abc"
    )
    b = store.grader_id(
        "judge", "gpt-x", model="gpt-x", endpoint_host="api.example", temperature=0.7, prompt_hash="abc"
    )
    assert a != b
    assert (
        store.grader_id(
            "judge", "gpt-x", model="gpt-x", endpoint_host="api.example", temperature=0.0, prompt_hash="abc"
        )
        == a
    )
    cols = set(store.graders_df().columns)
    assert not {c for c in cols if "key" in c and c != "key"}


def test_migrations_are_defined_in_the_order_of_their_numbers():
    names = known_migrations()
    assert names == sorted(names)
    assert len({name.split("_")[0] for name in names}) == len(names)  # one migration per number


def _as_released_with_022(path, marker_index: str) -> None:
    """Turn a new project into one as an older gradeapp left it: 022 recorded, and a marker index."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE _sqlite_migrations SET name = '022_covering_index_by_insertion_order' "
            "WHERE name = '031_covering_index_by_insertion_order'"
        )
        # a re-run of the migration would replace this index by its own
        conn.execute("DROP INDEX verdicts_identity_current")
        conn.execute(f"CREATE INDEX verdicts_identity_current ON verdicts({marker_index})")


def _index_sql(path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'verdicts_identity_current'"
        ).fetchone()[0]


def test_a_project_that_recorded_022_opens_without_running_it_again(tmp_path, monkeypatch):
    from gradeapp.db import migrations

    path = tmp_path / "p.gradeapp"
    open_project(path).close()
    _as_released_with_022(path, "grader_id")
    with open_project(path) as store:  # nothing pending: opened as it is
        assert store.applied_migrations() == known_migrations()
    assert _index_sql(path).endswith("ON verdicts(grader_id)")

    # a later migration is pending: the old record is renamed first, so only the new one runs
    ran = []
    monkeypatch.setattr(migrations, "_REGISTRY", [*migrations._REGISTRY, ("079_probe", ran.append)])
    with open_project(path) as store:
        assert store.applied_migrations() == [*known_migrations()]
        raw = [r[0] for r in store.execute("SELECT name FROM _sqlite_migrations").fetchall()]
    assert len(ran) == 1 and "031_covering_index_by_insertion_order" in raw and "079_probe" in raw
    assert _index_sql(path).endswith("ON verdicts(grader_id)")
