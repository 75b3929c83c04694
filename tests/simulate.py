"""Build a simulated project with known true pass rates, a judge of given sensitivity and specificity,
and a uniform audit graded by people: for tests, the coverage simulation and the benchmark.

People are the truth (optionally with an error rate); each judge run reports a true pass as pass with
probability `sensitivity` and a true fail as fail with probability `specificity`, independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, TOPIC, skill_criterion
from gradeapp.db import audit_store, judge_store, open_project
from gradeapp.db.connection import now_iso
from tests import bulk_sql

CATEGORIES = ("rhetorical", "logical", "literary", "theory of mind", "physical knowledge")


@dataclass
class Simulation:
    """What was built: the project path and the true per-generation scores (the people's verdicts)."""

    path: Path
    truth: pd.DataFrame  # generation_id, student, k, A, B (points passed), the metrics (from the truth)
    draw: dict | None


def simulate_project(
    path: Path,
    *,
    n_generations: int = 2000,
    students: dict[str, float | None] | None = None,
    ks: tuple[int, ...] = (2, 3),
    point_rate: dict[tuple[str, int], float] | None = None,
    sensitivity: float = 0.9,
    specificity: float = 0.8,
    runs: int = 3,
    n_audit: int = 200,
    audit_per_cell: bool = False,
    human_error: float = 0.0,
    second_person: float = 0.0,
    n_skills: int = 40,
    n_topics: int = 20,
    skill_spread: float = 0.0,
    grade_all: bool = False,
    seed: int = 0,
    judges: dict[str, tuple[float, float]] | None = None,
    judge_cost: dict[str, float] | None = None,
    hard_share: float = 0.0,
    hard_error: float = 0.4,
    leniency: float = 0.0,
) -> Simulation:
    """Create a simulated project at path (which must not exist); return its path and the truth.

    judges: several judges on the same generations, name -> (sensitivity, specificity) (default: one judge
    "sim-judge" with `sensitivity` and `specificity`); judge_cost: name -> cost_usd of a recorded job.
    hard_share > 0: that share of generations is hard, where every run errs on every point with probability
    hard_error independently (the runs disagree); on the other generations the runs repeat one draw.
    skill_spread: skills of several difficulties: each skill's pass rate is the cell's moved by a uniform
    offset in [-skill_spread, skill_spread] on the logit scale. leniency: the judge grows more lenient with
    k, its specificity falling by this much per k above the smallest (a lenient judge passes more of the
    harder texts than people do). grade_all: person A grades (and submits)
    every generation, not only the drawn ones (the coverage study draws many audits from one pool).
    """
    from gradeapp.services.audit import draw_audit

    rng = np.random.default_rng(seed)
    students = students or {"small-1b": 1.0, "mid-10b": 10.0, "big-100b": 100.0}
    names = list(students)
    cells = [(s, k) for s in names for k in ks]
    if point_rate is None:
        point_rate = {
            (s, k): min(0.97, 0.75 + 0.07 * i) ** (1 + 0.15 * (k - 2))
            for i, s in enumerate(names)
            for k in ks
        }
    store = open_project(path, name=f"simulated ({n_generations} generations)")
    stamp = now_iso()
    try:
        with bulk_sql.bulk_loading(store):
            store.set_project_value("simulated", "1")
            store.upsert_skills(
                {"name": f"sim skill {i:03d}", "category": CATEGORIES[i % len(CATEGORIES)]}
                for i in range(n_skills)
            )
            store.add_topics(f"sim topic {i:02d}" for i in range(n_topics))
            for s, p in students.items():
                store.set_student(s, p)
            skill_ids = np.array(sorted(store.skill_ids().values()))
            skill_name = {v: k for k, v in store.skill_ids().items()}
            topic_ids = np.array(sorted(store.topic_ids().values()))

            # Three rounds per combination, cells of (nearly) equal size.
            cell_of = np.arange(n_generations) % len(cells)
            combos: dict[tuple, int] = {}
            combo_rows = []
            gen_rows = []
            comb_of_gen = np.empty(n_generations, dtype=np.int64)
            for g in range(n_generations):
                student, k = cells[cell_of[g]]
                rnd = (g // len(cells)) % 3 + 1
                if rnd == 1 or (student, k, "last") not in combos:
                    sk = tuple(int(x) for x in rng.choice(skill_ids, size=k, replace=False))
                    key = (int(rng.choice(topic_ids)), tuple(sorted(sk)))
                    if key not in combos:
                        combos[key] = len(combos) + 1
                        combo_rows.append((combos[key], k, key[0], sk))
                    combos[(student, k, "last")] = combos[key]
                cid = combos[(student, k, "last")]
                comb_of_gen[g] = cid
                gen_rows.append((g + 1, f"sim-{g + 1:06d}", cid, student, rnd, "(simulated text)", stamp))
            bulk_sql.bulk_insert_combinations(store, combo_rows)
            bulk_sql.bulk_insert_generations(store, gen_rows)
            skills_of = {cid: sk for cid, _k, _t, sk in combo_rows}

            # Truth per generation x criterion, the judge's runs, and the checks that fit the truth.
            gen_ids, crits, ks_long, p_long = [], [], [], []
            for g in range(n_generations):
                student, k = cells[cell_of[g]]
                names_g = [skill_criterion(skill_name[s]) for s in skills_of[comb_of_gen[g]]]
                cs = [*names_g, TOPIC, MAKES_SENSE, SENTENCE_LIMIT]
                gen_ids.extend([g + 1] * len(cs))
                crits.extend(cs)
                ks_long.extend([k] * len(cs))
                p_long.extend([point_rate[(student, k)]] * len(cs))
            gen_ids_a = np.array(gen_ids)
            p_arr = np.array(p_long)
            if skill_spread:
                offset = dict(
                    zip(
                        skill_ids.tolist(),
                        rng.uniform(-skill_spread, skill_spread, len(skill_ids)),
                        strict=True,
                    )
                )
                by_name = {skill_criterion(skill_name[s]): offset[s] for s in skill_ids.tolist()}
                shift = np.array([by_name.get(c, 0.0) for c in crits])
                p_arr = 1 / (1 + np.exp(-(np.log(p_arr / (1 - p_arr)) + shift)))
            truth = (rng.random(len(gen_ids)) < p_arr).astype(int)
            is_limit = np.array([c == SENTENCE_LIMIT for c in crits])
            ks_a = np.array(ks_long)
            n_sent = np.where(truth[is_limit] == 1, 1, ks_a[is_limit] + 4)
            bulk_sql.bulk_insert_checks(
                store,
                ((int(g), int(n), int(n), "[]") for g, n in zip(gen_ids_a[is_limit], n_sent, strict=True)),
            )
            # Draws only when asked for, so that the default project keeps its random stream.
            hard_long = (rng.random(n_generations + 1) < hard_share)[gen_ids_a] if hard_share else None
            for jname, (sens, spec) in (judges or {"sim-judge": (sensitivity, specificity)}).items():
                judge = store.grader_id("judge", jname, model=jname, prompt_version="sim")
                shared = rng.random(len(truth)) if hard_share else None
                for run in range(1, runs + 1):
                    u = rng.random(len(truth)) if not hard_share else shared
                    said = np.where(truth == 1, u < sens, u >= spec - leniency * (ks_a - min(ks))).astype(int)
                    if hard_share:
                        err = rng.random(len(truth)) < hard_error
                        said = np.where(hard_long, np.where(err, 1 - truth, truth), said)
                    bulk_sql.bulk_insert_verdicts(
                        store,
                        zip(
                            [judge] * len(truth),
                            gen_ids_a.tolist(),
                            crits,
                            [run] * len(truth),
                            said.tolist(),
                            ["ok"] * len(truth),
                            [stamp] * len(truth),
                            strict=True,
                        ),
                    )
                if judge_cost and jname in judge_cost:
                    job = judge_store.start_job(store, "judge", judge, {"model": jname})
                    judge_store.update_job(
                        store,
                        job,
                        calls=n_generations * runs,
                        failures=0,
                        prompt_tokens=int(judge_cost[jname] * 1e6),
                        completion_tokens=int(judge_cost[jname] * 1e5),
                        cost_usd=judge_cost[jname],
                        status="done",
                        finished=True,
                    )
            truth_long = pd.DataFrame(
                {"generation_id": gen_ids_a, "criterion": crits, "value": truth, "k": ks_a}
            )
        from gradeapp.core.metrics import score_generations

        scores = score_generations(truth_long)
        scores["student"] = [cells[cell_of[g - 1]][0] for g in scores["generation_id"]]
        draw = None
        if grade_all:
            pid = store.grader_id("human", "sim person A")
            with store.atomic():
                bulk_sql.bulk_insert_verdicts(
                    store,
                    (
                        (pid, int(g), c, 1, int(v), "ok", stamp)
                        for g, c, v in zip(gen_ids_a, crits, truth, strict=True)
                    ),
                )
                bulk_sql.bulk_insert_reviews(
                    store, ((pid, int(g), "submit", stamp) for g in np.unique(gen_ids_a))
                )
        if n_audit:
            draw = draw_audit(
                store,
                n_audit,
                design="stratified" if audit_per_cell else "uniform",
                per_cell=audit_per_cell,
                seed=seed,
                name="sim-audit",
            )
            drawn = audit_store.audit_items_df(store, draw["id"])["generation_id"].to_numpy()
            people = {"sim person A": store.grader_id("human", "sim person A")}
            if second_person:
                people["sim person B"] = store.grader_id("human", "sim person B")
            with store.atomic():
                mask = np.isin(gen_ids_a, drawn)
                for name, pid in people.items():
                    which = drawn if name.endswith("A") else drawn[rng.random(len(drawn)) < second_person]
                    m = mask & np.isin(gen_ids_a, which)
                    flip = rng.random(int(m.sum())) < human_error
                    vals = np.where(flip, 1 - truth[m], truth[m])
                    bulk_sql.bulk_insert_verdicts(
                        store,
                        (
                            (pid, int(g), c, 1, int(v), "ok", stamp)
                            for g, c, v in zip(
                                gen_ids_a[m], np.array(crits, dtype=object)[m], vals, strict=True
                            )
                        ),
                    )
                    bulk_sql.bulk_insert_reviews(store, ((pid, int(g), "submit", stamp) for g in which))
        return Simulation(
            path=Path(path),
            truth=scores[
                ["generation_id", "student", "k", "A", "B", "full_marks", "all_skills", "skill_fraction"]
            ],
            draw=draw,
        )
    finally:
        store.close()
