"""The vectorised formula guard gives, cell for cell, what the per-cell guard gives."""

from __future__ import annotations

import pyarrow as pa

from gradeapp.io.tables import neutralise, neutralise_array, neutralise_table, restore

# Every payload the export tests use, and the edges of both patterns.
PAYLOADS = [
    '=HYPERLINK("http://example.invalid","x")',
    "+1+2",
    "-- not a number",
    "@SUM(A1)",
    "'=quoted already",
    "''=twice quoted",
    "+cmd|' /C calc'!A0",
    "@x",
    "=1+2",
    "-0.05",
    "-3",
    "-3\n",
    "+1.5e-3",
    "-.5",
    "-1.",
    "\ttab first",
    "\rcarriage return",
    "plain",
    "'plain",
    "",
    "a=b",
    None,
]


def test_the_array_guard_matches_the_cell_guard_on_every_payload():
    got = neutralise_array(pa.array(PAYLOADS, pa.large_string())).to_pylist()
    assert got == [None if v is None else neutralise(v) for v in PAYLOADS]
    assert [restore(v) for v in got if v is not None] == [v for v in PAYLOADS if v is not None]


def test_a_column_without_any_formula_is_returned_as_it_is():
    safe = pa.array(["judge", "skill:metaphor", None], pa.string())
    assert neutralise_array(safe) is safe


def test_only_text_columns_are_touched():
    table = pa.table({"x": pa.array([-0.05, 1.5]), "s": pa.array(["-0.05", "=1+2"])})
    out = neutralise_table(table)
    assert out.column("x").to_pylist() == [-0.05, 1.5]
    assert out.column("s").to_pylist() == ["-0.05", "'=1+2"]


def test_every_payload_is_guarded_wherever_it_sits_in_sliced_and_chunked_columns():
    filler = ["plain", "", None, "skill:x"]
    for typ in (pa.string(), pa.large_string()):
        for payload in PAYLOADS:
            cells = [*filler, payload, *filler]
            expected = [None if v is None else neutralise(v) for v in cells]
            column = pa.chunked_array([pa.array(cells[:3], typ), pa.array(cells[3:], typ)])
            assert neutralise_array(column).to_pylist() == expected
            # a slice keeps the buffers of the whole array: only the cells inside it count
            whole = pa.array(["=outside", *cells, "@outside"], typ)
            assert neutralise_array(whole.slice(1, len(cells))).to_pylist() == expected


def test_a_formula_in_a_column_of_a_few_distinct_texts_is_found():
    column = pa.array(["ok"] * 1000 + ["=1+2"] + [None] * 10, pa.large_string())
    assert neutralise_array(column).to_pylist()[1000] == "'=1+2"
