"""Grade generations with an LLM judge: every run asked once, every reply stored raw, nothing guessed.

A judge configuration (model, endpoint host, prompt version and hash, temperature, max tokens) is one
grader. `run_judge` asks it for every generation x run that has no reply yet (API failures leave no
reply, so a re-run redoes them); each reply is parsed by criterion name and stored with its parse
status, and every criterion gets a verdict with its own status (ok, fractional, missing, empty,
unparsed). A reply and its verdicts are written in one transaction, so a crash never leaves half a run.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gradeapp.core.parsing import parse_judge_reply
from gradeapp.core.prompts import GradingPrompts, grading_prompts, grading_schema, render_grading
from gradeapp.core.rubric import criteria
from gradeapp.db.judge_store import (
    Judgement,
    generation_contexts,
    judge_todo,
    save_judgements,
    start_job,
    update_job,
)
from gradeapp.db.store import Store
from gradeapp.llm.client import Caller, Endpoint, PoolStats, Usage, run_pool


@dataclass
class RunReport:
    """What a generation or judging run did, for the CLI's summary and the desk."""

    kind: str
    job_id: int
    grader_id: int | None
    todo: int
    saved: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    seconds: float = 0.0
    interrupted: bool = False
    fatal: str | None = None
    parse_counts: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """Return the one-paragraph summary printed at the end of a run."""
        what = "judge runs" if self.kind == "judge" else "generations"
        parts = [f"{self.saved} of {self.todo} {what} stored in {self.seconds:.1f} s"]
        if self.parse_counts:
            parts.append(
                "parse status " + ", ".join(f"{k} {v}" for k, v in sorted(self.parse_counts.items()))
            )
        if self.failed:
            parts.append(
                f"{self.failed} failed (re-run to retry them): {self.errors[0] if self.errors else ''}"
            )
        cost = "unknown price" if self.cost_usd is None else f"est. ${self.cost_usd:.4f}"
        parts.append(f"tokens {self.usage.prompt_tokens:,} in / {self.usage.completion_tokens:,} out, {cost}")
        return "; ".join(parts)


def judge_grader_id(store: Store, endpoint: Endpoint, prompts: GradingPrompts) -> int:
    """Return the grader of this judge configuration, creating it on first use."""
    return store.grader_id(
        "judge",
        endpoint.model,
        model=endpoint.model,
        endpoint_host=endpoint.host,
        prompt_version=prompts.version,
        prompt_hash=prompts.hash,
        temperature=endpoint.temperature,
        max_tokens=endpoint.max_tokens,
        extra={
            "prompt_source": prompts.source if prompts.source == "builtin" else "folder",
            "structured": prompts.structured,
        },
    )


def judge_request(
    prompts: GradingPrompts, ctx: dict[str, Any], structured: bool = True
) -> tuple[list[dict], dict | None]:
    """Return the messages and the response_format (or None) of one grading call."""
    names = [s["name"] for s in ctx["skills"]]
    prompt = render_grading(prompts, ctx["skills"], ctx["topic"], ctx["text"])
    fmt = grading_schema(criteria(names)) if prompts.structured and structured else None
    return [{"role": "user", "content": prompt}], fmt


def judgement_from_reply(
    grader_id: int,
    ctx: dict[str, Any],
    run: int,
    raw: str,
    *,
    request: str | None = None,
    usage: dict | None = None,
    retry: bool = False,
) -> Judgement:
    """Parse a raw reply by criterion name into a Judgement (one verdict per criterion, none guessed)."""
    names = [s["name"] for s in ctx["skills"]]
    parsed = parse_judge_reply(raw, names, ctx["topic"])
    points = [
        {
            "criterion": crit,
            "value": p.value,
            "raw_value": p.raw_value,
            "status": p.status,
            "reason": p.reason,
            "match_method": p.match,
        }
        for crit, p in parsed.points.items()
    ]
    return Judgement(
        grader_id=grader_id,
        generation_id=ctx["id"],
        run=run,
        raw=raw,
        parse_status=parsed.status,
        points=points,
        request=request,
        usage=usage,
        retry=retry,
        meta={"format": parsed.fmt},
    )


async def run_judge(
    store: Store,
    endpoint: Endpoint,
    prompts: GradingPrompts | None = None,
    *,
    runs: int = 3,
    retry_unparsed: bool = False,
    students: Sequence[str] | None = None,
    generation_ids: Sequence[int] | None = None,
    limit: int | None = None,
    structured: bool = True,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[PoolStats], None] | None = None,
    client=None,
) -> RunReport:
    """Ask the judge for every generation x run it has not answered; return what was done.

    Cancelling the task keeps every finished call and drops the ones in flight.
    """
    prompts = prompts or grading_prompts()
    grader_id = judge_grader_id(store, endpoint, prompts)
    todo = judge_todo(
        store,
        grader_id,
        runs,
        retry_unparsed=retry_unparsed,
        students=students,
        generation_ids=generation_ids,
        limit=limit,
    )
    contexts = generation_contexts(store, {gid for gid, _, _ in todo})
    config = {
        **endpoint.public_config(),
        "prompt_version": prompts.version,
        "prompt_hash": prompts.hash,
        "runs": runs,
        "retry_unparsed": retry_unparsed,
        "todo": len(todo),
    }
    caller, report = begin_job(store, "judge", grader_id, config, endpoint, client, len(todo), on_start)

    async def work(item: tuple[int, int, bool]) -> Judgement:
        gid, run, retry = item
        ctx = contexts[gid]
        messages, fmt = judge_request(prompts, ctx, structured)
        result = await caller.chat(messages, fmt)
        report.usage.calls += 1
        report.usage.add(result.usage)
        request = json.dumps(
            {
                "model": endpoint.model,
                "temperature": endpoint.temperature,
                "max_tokens": endpoint.max_tokens,
                "response_format": "json_schema" if result.structured else None,
                "messages": messages,
            },
            ensure_ascii=False,
        )
        return judgement_from_reply(
            grader_id, ctx, run, result.text, request=request, usage=result.usage, retry=retry
        )

    def flush(batch: list[Judgement]) -> int:
        saved = save_judgements(store, batch)
        report.parse_counts.update(j.parse_status for j in batch)
        _update(store, report, endpoint)
        return saved

    return await run_recorded(store, report, endpoint, caller, todo, work, flush, on_progress)


def begin_job(
    store: Store,
    kind: str,
    grader_id: int | None,
    config: dict[str, Any],
    endpoint: Endpoint,
    client: Any,
    todo: int,
    on_start: Callable[[int], None] | None,
) -> tuple[Caller, RunReport]:
    """Make the client, then record the job (a missing key fails before a job is recorded); tell on_start."""
    caller = Caller(endpoint, client=client)
    job_id = start_job(store, kind, grader_id, config)
    report = RunReport(kind=kind, job_id=job_id, grader_id=grader_id, todo=todo)
    if on_start is not None:
        on_start(todo)
    return caller, report


async def run_recorded(
    store: Store,
    report: RunReport,
    endpoint: Endpoint,
    caller: Caller,
    todo: Sequence[Any],
    work: Callable,
    flush: Callable,
    on_progress: Callable | None,
) -> RunReport:
    """Run the calls through the bounded pool, then record how the job ended (also when interrupted)."""
    started = time.perf_counter()
    stats = PoolStats(total=len(todo))
    try:
        await run_pool(todo, work, flush, workers=endpoint.concurrency, on_progress=on_progress, stats=stats)
    except BaseException:
        report.interrupted = True
        raise
    finally:
        report.seconds = time.perf_counter() - started
        _finish(store, report, stats, endpoint)
        await caller.close()
    return report


def _update(store: Store, report: RunReport, endpoint: Endpoint, **kw: Any) -> None:
    report.cost_usd = endpoint.cost(report.usage.prompt_tokens, report.usage.completion_tokens)
    update_job(
        store,
        report.job_id,
        calls=report.usage.calls,
        failures=report.failed,
        prompt_tokens=report.usage.prompt_tokens,
        completion_tokens=report.usage.completion_tokens,
        cost_usd=report.cost_usd,
        **kw,
    )


def _finish(store: Store, report: RunReport, stats: PoolStats, endpoint: Endpoint) -> None:
    report.saved = stats.saved
    report.failed = stats.failed
    report.errors = stats.errors
    report.fatal = stats.fatal
    report.interrupted = report.interrupted or stats.interrupted
    status = "interrupted" if report.interrupted else "failed" if stats.fatal else "done"
    if status == "done" and stats.failed:
        status = "incomplete"
    _update(store, report, endpoint, status=status, finished=True)
