"""A fuzz corpus in the suite: hypothesis-generated lines for every importer, 1,000 cases each per run.

Each case is imported into one small real project inside an outer transaction: the importer either
succeeds or raises a GradeappError (one line naming file/line/field), never anything else; on a refusal
the project (as seen inside the transaction) is exactly as before, so nothing was half written; the
outer transaction is then rolled back, so every case starts from the same project.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from gradeapp.db import open_project
from gradeapp.db.team_store import uid_ids
from gradeapp.errors import GradeappError
from gradeapp.llm.batch import ingest_lines
from gradeapp.services.catalog import import_catalog
from gradeapp.services.imports import import_sources
from gradeapp.services.package_types import check_package_types
from gradeapp.services.team import _merge_one, assign, read_package
from tests.helpers import dump

CASES = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # a fresh corpus each run; failures print their example
)
SKILLS = ["metaphor", "irony", "red herring"]
TOPICS = ["Kites", "Bees"]

# Values that break naive code: huge and negative numbers, NaN/inf, control characters, markup, nesting.
# Drawn from a fixed list (plus short random text): hypothesis spends its time on combinations of
# fields and lines, not on building deep random values, so 1,000 cases per importer stay quick.
HOSTILE = [
    None, True, False, 0, 1, -1, 2, 2**31, 2**63, 2**64 + 1, -(2**70), 10**400, 0.5, 1.0, -0.0,
    float("nan"), float("inf"), "", " ", "0", "1", "-1", "pass", "fail", "1e999", "NaN", "9" * 30,
    "yesterday", "2999-01-01T00:00:00+00:00", "\x1b[2J\x1b]0;owned\x07", "a\x00b", "<b>x</b>", "=cmd()",
    "ü" * 3, "\ud800", "x" * 3000, [], [1], ["metaphor"], [[[]]], [None, {"a": 1}], {}, {"a": 1},
    {"a": {"b": [None]}}, [[[[[[[[[[[[]]]]]]]]]]]],
]  # fmt: skip
values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8))


def field(name: str, good: st.SearchStrategy) -> st.SearchStrategy:
    """A field that is mostly well-formed (to reach deep code) and often hostile."""
    return st.one_of(good, good, values)


generation_objects = st.fixed_dictionaries(
    {},
    optional={
        "id": field("id", st.sampled_from(["g-1", "g-2", "n-1", "n-2"])),
        "student": field("student", st.sampled_from(["m", "evil\x1b[2J"])),
        "k": field("k", st.integers(1, 3)),
        "skills": field("skills", st.lists(st.sampled_from(SKILLS + ["nope"]), min_size=1, max_size=3)),
        "topic": field("topic", st.sampled_from(TOPICS + ["Nope"])),
        "text": field("text", st.text(max_size=30)),
        "round": field("round", st.integers(0, 3)),
        "meta": values,
        "prompt": values,
        "created": field("created", st.sampled_from(["2026-01-01T00:00:00+00:00", "yesterday"])),
    },
)
verdict_objects = st.fixed_dictionaries(
    {},
    optional={
        "generation": field("generation", st.sampled_from(["g-1", "g-2", "zz"])),
        "grader": field("grader", st.sampled_from(["ann", "judge-x"])),
        "kind": field("kind", st.sampled_from(["human", "judge", "adjudicator"])),
        "criterion": field("criterion", st.sampled_from(["topic", "makes_sense", "skill:metaphor", "x"])),
        "value": field("value", st.sampled_from([0, 1, None, "pass"])),
        "status": field("status", st.sampled_from(["ok", "unparsed", "fractional"])),
        "run": field("run", st.integers(1, 3)),
        "raw": values,
        "reason": values,
        "note": values,
        "seconds": values,
        "created": values,
        "max_tokens": values,
        "temperature": values,
        "guideline_version": values,
        "submitted": values,
    },
)
skill_objects = st.fixed_dictionaries(
    {"name": field("name", st.sampled_from(["metaphor", "new skill"]))},
    optional={
        "category": values,
        "definition": values,
        "common": values,
        "frequency": values,
        "status": values,
    },
)


def jsonl(objects: list[dict], garbage: bytes) -> bytes:
    lines = [json.dumps(o, allow_nan=True).encode() for o in objects]
    return b"\n".join(lines + ([garbage] if garbage else [])) + b"\n"


def csv_text(objects: list[dict]) -> bytes:
    keys = sorted({k for o in objects for k in o})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(keys)
    for o in objects:
        writer.writerow(
            ["" if o.get(k) is None else (o[k] if isinstance(o[k], str) else json.dumps(o[k])) for k in keys]
        )
    return out.getvalue().encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def store(project):
    """One connection for all cases of a module (opening checks the file: too slow per case)."""
    s = open_project(project)
    yield s
    s.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A small project: 3 skills, 2 topics, two generations g-1 (k=1) and g-2 (k=2)."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.gradeapp"
    with open_project(path) as store:
        store.upsert_skills([{"name": s} for s in SKILLS])
        store.add_topics(TOPICS)
        sid, tid = store.skill_ids(), store.topic_ids()
        c1 = store.combination_id([sid["metaphor"]], tid["Kites"])
        c2 = store.combination_id([sid["metaphor"], sid["irony"]], tid["Bees"])
        store.insert_generations(
            [
                ("g-1", c1, "m", 1, None, None, "One text.", None, None, "2026-01-01T00:00:00+00:00"),
                ("g-2", c2, "m", 1, None, None, "Two texts.", None, None, "2026-01-01T00:00:00+00:00"),
            ]
        )
        store.grader_id("judge", "judge-x", model="judge-x")
    return path


@contextlib.contextmanager
def rolled_back(store):
    """Run a case inside a transaction that is always rolled back; yield the dump before it."""
    store.conn.execute("BEGIN")
    try:
        yield dump(store)
    finally:
        store.conn.execute("ROLLBACK")


def check(store, action) -> None:
    """Run one import: success, or a GradeappError with nothing written; anything else fails the test."""
    with rolled_back(store) as before:
        try:
            action()
        except GradeappError as exc:
            assert "\n" not in str(exc)
            assert dump(store) == before


@CASES
@given(objects=st.lists(generation_objects, max_size=4), garbage=st.binary(max_size=12), as_csv=st.booleans())
def test_fuzz_generations(store, tmp_path, objects, garbage, as_csv):
    src = tmp_path / ("g.csv" if as_csv else "g.jsonl")
    src.write_bytes(csv_text(objects) if as_csv else jsonl(objects, garbage))
    check(store, lambda: import_sources(store, [src], kind="generations"))


@CASES
@given(objects=st.lists(verdict_objects, max_size=4), garbage=st.binary(max_size=12), as_csv=st.booleans())
def test_fuzz_verdicts(store, tmp_path, objects, garbage, as_csv):
    src = tmp_path / ("v.csv" if as_csv else "v.jsonl")
    src.write_bytes(csv_text(objects) if as_csv else jsonl(objects, garbage))
    check(store, lambda: import_sources(store, [src], kind="verdicts"))


@CASES
@given(objects=st.lists(skill_objects, max_size=4), garbage=st.binary(max_size=12), as_csv=st.booleans())
def test_fuzz_catalog(store, tmp_path, objects, garbage, as_csv):
    src = tmp_path / ("skills.csv" if as_csv else "skills.jsonl")
    src.write_bytes(csv_text(objects) if as_csv else jsonl(objects, garbage))
    check(store, lambda: import_catalog(store, [src]))


replies = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda d: json.dumps(d, allow_nan=True),
        st.dictionaries(
            st.sampled_from(["topic", "makes_sense", "skill:metaphor", "sentence_limit"]), values
        ),
    ),
    st.sampled_from(["| criterion | point |\n|---|---|\n| topic | 1 |", "Point earned: 0.5", ""]),
)
batch_lines = st.fixed_dictionaries(
    {},
    optional={
        "custom_id": field("custom_id", st.sampled_from(["1:1:1", "2:1:2", "1:1:0", "9:1:1", "1:7:1", f"{2**70}:1:1"])),
        "response": field(
            "response",
            st.fixed_dictionaries(
                {"status_code": field("status_code", st.just(200))},
                optional={
                    "body": field(
                        "body",
                        st.fixed_dictionaries(
                            {"choices": field("choices", st.builds(lambda t: [{"message": {"content": t}}], replies))},
                            optional={"usage": values},
                        ),
                    )
                },
            ),
        ),
        "error": values,
    },
)  # fmt: skip


@CASES
@given(objects=st.lists(batch_lines, max_size=4), garbage=st.binary(max_size=12))
def test_fuzz_batch_ingest_and_reply_texts(store, objects, garbage):
    lines = jsonl(objects, garbage).splitlines()
    check(store, lambda: ingest_lines(store, lines, source="fuzz.jsonl"))


@pytest.fixture(scope="module")
def package(store, tmp_path_factory) -> dict:
    report = assign(store, ["ann"], tmp_path_factory.mktemp("pkg"), overlap=0.0, use_all=True)
    return read_package(Path(report["packages"][0]["path"]))


package_verdicts = st.fixed_dictionaries(
    {
        "uid": field("uid", st.sampled_from(["g-1", "g-2"])),
        "criterion": field("criterion", st.sampled_from(["topic", "skill:metaphor", "skill:irony", "x"])),
        "run": field("run", st.integers(1, 2)),
        "created": field(
            "created", st.sampled_from(["2026-03-01T09:00:00+00:00", "2999-01-01T00:00:00+00:00"])
        ),
        "value": field("value", st.sampled_from([0, 1, None])),
        "raw_value": st.none(),
        "status": field("status", st.sampled_from(["ok", "unparsed"])),
        "reason": st.none(),
        "note": field("note", st.none()),
        "seconds": field("seconds", st.floats(0, 100)),
        "post_reveal": st.sampled_from([0, 1]),
        "guideline_version": st.none(),
    }
)
REVIEW = {
    "uid": "g-1",
    "action": "submit",
    "created": "2026-03-01T09:00:00+00:00",
    "seconds": 1.0,
    "note": None,
}
package_reviews = st.fixed_dictionaries(
    {
        "uid": field("uid", st.sampled_from(["g-1", "g-2"])),
        "action": field("action", st.sampled_from(["submit", "unsubmit", "flag", "dance"])),
        "created": field("created", st.sampled_from(["2026-03-01T09:00:00+00:00", "never"])),
        "seconds": field("seconds", st.floats(0, 100)),
        "note": st.none(),
    }
)


def _hashable(rows: list[dict]) -> bool:
    # identity fields are dictionary keys in merge; the package's SQLite columns hold scalars only
    keys = ("uid", "criterion", "run", "created", "action")
    return all(not isinstance(r.get(k), list | dict) for r in rows for k in keys)


@CASES
@given(verdicts=st.lists(package_verdicts, max_size=4), reviews=st.lists(package_reviews, max_size=3))
# hostile values hypothesis found past the merge (a list, a lone surrogate, an integer SQLite cannot hold)
@example(verdicts=[], reviews=[{**REVIEW, "seconds": []}])
@example(verdicts=[], reviews=[{**REVIEW, "created": "\ud800"}])
@example(verdicts=[], reviews=[{**REVIEW, "seconds": 2**64}])
def test_fuzz_package_rows(store, package, verdicts, reviews):
    assume(_hashable(verdicts) and _hashable(reviews))  # a package's SQLite columns hold no lists or objects
    pkg = {"fingerprints": [], **package, "verdicts": verdicts, "reviews": reviews}

    def merge() -> None:  # as merge_packages does: the package's values checked, then merged
        check_package_types(pkg)
        _merge_one(store, pkg, uid_ids(store))

    check(store, merge)
