"""Benchmark: import 1,000,000 generations (k = 3) from JSONL into a fresh project.

Compares gradeapp's importer (parse, validate, resolve combinations, insert) with a bare
executemany of the same rows into the same schema, each in a fresh process so that peak memory
(ru_maxrss) is measured per side. Run: python bench/bench_import.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SKILLS = [f"skill {i:03d}" for i in range(101)]
TOPICS = [f"topic {i:03d}" for i in range(100)]
WORDS = [
    "the",
    "kite",
    "rose",
    "over",
    "a",
    "quiet",
    "harbour",
    "while",
    "old",
    "clocks",
    "ticked",
    "and",
    "bread",
    "cooled",
    "by",
    "the",
    "window",
]


N_COMBINATIONS = 20_000  # 1M generations = 20k combinations x 10 students x 5 rounds


def _combination(c: int) -> tuple[list[str], str]:
    rng = random.Random(c)
    return rng.sample(SKILLS, 3), rng.choice(TOPICS)


def _row(i: int, rng: random.Random) -> dict:
    skills, topic = _combination(i // 50 % N_COMBINATIONS)
    return {
        "id": f"bench-{i}",
        "student": f"model-{i % 10}",
        "k": 3,
        "skills": skills,
        "topic": topic,
        "round": 1 + (i // 10) % 5,
        "text": " ".join(rng.choices(WORDS, k=28)).capitalize() + ".",
    }


def make_input(n: int, folder: Path) -> Path:
    path = folder / f"gens-v2-{n}.jsonl"
    if not path.exists():
        rng = random.Random(7)
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(n):
                fh.write(json.dumps(_row(i, rng)) + "\n")
    return path


def _catalog(store) -> None:
    store.upsert_skills([{"name": s} for s in SKILLS])
    store.add_topics(TOPICS)


def run_gradeapp(src: Path, db: Path) -> None:
    from gradeapp.db import open_project
    from gradeapp.io.importers import import_generations

    store = open_project(db)
    _catalog(store)
    t = time.perf_counter()
    import_generations(store, src)
    print(json.dumps({"seconds": time.perf_counter() - t}))


def run_bare(src: Path, db: Path) -> None:
    """Insert the same rows with one executemany, the combinations resolved up front (the floor)."""
    from gradeapp.db import open_project

    store = open_project(db)
    _catalog(store)
    sid, tid = store.skill_ids(), store.topic_ids()
    rng = random.Random(7)
    with open(src, "rb") as fh:
        n = sum(1 for _ in fh)
    rows = [_row(i, rng) for i in range(n)]
    combos = {}
    with store.atomic():
        for r in rows:
            key = (tuple(sid[s] for s in r["skills"]), tid[r["topic"]])
            if key not in combos:
                combos[key] = store.combination_id(*key)
    tuples = (
        (
            r["id"],
            combos[(tuple(sid[s] for s in r["skills"]), tid[r["topic"]])],
            r["student"],
            r["round"],
            None,
            None,
            r["text"],
            "bench",
            None,
            "2026-01-01T00:00:00",
        )
        for r in rows
    )
    t = time.perf_counter()
    with store.atomic():
        store.conn.executemany(
            "INSERT INTO generations(uid, combination_id, student, round, prompt, raw_reply, text, source, meta, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tuples,
        )
    print(json.dumps({"seconds": time.perf_counter() - t}))


def child(mode: str, src: str, db: str) -> None:
    (run_gradeapp if mode == "gradeapp" else run_bare)(Path(src), Path(db))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mb": rss_mb}))


def measure(mode: str, src: Path, folder: Path) -> dict:
    db = folder / f"{mode}.gradeapp"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(src), str(db)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict = {}
    for line in out.splitlines():
        result.update(json.loads(line))
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = Path(tempfile.gettempdir()) / "gradeapp-bench"
    folder.mkdir(exist_ok=True)
    src = make_input(args.n, folder)
    bare = measure("bare", src, folder)
    ours = measure("gradeapp", src, folder)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{__import__('os').cpu_count()} cores"
    )
    print(f"{'import of':<32}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
    for name, r in (("bare executemany (floor)", bare), ("gradeapp import (JSONL)", ours)):
        print(
            f"{name:<32}{args.n:>10,}{r['seconds']:>10.2f}{args.n / r['seconds']:>12,.0f}{r['peak_mb']:>10.0f}"
        )
    ratio = bare["seconds"] / ours["seconds"]
    print(f"speed ratio gradeapp / bare: {ratio:.2f} (target >= 0.50); peak memory target < 500 MB")


if __name__ == "__main__":
    main()
