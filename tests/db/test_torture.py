"""The torture test, short: three rounds of real gradeapp processes racing on one project (tests/torture.py).

Seed 19's three rounds hold graders, a judge run, an import, a merge and a restore, and kill -9 four
processes at random moments; `python bench/torture.py --rounds N` plays it long.
"""

from __future__ import annotations

import pytest

from tests.torture import Torture


@pytest.mark.slow
def test_three_rounds_of_racing_processes_keep_every_promise(tmp_path):
    torture = Torture(tmp_path / "torture", seed=19, round_seconds=240.0)
    try:
        results = [torture.play(number) for number in range(3)]
    finally:
        torture.close()
    kinds = {proc.kind for result in results for proc in result.procs}
    assert {"grade", "judge", "import", "merge", "restore"} <= kinds
    assert any(proc.killed for result in results for proc in result.procs)
    found = [f"round {r.number}: {v}" for r in results for v in r.violations]
    assert not found, found
