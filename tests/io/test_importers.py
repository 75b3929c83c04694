import csv
import json
import shutil

import pytest

from gradeapp.core.rubric import count_sentences_reference, criteria
from gradeapp.errors import InputError
from gradeapp.services.backup import backups
from gradeapp.services.catalog import import_catalog
from gradeapp.services.imports import import_sources
from tests.helpers import dump


def read_records(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def ref_store(store, reference_dir):
    import_catalog(store, [reference_dir])
    import_sources(store, [reference_dir / "test"])
    return store


def test_reference_runs_import_with_expected_counts(ref_store, reference_dir):
    info = ref_store.info()
    assert info["generations"] == 20 and info["combinations"] == 5 and info["graders"] == 1
    replies = ref_store.execute("SELECT COUNT(*) FROM replies").fetchone()[0]
    assert replies == 48  # every graded row of every run, stored separately (runs 1..3)
    assert ref_store.execute("SELECT COUNT(DISTINCT run) FROM replies").fetchone()[0] == 3
    assert ref_store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 48 * 6
    statuses = dict(ref_store.execute("SELECT status, COUNT(*) FROM verdicts GROUP BY status").fetchall())
    assert statuses["fractional"] == 3 and statuses["empty"] == 18 and statuses["missing"] > 0
    # re-importing the same folders adds nothing
    before = dump(ref_store)
    report = import_sources(ref_store, [reference_dir / "test"])
    assert list(report.values())[0] == {"generations_added": 0, "replies_added": 0, "verdicts_added": 0}
    assert [x for x in dump(ref_store) if 'INSERT INTO "imports"' not in x] == [
        x for x in before if 'INSERT INTO "imports"' not in x
    ]


def test_extracted_answers_equal_the_references_text_1(ref_store, reference_dir):
    for records in sorted((reference_dir / "test").glob("*/*/records.csv")):
        rows = read_records(records)
        for i, row in enumerate(rows):
            uid = f"ref:{records.parent.parent.name}/{records.parent.name}/{i}"
            gen = ref_store.generation(ref_store.generation_id(uid))
            assert gen["text"] == row["text_1"]


def _reference_points(value: str) -> list[float]:
    return [float(x) for x in value.split(",")] if value else []


def test_parsed_verdicts_agree_with_reference_points_where_it_is_right(ref_store, reference_dir):
    agree = differ = total_reference_points = 0
    found_where_reference_found_nothing = 0
    for records in sorted((reference_dir / "test").glob("*/*/graded/*/records.csv")):
        student_dir = records.parents[2]
        run = int(records.parent.name.split("_")[-2])
        for i, row in enumerate(read_records(records)):
            uid = f"ref:{student_dir.parent.name}/{student_dir.name}/{i}"
            gid = ref_store.generation_id(uid)
            gen = ref_store.generation(gid)
            crits = criteria([s["name"] for s in gen["skills"]])
            ours = {
                c: (v, raw, st)
                for c, v, raw, st in ref_store.execute(
                    "SELECT criterion, value, raw_value, status FROM verdicts WHERE generation_id = ? AND run = ?",
                    [gid, run],
                )
            }
            ref = _reference_points(row["points_0"])
            total_reference_points += len(ref)
            if not ref and any(v is not None for v, _, _ in ours.values()):
                # the reference found nothing in 'Point earned for <skill>: n' or in a non-table reply
                found_where_reference_found_nothing += 1
            for position, ref_value in enumerate(ref):
                value, raw, status = ours[crits[position]]
                if status == "fractional":
                    assert float(raw) == ref_value
                    agree += 1
                elif value is not None and float(value) == ref_value:
                    agree += 1
                else:
                    differ += 1
            # the reference's count of sentences, re-expressed by us, gives the same numbers
            assert count_sentences_reference(gen["text"]) == int(
                row["num_sentences_manual_in_student_answer_0"]
            )
    assert differ == 0 and agree == total_reference_points == 150
    assert found_where_reference_found_nothing == 6


def test_reference_would_shift_points_where_a_row_is_missing(ref_store):
    # The truncated reply of r1/llama2 row 1 lost 'metaphor': we keep it missing, the reference's
    # positional list [0, 0] would push topic/makes_sense/sentence_limit onto the wrong criteria.
    gid = ref_store.generation_id("ref:k3_s10_vdefault_r1/llama2-7b-chat/1")
    rows = dict(
        ref_store.execute(
            "SELECT criterion, status FROM verdicts WHERE generation_id = ? AND run = 1", [gid]
        ).fetchall()
    )
    assert rows["skill:metaphor"] == "missing"
    assert rows["skill:red herring"] == "ok"


# -- generic generations and verdicts -------------------------------------------------------------
@pytest.fixture
def catalog_store(store):
    store.upsert_skills([{"name": n} for n in ("metaphor", "irony", "red herring")])
    store.add_topics(["Kites", "Clocks"])
    return store


def gen(i, **over):
    row = {
        "id": f"g{i}",
        "student": "m1",
        "k": 2,
        "skills": ["metaphor", "irony"],
        "topic": "Kites",
        "text": f"t{i}",
    }
    row.update(over)
    return row


def write_jsonl(path, rows):
    path.write_text(
        "\n".join(json.dumps(r) if isinstance(r, dict) else r for r in rows) + "\n", encoding="utf-8"
    )
    return path


def test_generic_generations_import_and_reimport_adds_nothing(catalog_store, tmp_path):
    f = write_jsonl(
        tmp_path / "gens.jsonl",
        [gen(1), gen(2, round=2, meta={"a": 1}), gen(3, skills=["irony", "red herring"])],
    )
    report = import_sources(catalog_store, [f])
    assert report[str(f)] == {"generations_read": 3, "generations_added": 3}
    assert catalog_store.info()["combinations"] == 2
    assert import_sources(catalog_store, [f])[str(f)] == {"generations_read": 3, "generations_added": 0}
    assert catalog_store.info()["generations"] == 3


BAD_GENERATIONS = [
    ([gen(1), gen(2, k="two")], 2, "k"),
    ([gen(1), gen(2, skills=["metaphor", "sarcasm"])], 2, "skills"),
    ([gen(1), gen(1)], 2, "id"),
    ([gen(1), gen(2, k=3)], 2, "k"),
    ([gen(1), gen(2, topic="Bees")], 2, "topic"),
    ([gen(1), gen(2, text=42)], 2, "text"),
    ([gen(1), '{"id": "g2", "student": "m1", "k": 2,'], 2, None),
    ([gen(1), "[1, 2]"], 2, None),
    ([gen(1), gen(2, student=None)], 2, "student"),
]


@pytest.mark.parametrize(("rows", "line", "field"), BAD_GENERATIONS)
def test_bad_generations_are_rejected_with_line_and_field_and_change_nothing(
    catalog_store, tmp_path, rows, line, field
):
    good = write_jsonl(tmp_path / "good.jsonl", [gen(9)])
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    before = dump(catalog_store)
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [good, bad])  # one bad source: nothing from either is kept
    assert err.value.file == str(bad) and err.value.line == line and err.value.field == field
    assert dump(catalog_store) == before


def test_truncated_csv_non_utf8_empty_file_and_huge_field_are_rejected(catalog_store, tmp_path):
    before = dump(catalog_store)
    truncated = tmp_path / "gens.csv"
    truncated.write_text(
        "id,student,k,skills,topic,text\ng1,m1,2,metaphor|irony,Kites,hello\ng2,m1,2\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [truncated])
    assert err.value.line == 3 and "truncated" in str(err.value)

    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(
        json.dumps(gen(1)).encode()
        + b"\n"
        + json.dumps(gen(2, text="caf\u00e9")).encode("latin-1").replace(b"\\u00e9", b"\xe9")
        + b"\n"
    )
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [latin])
    assert err.value.line == 2 and "UTF-8" in str(err.value)

    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        import_sources(catalog_store, [empty])

    huge = tmp_path / "huge.csv"
    huge.write_text(
        'id,student,k,skills,topic,text\ng1,m1,2,metaphor|irony,Kites,"' + "x" * 10_000_000 + '"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [huge])
    assert err.value.line == 2 and str(huge) in str(err.value)
    huge_jsonl = write_jsonl(tmp_path / "huge.jsonl", [gen(1), gen(2, text="y" * 10_000_000)])
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [huge_jsonl])
    assert err.value.line == 2
    assert dump(catalog_store) == before


def test_generic_verdicts_import_is_idempotent_and_corrections_append(catalog_store, tmp_path):
    import_sources(catalog_store, [write_jsonl(tmp_path / "g.jsonl", [gen(1), gen(2)])])
    v = [
        {
            "generation": "g1",
            "grader": "ann",
            "kind": "human",
            "criterion": "skill:metaphor",
            "value": 1,
            "seconds": 4.5,
        },
        {
            "generation": "g1",
            "grader": "judge-x",
            "kind": "judge",
            "criterion": "topic",
            "value": 0,
            "run": 2,
            "raw": "...",
        },
        {"generation": "g2", "grader": "judge-x", "kind": "judge", "criterion": "makes_sense", "value": None},
    ]
    f = write_jsonl(tmp_path / "v.jsonl", v)
    # ann decided one of g1's five criteria: her item is a draft, and the import says so
    drafts = {
        "items_submitted": 0,
        "items_left_as_drafts": 1,
        "drafts_for_example": "g1 (ann)",
        "items_in_audit_draw": "no audit draw yet (gradeapp audit draw)",
    }
    assert import_sources(catalog_store, [f])[str(f)] == {
        "verdicts_read": 3,
        "verdicts_added": 3,
        "verdicts_unchanged": 0,
        **drafts,
    }
    assert import_sources(catalog_store, [f])[str(f)] == {
        "verdicts_read": 3,
        "verdicts_added": 0,
        "verdicts_unchanged": 3,
        **drafts,
    }
    info = catalog_store.info()["verdicts"]
    assert info == {"judge": {"1": 0, "0": 1, "unparsed": 1}, "human": {"1": 1, "0": 0, "unparsed": 0}}
    v[0]["value"] = 0
    f2 = write_jsonl(tmp_path / "v2.jsonl", v[:1])
    assert import_sources(catalog_store, [f2])[str(f2)]["verdicts_added"] == 1
    assert catalog_store.info()["verdicts"]["human"] == {"1": 0, "0": 1, "unparsed": 0}
    assert catalog_store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 4


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (
            {"generation": "nope", "grader": "a", "kind": "human", "criterion": "topic", "value": 1},
            "generation",
        ),
        ({"generation": "g1", "grader": "a", "kind": "robot", "criterion": "topic", "value": 1}, "kind"),
        (
            {"generation": "g1", "grader": "a", "kind": "human", "criterion": "skill:sarcasm", "value": 1},
            "criterion",
        ),
        ({"generation": "g1", "grader": "a", "kind": "human", "criterion": "topic", "value": 0.5}, "value"),
        (
            {"generation": "g1", "grader": "a", "kind": "human", "criterion": "topic", "value": 1, "run": 0},
            "run",
        ),
    ],
)
def test_bad_verdicts_are_rejected(catalog_store, tmp_path, row, field):
    import_sources(catalog_store, [write_jsonl(tmp_path / "g.jsonl", [gen(1)])])
    before = dump(catalog_store)
    ok = {"generation": "g1", "grader": "a", "kind": "human", "criterion": "topic", "value": 1}
    f = write_jsonl(tmp_path / "v.jsonl", [ok, row])
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [f])
    assert (err.value.line, err.value.field) == (2, field)
    assert dump(catalog_store) == before


def test_a_byte_order_mark_is_accepted_and_nan_is_refused(catalog_store, tmp_path):
    f = tmp_path / "bom.jsonl"
    f.write_bytes(
        b"\xef\xbb\xbf" + json.dumps(gen(1)).encode() + b"\n\n" + json.dumps(gen(2)).encode() + b"\n"
    )
    assert import_sources(catalog_store, [f])[str(f)]["generations_added"] == 2
    bad = tmp_path / "nan.jsonl"
    bad.write_text(json.dumps(gen(3)) + "\n" + '{"id": "g4", "k": NaN}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [bad])
    assert err.value.line == 2 and "not valid JSON" in str(err.value)


def test_reference_verdicts_record_how_their_row_was_matched(ref_store):
    methods = dict(
        ref_store.execute(
            "SELECT COALESCE(match_method, 'none'), COUNT(*) FROM verdicts GROUP BY match_method"
        ).fetchall()
    )
    # the 48 replies' 288 points: 171 rows found by name (see tests/core/test_reply_matching.py), the
    # other criteria are never graded by these replies and stay missing/empty with no method
    assert methods == {"exact": 78, "normalised": 93, "none": 117}
    unmatched = ref_store.execute(
        "SELECT COUNT(*) FROM verdicts WHERE match_method IS NULL AND status NOT IN ('missing', 'empty')"
    ).fetchone()[0]
    assert unmatched == 0


# -- defects of issue 18 and 23: each test failed before its fix ----------------------------------
def test_an_unclosed_quote_is_refused_with_its_line_instead_of_swallowing_the_next_row(
    catalog_store, tmp_path
):
    before = dump(catalog_store)
    csv_file = tmp_path / "gens.csv"
    csv_file.write_text(
        "id,student,k,skills,topic,text\n"
        'g1,m1,2,metaphor|irony,Kites,"an opening quote never closed\n'
        "g2,m1,2,metaphor|irony,Kites,second row\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [csv_file])
    assert (err.value.file, err.value.line) == (str(csv_file), 2)
    assert "quote" in str(err.value)
    assert dump(catalog_store) == before


def test_a_quoted_text_over_several_lines_still_imports_and_a_later_error_names_its_first_line(
    catalog_store, tmp_path
):
    csv_file = tmp_path / "gens.csv"
    csv_file.write_text(
        "id,student,k,skills,topic,text\n"
        'g1,m1,2,metaphor|irony,Kites,"two\nlines"\n'
        "g2,m1,2,metaphor|irony,Bees,one line\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [csv_file])
    assert (err.value.line, err.value.field) == (4, "topic")
    csv_file.write_text(
        'id,student,k,skills,topic,text\ng1,m1,2,metaphor|irony,Kites,"two\nlines"\n', encoding="utf-8"
    )
    assert import_sources(catalog_store, [csv_file])[str(csv_file)]["generations_added"] == 1


def test_a_column_named_twice_in_a_wide_csv_is_refused(catalog_store, tmp_path):
    import_sources(catalog_store, [write_jsonl(tmp_path / "g.jsonl", [gen(1)])])
    before = dump(catalog_store)
    wide = tmp_path / "wide.csv"
    wide.write_text("generation,grader,topic,skill:metaphor,topic\ng1,ann,1,1,0\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [wide])
    assert (err.value.file, err.value.line, err.value.field) == (str(wide), 1, "topic")
    assert dump(catalog_store) == before


def test_a_bad_cell_of_a_wide_csv_names_its_column(catalog_store, tmp_path):
    import_sources(catalog_store, [write_jsonl(tmp_path / "g.jsonl", [gen(1)])])
    wide = tmp_path / "wide.csv"
    wide.write_text("generation,grader,skill:metaphor,topic\ng1,ann,1,1\ng1,ann,1,maybe\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [wide])
    assert (err.value.line, err.value.field) == (3, "topic")


def test_a_changed_generation_is_refused_naming_its_line(catalog_store, tmp_path):
    import_sources(catalog_store, [write_jsonl(tmp_path / "g.jsonl", [gen(1), gen(2)])])
    changed = write_jsonl(tmp_path / "changed.jsonl", [gen(1), gen(2, text="another text")])
    with pytest.raises(InputError) as err:
        import_sources(catalog_store, [changed])
    assert (err.value.file, err.value.line, err.value.field) == (str(changed), 2, "id")


def test_run_0_in_a_reference_folder_name_is_refused(store, reference_dir, tmp_path):
    import_catalog(store, [reference_dir])
    student = next((reference_dir / "test").glob("*/*/graded")).parent
    copy = tmp_path / "ref" / student.parent.name / student.name
    shutil.copytree(student, copy)
    graded = sorted((copy / "graded").iterdir())
    for extra in graded[1:]:
        shutil.rmtree(extra)
    zero = graded[0].with_name("by_gpt-4_on_text_1_0_gpt")
    graded[0].rename(zero)
    before = dump(store)
    with pytest.raises(InputError) as err:
        import_sources(store, [tmp_path / "ref"])
    assert err.value.file == str(zero) and "run 0" in str(err.value)
    assert dump(store) == before


def test_an_import_takes_the_strict_backup_first(catalog_store, tmp_path):
    before = {b.name for b in backups(catalog_store.path)}
    import_sources(catalog_store, [write_jsonl(tmp_path / "g.jsonl", [gen(1)])])
    taken = [b for b in backups(catalog_store.path) if b.name not in before]
    assert [b.reason for b in taken] == ["import"]
