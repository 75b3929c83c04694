"""Build the bundled demo project: our own small catalog, 61 generations, a simulated judge and people.

The demo's texts were written for gradeapp; its judge verdicts are simulated from each text's
recorded truth with a seeded RNG (a lenient judge with a few slips), so that every view of the
desk and every statistic has something real to show without an API key.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from gradeapp.core.rubric import SENTENCE_LIMIT, count_sentences, sentence_limit
from gradeapp.db import open_project
from gradeapp.io.importers import import_generations
from gradeapp.paths import demo_data_dir
from gradeapp.services import guidelines
from gradeapp.services.catalog import import_catalog
from gradeapp.services.scores import ensure_checks

DEMO_NAME = "Skill-Mix demo project (demo)"
DEMO_JUDGE = {
    "model": "demo-judge",
    "prompt_version": "demo",
    "temperature": 0.7,
    "endpoint_host": "demo.invalid",
}
DEMO_PEOPLE = {"ann (demo)": range(1, 13), "ben (demo)": range(7, 17)}
SEED = 20231027


def build_demo(path: Path) -> Path:
    """Create the demo project at path (which must not exist yet); return the path."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(path)
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
            people = {name: store.grader_id("human", name) for name in DEMO_PEOPLE}
            for gen_id, meta_json, text, k in store.execute(
                "SELECT g.id, g.meta, g.text, c.k FROM generations g JOIN combinations c ON c.id = g.combination_id ORDER BY g.id"
            ).fetchall():
                meta = json.loads(meta_json)
                truth = dict(meta["truth"])
                truth[SENTENCE_LIMIT] = int(count_sentences(text) <= sentence_limit(k))
                store.set_student(store.generation(gen_id)["student"], meta.get("params_b"))
                _judge_runs(store, rng, judge, gen_id, truth)
                number = int(store.generation(gen_id)["uid"].split("-")[1])
                for name, items in DEMO_PEOPLE.items():
                    if number in items:
                        _person(store, rng, people[name], gen_id, truth)
        ensure_checks(store)
    finally:
        store.close()
    return path


def _judge_runs(store, rng: random.Random, judge: int, gen_id: int, truth: dict[str, int]) -> None:
    for run in (1, 2, 3):
        points = {}
        for crit, value in truth.items():
            slip = 0.25 if value == 0 else 0.07  # lenient: passes a failing point more often than the reverse
            said = 1 - value if rng.random() < slip else value
            points[crit] = {"pass": said, "reason": "(demo) simulated judge reason"}
        unparsed = rng.random() < 0.03
        raw = "I cannot grade this text." if unparsed else json.dumps(points)
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
            "value": 1 - value if rng.random() < 0.05 else value,
            "seconds": round(seconds / len(truth), 1),
        }
        for crit, value in truth.items()
    )
    store.add_review(grader, gen_id, "submit", seconds=seconds)


def ensure_default_project(path: Path) -> Path:
    """Return path, building a copy of the demo there first if no project exists yet."""
    if not Path(path).exists():
        build_demo(path)
    return Path(path)
