"""Judge beyond one machine: OpenAI Batch API files, and `vllm run-batch` output files.

`write_batch` writes one JSONL line per pending generation x run, in the Batch API input format:
{"custom_id": "<generation_id>:<grader_id>:<run>", "method": "POST", "url": "/v1/chat/completions",
"body": {...}}. The same file is accepted by `vllm run-batch -i FILE -o OUT --model M`. Output lines
(OpenAI's and vLLM's share the shape {"custom_id", "response": {"status_code", "body"}, "error"}) are
ingested idempotently: a run that already has a reply is never written twice.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gradeapp.core.prompts import GradingPrompts
from gradeapp.db.judge_store import (
    generation_contexts,
    grader_row,
    jobs,
    judge_todo,
    save_judgements,
    start_job,
    update_job,
)
from gradeapp.db.store import Store
from gradeapp.errors import GradeappError, InputError
from gradeapp.llm.client import Endpoint, api_key, redact
from gradeapp.llm.judge import judge_grader_id, judge_request, judgement_from_reply

CHAT_URL = "/v1/chat/completions"
ENDED = {"completed", "failed", "expired", "cancelled"}
BATCH_DISCOUNT = 0.5  # the Batch API's price relative to live calls


def custom_id(generation_id: int, grader_id: int, run: int) -> str:
    """Return the custom_id of one request: generation:grader:run (the project's ids)."""
    return f"{generation_id}:{grader_id}:{run}"


def parse_custom_id(value: str) -> tuple[int, int, int]:
    """Split a custom_id into (generation_id, grader_id, run)."""
    parts = str(value).split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a gradeapp custom_id: {value!r}")
    gid, grader, run = (int(p) for p in parts)
    return gid, grader, run


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def write_batch(
    store: Store,
    endpoint: Endpoint,
    prompts: GradingPrompts,
    *,
    runs: int = 3,
    retry_unparsed: bool = False,
    out: Path | None = None,
    students: Sequence[str] | None = None,
    structured: bool = True,
) -> tuple[Path, int, int]:
    """Write the pending judge requests as Batch API JSONL; return (path, request count, grader id)."""
    grader_id = judge_grader_id(store, endpoint, prompts)
    todo = judge_todo(store, grader_id, runs, retry_unparsed=retry_unparsed, students=students)
    contexts = generation_contexts(store, {gid for gid, _, _ in todo})
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        out = store.path.with_name(f"{store.path.stem}.batch-{grader_id}-{stamp}.jsonl")
    with open(out, "w", encoding="utf-8") as fh:
        for gid, run, _retry in todo:
            messages, fmt = judge_request(prompts, contexts[gid], structured)
            body: dict[str, Any] = {"model": endpoint.model, "messages": messages}
            if endpoint.temperature is not None:
                body["temperature"] = endpoint.temperature
            if endpoint.max_tokens:
                body["max_tokens"] = endpoint.max_tokens
            if fmt is not None:
                body["response_format"] = fmt
            line = {
                "custom_id": custom_id(gid, grader_id, run),
                "method": "POST",
                "url": CHAT_URL,
                "body": body,
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return Path(out), len(todo), grader_id


def _sync_client(endpoint: Endpoint):
    from openai import OpenAI

    return OpenAI(
        api_key=api_key(endpoint),
        base_url=endpoint.url,
        max_retries=endpoint.max_retries,
        timeout=endpoint.timeout,
    )


def submit_batch(
    store: Store, endpoint: Endpoint, path: Path, grader_id: int, *, retry_unparsed: bool = False
) -> str:
    """Upload a batch file and create the batch; record it as a job. Return the batch id."""
    import openai

    client = _sync_client(endpoint)
    try:
        with open(path, "rb") as fh:
            uploaded = client.files.create(file=fh, purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id,
            endpoint=CHAT_URL,
            completion_window="24h",
            metadata={"gradeapp_grader": str(grader_id)},
        )
    except openai.OpenAIError as exc:
        raise GradeappError(
            redact(f"{endpoint.host}: cannot submit the batch ({type(exc).__name__}: {exc})", endpoint)
        ) from None
    finally:
        client.close()
    start_job(
        store,
        "batch",
        grader_id,
        {
            **endpoint.public_config(),
            "base_url": _public_url(endpoint.url),
            "batch_id": batch.id,
            "input_file_id": uploaded.id,
            "file": str(path),
            "retry_unparsed": retry_unparsed,
            "batch_status": batch.status,
        },
    )
    return batch.id


def poll_batches(
    store: Store,
    batch_ids: Sequence[str] = (),
    *,
    wait: bool = False,
    interval: float = 30.0,
    base_url: str | None = None,
) -> Iterator[str]:
    """Check submitted batches; download and ingest each completed one. Yield one line per batch and poll."""
    pending = [j for j in jobs(store, "batch") if j["status"] == "running"]
    if batch_ids:
        pending = [j for j in jobs(store, "batch") if j["config"].get("batch_id") in set(batch_ids)]
        missing = set(batch_ids) - {j["config"].get("batch_id") for j in pending}
        if missing:
            raise GradeappError(f"no batch {sorted(missing)[0]} in this project")
    if not pending:
        yield "no batch waiting"
        return
    while True:
        still = []
        for job in pending:
            line, ended = _poll_one(store, job, base_url)
            yield line
            if not ended:
                still.append(job)
        if not wait or not still:
            return
        pending = still
        time.sleep(interval)


def _poll_one(store: Store, job: dict[str, Any], base_url: str | None) -> tuple[str, bool]:
    import openai

    cfg = job["config"]
    endpoint = Endpoint(
        model=cfg.get("model", ""),
        base_url=base_url or cfg.get("base_url"),
        key_env=cfg.get("key_env", "OPENAI_API_KEY"),
        max_retries=cfg.get("max_retries", 4),
        timeout=cfg.get("timeout", 120.0),
    )
    client = _sync_client(endpoint)
    batch_id = cfg["batch_id"]
    try:
        batch = client.batches.retrieve(batch_id)
        counts = getattr(batch, "request_counts", None)
        progress = f" ({counts.completed}/{counts.total})" if counts and counts.total else ""
        if batch.status not in ENDED:
            return f"batch {batch_id}: {batch.status}{progress}", False
        if batch.status != "completed" or not batch.output_file_id:
            update_job(
                store,
                job["id"],
                calls=0,
                failures=0,
                prompt_tokens=0,
                completion_tokens=0,
                cost_usd=None,
                status=batch.status,
                finished=True,
            )
            return (
                f"batch {batch_id}: {batch.status}; its runs stay pending (re-run judge or batch write)",
                True,
            )
        content = client.files.content(batch.output_file_id).read()
    except openai.OpenAIError as exc:
        raise GradeappError(
            redact(f"{endpoint.host}: cannot poll batch {batch_id} ({type(exc).__name__}: {exc})", endpoint)
        ) from None
    finally:
        client.close()
    out = Path(cfg.get("file") or store.path.with_name(f"{batch_id}.jsonl"))
    out = out.with_name(out.stem + ".output.jsonl")
    out.write_bytes(content)
    counts = ingest_lines(
        store, content.decode("utf-8").splitlines(), retry=bool(cfg.get("retry_unparsed")), source=out
    )
    usage = counts.pop("_usage", {})
    price = endpoint.cost(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
    update_job(
        store,
        job["id"],
        calls=counts["stored"] + counts["already_stored"] + counts["failed"],
        failures=counts["failed"],
        prompt_tokens=usage.get("prompt_tokens", 0),
        completion_tokens=usage.get("completion_tokens", 0),
        cost_usd=None if price is None else price * BATCH_DISCOUNT,
        status="done",
        finished=True,
        config={**cfg, "output": str(out), "batch_status": "completed"},
    )
    summary = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
    return f"batch {batch_id}: completed; {summary}; output kept in {out}", True


def ingest_file(store: Store, path: Path, *, retry: bool = False) -> dict[str, int]:
    """Ingest a Batch API or `vllm run-batch` output JSONL; return counts (stored, already stored, ...)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError("no such file", file=path) from None
    counts = ingest_lines(store, lines, retry=retry, source=path)
    counts.pop("_usage", None)
    return counts


def ingest_lines(store: Store, lines: Iterable[str], *, retry: bool = False, source: Path | str = "") -> dict:
    """Store the replies of batch output lines once each; API errors are counted and left pending."""
    counts: Counter = Counter(stored=0, already_stored=0, failed=0)
    usage = Counter()
    parsed: list[tuple[int, int, int, str, dict | None]] = []
    graders: dict[int, bool] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            gid, grader, run = parse_custom_id(obj.get("custom_id"))
        except (json.JSONDecodeError, ValueError, AttributeError) as exc:
            raise InputError(f"not a batch output line ({exc})", file=str(source), line=number) from None
        if grader not in graders:
            row = grader_row(store, grader)
            graders[grader] = bool(row and row["kind"] == "judge")
        if not graders[grader]:
            raise InputError(
                f"grader {grader} is not a judge of this project",
                file=str(source),
                line=number,
                field="custom_id",
            )
        response = obj.get("response") or {}
        body = response.get("body") if isinstance(response, dict) else None
        try:
            text = body["choices"][0]["message"]["content"] if response.get("status_code") == 200 else None
        except (KeyError, IndexError, TypeError):
            text = None
        if obj.get("error") or text is None:
            counts["failed"] += 1
            continue
        if body.get("usage"):
            usage.update({k: int(body["usage"].get(k) or 0) for k in ("prompt_tokens", "completion_tokens")})
        parsed.append((gid, grader, run, text, body.get("usage")))
    contexts = generation_contexts(store, {p[0] for p in parsed})
    batch = []
    for gid, grader, run, text, use in parsed:
        if gid not in contexts:
            counts["unknown_generation"] += 1
            continue
        batch.append(judgement_from_reply(grader, contexts[gid], run, text, usage=use, retry=retry))
    for start in range(0, len(batch), 500):
        chunk = batch[start : start + 500]
        n = save_judgements(store, chunk)
        counts["stored"] += n
        counts["already_stored"] += len(chunk) - n
    out: dict[str, Any] = dict(counts)
    out["_usage"] = dict(usage)
    return out
