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
