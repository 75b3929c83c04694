"""Generate Skill-Mix texts with a student model: the two-turn conversation, stored raw.

Combinations are drawn as `gradeapp sample` draws them (same catalog, k, count and seed give the same
combinations, reused when stored). Each combination gets `rounds` generations with the uid
`gen:<student>:<combination_id>:r<round>:<prompt_version>`, so a re-run finds what exists and asks only
for the rest. The graded text is the part of the second reply after the last 'Answer:' and before
'Explanation'; the whole conversation and the raw reply are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gradeapp.core.parsing import extract_answer
from gradeapp.core.prompts import GenerationPrompts, generation_prompts, render_generation
from gradeapp.core.sampling import draw_combinations
from gradeapp.db.judge_store import existing_uids, save_generations
from gradeapp.db.store import Store
from gradeapp.llm.client import Endpoint
from gradeapp.llm.jobs import RunReport, begin_job, record_progress, run_recorded
from gradeapp.llm.pool import PoolStats


def generation_uid(student: str, combination_id: int, round_: int, prompt_version: str) -> str:
    """Return the stable uid of a generation, so that a re-run finds it."""
    return f"gen:{student}:{combination_id}:r{round_}:{prompt_version}"


@dataclass
class GenerationTask:
    uid: str
    combination: dict[str, Any]
    round: int


def plan_combinations(
    store: Store, ks: Sequence[int], n: int, seed: int, *, exclude_common: bool = False
) -> list[int]:
    """Draw n combinations per k (as `gradeapp sample` does), store new ones; return their ids in draw order."""
    skills = [s["name"] for s in store.skills() if not (exclude_common and s["common"])]
    topics = store.topics()
    ids: dict[int, None] = {}  # insertion-ordered and O(1) to test: a list made 10^5 draws quadratic
    with store.atomic():
        sid, tid = store.skill_ids(), store.topic_ids()
        for k in ks:
            for c in draw_combinations(skills, topics, k, n, seed):
                ids.setdefault(store.combination_id([sid[s] for s in c.skills], tid[c.topic], seed))
    return list(ids)


def plan_generations(
    store: Store,
    student: str,
    prompts: GenerationPrompts,
    ks: Sequence[int],
    combinations: int,
    rounds: int,
    seed: int,
    exclude_common: bool,
) -> list[GenerationTask]:
    """Return the (combination, round) texts the student has not written yet, in draw order."""
    combo_ids = plan_combinations(store, ks, combinations, seed, exclude_common=exclude_common)
    wanted = [
        (generation_uid(student, cid, r, prompts.version), cid, r)
        for cid in combo_ids
        for r in range(1, rounds + 1)
    ]
    have = existing_uids(store, (u for u, _, _ in wanted))
    return [GenerationTask(u, store.combination(cid), r) for u, cid, r in wanted if u not in have]


async def run_generate(
    store: Store,
    endpoint: Endpoint,
    prompts: GenerationPrompts | None = None,
    *,
    ks: Sequence[int] = (2, 3, 4),
    combinations: int = 100,
    rounds: int = 3,
    seed: int = 10,
    exclude_common: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[PoolStats], None] | None = None,
    client=None,
) -> RunReport:
    """Generate every missing (combination, round) text with the student model; return what was done."""
    prompts = prompts or generation_prompts()
    student = endpoint.model
    todo = plan_generations(store, student, prompts, ks, combinations, rounds, seed, exclude_common)
    store.set_student(student)
    config = {
        **endpoint.public_config(),
        "prompt_version": prompts.version,
        "prompt_hash": prompts.hash,
        "k": list(ks),
        "combinations": combinations,
        "rounds": rounds,
        "seed": seed,
        "todo": len(todo),
    }
    caller, report = begin_job(store, "generate", None, config, endpoint, client, len(todo), on_start)

    async def work(task: GenerationTask) -> dict[str, Any]:
        combo = task.combination
        messages: list[dict[str, str]] = []
        usage: dict[str, int] = {}
        result = None
        for turn in render_generation(prompts, combo["skills"], combo["topic"]):
            messages.append({"role": "user", "content": turn})
            result = await caller.chat(messages)
            report.usage.calls += 1
            report.usage.add(result.usage)
            for key, value in (result.usage or {}).items():
                usage[key] = usage.get(key, 0) + int(value or 0)
            messages.append({"role": "assistant", "content": result.text})
        reply, finish = (result.text, result.finish_reason) if result is not None else ("", None)
        return generation_row(task, endpoint, prompts, seed, report.job_id, messages, reply, finish, usage)

    def flush(batch: list[dict[str, Any]]) -> int:
        saved = save_generations(store, batch)
        record_progress(store, report, endpoint)
        return saved

    return await run_recorded(store, report, endpoint, caller, todo, work, flush, on_progress)


def generation_row(
    task: GenerationTask,
    endpoint: Endpoint,
    prompts: GenerationPrompts,
    seed: int,
    job_id: int,
    messages: list[dict[str, str]],
    reply: str,
    finish: str | None,
    usage: dict[str, int],
) -> dict[str, Any]:
    """Return the stored row of one finished conversation: the graded answer, the raw reply, how it was made."""
    combo = task.combination
    return {
        "uid": task.uid,
        "combination_id": combo["id"],
        "student": endpoint.model,
        "round": task.round,
        "prompt": json.dumps(messages[:-1], ensure_ascii=False),
        "raw_reply": reply,
        "text": extract_answer(reply),
        "source": f"generate:{endpoint.host}",
        "meta": {
            "model": endpoint.model,
            "endpoint_host": endpoint.host,
            "temperature": endpoint.temperature,
            "max_tokens": endpoint.max_tokens,
            "prompt_version": prompts.version,
            "prompt_hash": prompts.hash,
            "seed": seed,
            "answer_found": "Answer:" in reply,
            "finish_reason": finish,
            "truncated": finish == "length",  # cut at max_tokens: the text may end mid-sentence
            "usage": usage,
            "job_id": job_id,
            **endpoint.provenance,
        },
    }
