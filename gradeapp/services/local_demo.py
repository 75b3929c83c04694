"""The whole pipeline offline: a copy of the demo, fresh texts from the local model, its judge's verdicts.

`run_local_demo` creates a project of its own (a copy of the demo, so its people and their audit are
beside the new texts), samples combinations from the demo's catalog, lets the local model write them
(the two-turn protocol) and judge them (our JSON schema), and fills the checks cache, so that the
desk, `stats` and `export` show them. A re-run on the same project asks only for what is missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gradeapp.db import open_project
from gradeapp.llm.client import Endpoint
from gradeapp.llm.generate import run_generate
from gradeapp.llm.jobs import RunReport
from gradeapp.llm.judge import run_judge
from gradeapp.llm.pool import PoolStats
from gradeapp.services.demo import build_demo
from gradeapp.services.scores import ensure_checks

# k = 2 and 3 (one and two sentences), 10 combinations each, one text each: 20 fresh texts.
DEMO_KS = (2, 3)
DEMO_COMBINATIONS = 10
DEMO_SEED = 19
GENERATE_TEMPERATURE = 0.7  # the paper's students sample; the judge decodes greedily
GENERATE_MAX_TOKENS = 256  # a turn asks for a few sentences; a small model left alone rambles on


@dataclass
class LocalDemoReport:
    """What the pipeline did: the project, the generation run and the judge run."""

    path: Path
    created: bool
    generate: RunReport
    judge: RunReport


async def run_local_demo(
    path: Path,
    endpoint: Endpoint,
    *,
    ks: Sequence[int] = DEMO_KS,
    combinations: int = DEMO_COMBINATIONS,
    judge_runs: int = 1,
    seed: int = DEMO_SEED,
    on_phase: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[PoolStats], None] | None = None,
) -> LocalDemoReport:
    """Create the demo copy at path (unless it exists), generate and judge fresh texts; return what was done.

    endpoint: the local model's (gradeapp.llm.local_server.serve_local); the student writes at
    GENERATE_TEMPERATURE, the judge at the endpoint's own temperature.
    """
    path = Path(path)
    created = not path.exists()
    if created:
        _phase(on_phase, f"copying the demo project to {path}")
        build_demo(path)
    store = open_project(path, create=False)
    store.patient = True
    try:
        _phase(on_phase, f"generating {len(ks) * combinations} texts with {endpoint.model}")
        student = dataclasses.replace(
            endpoint, temperature=GENERATE_TEMPERATURE, max_tokens=GENERATE_MAX_TOKENS
        )
        gen = await run_generate(
            store,
            student,
            ks=ks,
            combinations=combinations,
            rounds=1,
            seed=seed,
            on_start=on_start,
            on_progress=on_progress,
        )
        _phase(on_phase, f"judging them ({judge_runs} run{'s' if judge_runs > 1 else ''} each)")
        judged = await run_judge(
            store,
            endpoint,
            runs=judge_runs,
            students=[student.model],
            on_start=on_start,
            on_progress=on_progress,
        )
        ensure_checks(store)
    finally:
        store.close()
    return LocalDemoReport(path=path, created=created, generate=gen, judge=judged)


def _phase(on_phase: Callable[[str], None] | None, message: str) -> None:
    if on_phase is not None:
        on_phase(message)
