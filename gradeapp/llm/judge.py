"""Grade generations with an LLM judge: every run asked once, every reply stored raw, nothing guessed.

A judge configuration (model, endpoint host, prompt version and hash, temperature, max tokens) is one
grader. `run_judge` asks it for every generation x run that has no reply yet (API failures leave no
reply, so a re-run redoes them); each reply is parsed by criterion name and stored with its parse
status, and every criterion gets a verdict with its own status (ok, fractional, missing, empty,
unparsed). A reply and its verdicts are written in one transaction, so a crash never leaves half a run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from gradeapp.core.evidence import quote_rows
from gradeapp.core.parsing import parse_judge_reply
from gradeapp.core.prompts import GradingPrompts, grading_prompts, grading_schema, render_grading
from gradeapp.core.rubric import criteria
from gradeapp.db.judge_store import (
    Judgement,
    generation_contexts,
    judge_todo,
    save_judgements,
)
from gradeapp.db.store import Store
from gradeapp.llm.client import Endpoint
from gradeapp.llm.jobs import RunReport, begin_job, record_progress, run_recorded
from gradeapp.llm.pool import PoolStats


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
            **endpoint.provenance,  # a local model: its file's sha256 and the server's version
        },
    )


def judge_request(
    prompts: GradingPrompts, ctx: dict[str, Any], structured: bool = True
) -> tuple[list[dict], dict | None]:
    """Return the messages and the response_format (or None) of one grading call."""
    names = [s["name"] for s in ctx["skills"]]
    prompt = render_grading(prompts, ctx["skills"], ctx["topic"], ctx["text"])
    fmt = (
        grading_schema(criteria(names), quotes=prompts.asks_quotes)
        if prompts.structured and structured
        else None
    )
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
    finish_reason: str | None = None,
) -> Judgement:
    """Parse a raw reply by criterion name into a Judgement (one verdict per criterion, none guessed).

    A reply cut at max_tokens (finish_reason 'length') keeps the points read before the cut, but its
    status starts with 'truncated': it never counts as fully parsed, and --retry-unparsed asks again.
    """
    names = [s["name"] for s in ctx["skills"]]
    parsed = parse_judge_reply(raw, names, ctx["topic"])
    status = f"truncated,{parsed.status}" if finish_reason == "length" else parsed.status
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
        parse_status=status,
        points=points,
        request=request,
        usage=usage,
        retry=retry,
        meta={
            "format": parsed.fmt,
            "evidence": quote_rows(raw, ctx["text"], names, ctx["topic"]),
            "finish_reason": finish_reason,
        },
    )


def request_record(endpoint: Endpoint, messages: list[dict], structured: bool) -> str:
    """Return the JSON record of a grading request as stored with its reply (no key, no base URL)."""
    return json.dumps(
        {
            "model": endpoint.model,
            "temperature": endpoint.temperature,
            "max_tokens": endpoint.max_tokens,
            "response_format": "json_schema" if structured else None,
            "messages": messages,
        },
        ensure_ascii=False,
    )


def _prompt_config(endpoint: Endpoint, prompts: GradingPrompts) -> dict[str, Any]:
    return {**endpoint.public_config(), "prompt_version": prompts.version, "prompt_hash": prompts.hash}


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
    """Ask the judge for each generation x run it has not answered (cancelling keeps finished calls)."""
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
    config = {**_prompt_config(endpoint, prompts), "runs": runs, "retry_unparsed": retry_unparsed}
    config["todo"] = len(todo)
    caller, report = begin_job(store, "judge", grader_id, config, endpoint, client, len(todo), on_start)

    async def work(item: tuple[int, int, bool]) -> Judgement:
        gid, run, retry = item
        ctx = contexts[gid]
        messages, fmt = judge_request(prompts, ctx, structured)
        result = await caller.chat(messages, fmt)
        report.usage.calls += 1
        report.usage.add(result.usage)
        request = request_record(endpoint, messages, result.structured)
        return judgement_from_reply(
            grader_id,
            ctx,
            run,
            result.text,
            request=request,
            usage=result.usage,
            retry=retry,
            finish_reason=result.finish_reason,
        )

    def flush(batch: list[Judgement]) -> int:
        saved = save_judgements(store, batch)
        report.parse_counts.update(j.parse_status for j in batch)
        record_progress(store, report, endpoint)
        return saved

    return await run_recorded(store, report, endpoint, caller, todo, work, flush, on_progress)
