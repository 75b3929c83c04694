"""Build the bundled demo project: our own catalog, 163 texts, a judge that errs as real ones do, an audit.

The demo's texts were written or composed for gradeapp (scripts/make_demo_texts.py); each records its
truth. The judge's three runs are simulated from that truth with a seeded RNG the way real judges err:
more lenient as k grows, and blind to subtle skills (theory of mind, modus tollens, understatement,
counterfactuals) more often than to plain ones. An audit draw of 72 texts (6 per student x k) is graded
by two people who overlap on a third of it, so that every view has real numbers without an API key:
calibrated rates with intervals, agreement on n >= 30, people with people.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from pathlib import Path

from gradeapp.core.rubric import SENTENCE_LIMIT, count_sentences, sentence_limit
from gradeapp.db import audit_store, open_project
from gradeapp.io.importers import import_generations
from gradeapp.paths import demo_data_dir
from gradeapp.services import guidelines
from gradeapp.services.audit import draw_audit
from gradeapp.services.catalog import import_catalog
from gradeapp.services.scores import ensure_checks

DEMO_NAME = "Skill-Mix demo project (demo)"
DEMO_JUDGE = {
    "model": "demo-judge",
    "prompt_version": "demo",
    "temperature": 0.7,
    "endpoint_host": "demo.invalid",
}
DEMO_DRAW = "demo audit (demo)"
DEMO_PER_CELL = 6
# Each person grades a slice of the draw (in draw order); the slices overlap on the middle third.
DEMO_PEOPLE = {"ann (demo)": (0.0, 2 / 3), "ben (demo)": (1 / 3, 1.0)}
SUBTLE = {
    "skill:false belief (Sally-Anne test)",
    "skill:second-order belief",
    "skill:modus tollens",
    "skill:understatement",
    "skill:counterfactual reasoning",
    "skill:white lie",
}
SEED = 20231027


def build_demo(path: Path) -> Path:
    """Create the demo project at path (which must not exist yet); return the path.

    Built under a temporary name and linked into place only if nothing is there by then (os.link does not
    replace): two processes making the per-user project on first use at the same moment end with one
    whole demo, never a half-built file that a second process opens and writes to.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(path)
    building = path.with_name(f".{path.name}.{os.getpid()}.building")
    try:
        _fill_demo(building)
        try:
            os.link(building, path)  # FileExistsError when another process was first
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links (FAT, some network shares)
            if path.exists():
                raise FileExistsError(path) from None
            os.replace(building, path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{building}{suffix}").unlink(missing_ok=True)
    return path


def _fill_demo(path: Path) -> None:
    src = demo_data_dir()
    store = open_project(path, name=DEMO_NAME)
    try:
        rng = random.Random(SEED)
        with store.atomic():
            store.set_project_value("demo", "1")
            guidelines.ensure_guidelines(store)
            import_catalog(store, [src / "skills.jsonl", src / "topics.txt"])
            import_generations(store, src / "generations.jsonl")
            judge = store.grader_id("judge", "demo-judge", **DEMO_JUDGE)
            truths: dict[int, dict[str, int]] = {}
            for gen_id in store.generations_df().sort_values("id")["id"].tolist():
                gen = store.generation(int(gen_id))
                truth = dict(gen["meta"]["truth"])
                truth[SENTENCE_LIMIT] = int(count_sentences(gen["text"]) <= sentence_limit(gen["k"]))
                truths[int(gen_id)] = truth
                store.set_student(gen["student"], gen["meta"].get("params_b"))
                _judge_runs(store, rng, judge, int(gen_id), gen["k"], truth)
            report = draw_audit(store, DEMO_PER_CELL, per_cell=True, seed=SEED % 1000, name=DEMO_DRAW)
            drawn = report_items(store, report)
            for name, (lo, hi) in DEMO_PEOPLE.items():
                person = store.grader_id("human", name)
                for gen_id in drawn[round(lo * len(drawn)) : round(hi * len(drawn))]:
                    _person(store, rng, person, gen_id, truths[gen_id])
        ensure_checks(store)
    finally:
        store.close()


def report_items(store, report: dict) -> list[int]:
    """Return the generation ids of the demo's draw in a seeded shuffled order (so slices mix the cells)."""
    items = audit_store.audit_items_df(store)
    ids = sorted(int(i) for i in items["generation_id"])
    random.Random(len(ids) + report.get("n", 0)).shuffle(ids)
    return ids


def _judge_runs(store, rng: random.Random, judge: int, gen_id: int, k: int, truth: dict[str, int]) -> None:
    # One leaning per point (runs agree more often than not), then each run may slip from it.
    leaning = {}
    for crit, value in truth.items():
        if value:
            miss = 0.25 if crit in SUBTLE else 0.04
            leaning[crit] = 0 if rng.random() < miss else 1
        else:
            lenient = 0.15 + 0.12 * (k - 2)  # more lenient as k grows
            leaning[crit] = 1 if rng.random() < lenient else 0
    for run in (1, 2, 3):
        points = {
            crit: {
                "pass": 1 - lean if rng.random() < 0.08 else lean,
                "reason": "(demo) simulated judge reason",
            }
            for crit, lean in leaning.items()
        }
        unparsed = rng.random() < 0.03
        raw = "I cannot grade this text. (demo)" if unparsed else json.dumps(points)
        reply = store.add_reply(judge, gen_id, run, raw, "empty" if unparsed else "ok")
        store.add_verdicts(
            {
                "grader_id": judge,
                "generation_id": gen_id,
                "criterion": crit,
                "run": run,
                "value": None if unparsed else p["pass"],
                "raw_value": None if unparsed else str(p["pass"]),
                "status": "empty" if unparsed else "ok",
                "reply_id": reply,
                "reason": None if unparsed else p["reason"],
                "match_method": None if unparsed else "exact",
            }
            for crit, p in points.items()
        )


def _person(store, rng: random.Random, grader: int, gen_id: int, truth: dict[str, int]) -> None:
    seconds = round(rng.uniform(15, 70), 1)
    store.add_verdicts(
        {
            "grader_id": grader,
            "generation_id": gen_id,
            "criterion": crit,
            "value": 1 - value if rng.random() < 0.04 else value,
            "seconds": round(seconds / len(truth), 1),
        }
        for crit, value in truth.items()
    )
    store.add_review(grader, gen_id, "submit", seconds=seconds)


def ensure_default_project(path: Path) -> Path:
    """Return path, building a copy of the demo there first if no project exists yet."""
    if not Path(path).exists():
        with contextlib.suppress(FileExistsError):  # another process made it first: it is whole
            build_demo(path)
    return Path(path)
