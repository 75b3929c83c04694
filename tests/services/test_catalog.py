import json

import pytest

from gradeapp.errors import InputError
from gradeapp.services.catalog import import_catalog, set_common
from tests.helpers import dump


def test_reference_catalog_imports_with_status_filter(store, reference_dir):
    counts = import_catalog(store, [reference_dir])
    assert counts == {"skills_added": 10, "skills_updated": 0, "topics_added": 10}
    names = [s["name"] for s in store.skills()]
    # names are kept verbatim, odd inner spacing included
    assert "complex question (loaded question with implicit assumption )" in names
    assert import_catalog(store, [reference_dir]) == {
        "skills_added": 0,
        "skills_updated": 0,
        "topics_added": 0,
    }


def test_status_filter_excludes_remove_in_review_and_maybe(store, tmp_path):
    csv = tmp_path / "skills.csv"
    csv.write_text(
        "category,skill,definition,example,comments,status,added by\n"
        "literary,metaphor,d,e,,keep,\n"
        "literary,simile,d,e,,remove,\n"
        "logical,modus ponens,d,e,,in review,\n"
        "logical,modus tollens,d,e,,maybe,\n"
        "logical,red herring,d,e,,,\n",
        encoding="utf-8",
    )
    (tmp_path / "topics.txt").write_text("Kites\n\nClocks\n", encoding="utf-8")
    import_catalog(store, [tmp_path])
    assert [s["name"] for s in store.skills()] == ["metaphor", "red herring"]
    assert store.topics() == ["Kites", "Clocks"]


def test_generic_jsonl_catalog_with_common_flags(store, tmp_path):
    f = tmp_path / "skills.jsonl"
    f.write_text(
        "\n".join(
            json.dumps(x)
            for x in [
                {"name": "metaphor", "category": "literary", "common": True, "frequency": 0.2},
                {"name": "irony", "category": "literary", "definition": "saying the opposite"},
            ]
        ),
        encoding="utf-8",
    )
    import_catalog(store, [f])
    skills = {s["name"]: s for s in store.skills()}
    assert skills["metaphor"]["common"] == 1 and skills["metaphor"]["frequency"] == 0.2
    assert skills["irony"]["common"] == 0
    set_common(store, ["irony"])
    assert {s["name"] for s in store.skills() if s["common"]} == {"metaphor", "irony"}
    with pytest.raises(InputError, match="unknown skill"):
        set_common(store, ["nope"])


@pytest.mark.parametrize(
    ("content", "line", "field"),
    [
        ("name,category\nmetaphor,literary\nirony\n", 3, None),
        ("name,category\nmetaphor,literary\nmetaphor,literary\n", 3, "name"),
        ("name,category\n,literary\n", 2, "name"),
        ('name,category\n"metaphor,literary\n', None, None),
    ],
)
def test_bad_catalog_csv_is_rejected_with_its_line_and_changes_nothing(store, tmp_path, content, line, field):
    store.upsert_skills([{"name": "existing"}])
    before = dump(store)
    f = tmp_path / "skills.csv"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        import_catalog(store, [f])
    assert str(f) in str(err.value)
    if line:
        assert err.value.line == line
    if field:
        assert err.value.field == field
    assert dump(store) == before


def test_wrong_type_in_jsonl_names_the_field(store, tmp_path):
    f = tmp_path / "skills.jsonl"
    f.write_text('{"name": "metaphor"}\n{"name": "irony", "common": "perhaps"}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        import_catalog(store, [f])
    assert (err.value.line, err.value.field) == (2, "common")
    assert store.skills() == []
