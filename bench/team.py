"""Benchmark the team workflow on a synthetic project: assign, merge, re-merge, adjudication, quality.

Run: python bench/team.py [--generations 5000] [--people 3]
Prints one table of wall-clock seconds. Temporary files go to a fresh temp folder.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradeapp.core.rubric import criteria  # noqa: E402
from gradeapp.db import open_project  # noqa: E402
from gradeapp.paths import demo_data_dir  # noqa: E402
from gradeapp.services.adjudication import agreement_table, disagreements  # noqa: E402
from gradeapp.services.catalog import import_catalog  # noqa: E402
from gradeapp.services.quality import annotator_table  # noqa: E402
from gradeapp.services.team import assign, merge_packages  # noqa: E402

OLD_VIEW = (
    "CREATE TEMP VIEW old_current AS SELECT v.* FROM verdicts v WHERE v.id IN (SELECT MAX(id) FROM verdicts "
    "GROUP BY grader_id, generation_id, criterion, run) AND v.status != 'retracted'"
)


def build(path: Path, n: int, rng: random.Random) -> None:
    """Create a project with n generations (k = 3) and a judge with three runs."""
    with open_project(path) as store:
        src = demo_data_dir()
        import_catalog(store, [src / "skills.jsonl", src / "topics.txt"])
        skills, topics = store.skill_ids(), store.topic_ids()
        names = list(skills)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        with store.atomic():
            rows, crits = [], {}
            for i in range(n):
                chosen = rng.sample(names, 3)
                cid = store.combination_id([skills[s] for s in chosen], rng.choice(list(topics.values())))
                crits[i + 1] = criteria(chosen)
                rows.append(
                    (
                        f"g{i:06d}",
                        cid,
                        "student",
                        1,
                        None,
                        None,
                        f"Text number {i}.",
                        "bench",
                        None,
                        t0.isoformat(),
                    )
                )
            store.insert_generations(rows)
            judge = store.grader_id("judge", "bench-judge", model="bench")
            store.add_verdicts(
                {
                    "grader_id": judge,
                    "generation_id": gid,
                    "criterion": c,
                    "run": run,
                    "value": int(rng.random() < 0.7),
                    "reason": "bench",
                    "created": (t0 + timedelta(seconds=gid)).isoformat(),
                }
                for gid, cs in crits.items()
                for c in cs
                for run in (1, 2, 3)
            )


def grade_package(path: Path, person: str, rng: random.Random) -> int:
    """Grade every generation of a package, as the desk would, in one transaction."""
    t = datetime(2026, 2, 1, tzinfo=UTC)
    with open_project(path, create=False) as pkg:
        grader = pkg.grader_id("human", person)
        gens = pkg.execute("SELECT id, combination_id FROM generations").fetchall()
        with pkg.atomic():
            for gid, cid in gens:
                t += timedelta(seconds=20)
                cs = criteria([s["name"] for s in pkg.combination(cid)["skills"]])
                pkg.add_verdicts(
                    {
                        "grader_id": grader,
                        "generation_id": gid,
                        "criterion": c,
                        "value": int(rng.random() < 0.7),
                        "seconds": 3.0,
                        "guideline_version": 1,
                        "created": t.isoformat(),
                    }
                    for c in cs
                )
                pkg.add_review(grader, gid, "submit", seconds=18.0, created=t.isoformat())
        return len(gens)


def timed(label: str, func, rows: list) -> object:
    start = time.perf_counter()
    out = func()
    rows.append((label, time.perf_counter() - start))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generations", type=int, default=5000)
    ap.add_argument("--people", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(1)
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        main_path = Path(tmp) / "main.gradeapp"
        timed(
            f"build {args.generations} generations + 3 judge runs",
            lambda: build(main_path, args.generations, rng),
            rows,
        )
        people = [f"p{i}" for i in range(args.people)]
        with open_project(main_path, create=False) as store:
            report = timed(
                "assign (overlap 0.2)",
                lambda: assign(store, people, Path(tmp) / "pk", overlap=0.2, use_all=True),
                rows,
            )
        paths = [Path(p["path"]) for p in report["packages"]]
        n_items = sum(
            timed(f"grade package {p.stem[-2:]}", lambda p=p, a=a: grade_package(p, a, rng), rows)
            for p, a in zip(paths, people, strict=True)
        )
        with open_project(main_path, create=False) as store:
            added = timed(f"merge {len(paths)} packages", lambda: merge_packages(store, paths), rows)
            timed("merge again (adds nothing)", lambda: merge_packages(store, paths), rows)
            cells = timed("adjudicate list (disagreements)", lambda: disagreements(store), rows)
            timed("agreement table before/after", lambda: agreement_table(store), rows)
            timed("annotators table", lambda: annotator_table(store), rows)
            n_ver = store.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
            timed(
                "count current_verdicts (created rule, 005)",
                lambda: store.execute("SELECT COUNT(*) FROM current_verdicts").fetchone(),
                rows,
            )
            store.execute(OLD_VIEW)
            timed(
                "count current verdicts (old MAX(id) rule)",
                lambda: store.execute("SELECT COUNT(*) FROM old_current").fetchone(),
                rows,
            )
    print(
        f"{n_items} graded items, {sum(r['verdicts_added'] for r in added)} verdicts merged, {n_ver} verdicts in all, "
        f"{len(cells)} disputed cells"
    )
    print(f"{'step':<45} {'seconds':>8}")
    for label, secs in rows:
        print(f"{label:<45} {secs:>8.2f}")


if __name__ == "__main__":
    main()
