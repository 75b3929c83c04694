"""Judge beyond one machine: OpenAI Batch API files, and `vllm run-batch` output files.

`write_batch` writes one JSONL line per pending generation x run, in the Batch API input format:
{"custom_id": "<generation_id>:<grader_id>:<run>", "method": "POST", "url": "/v1/chat/completions",
"body": {...}}. The same file is accepted by `vllm run-batch -i FILE -o OUT --model M`. Output lines
(OpenAI's and vLLM's share the shape {"custom_id", "response": {"status_code", "body"}, "error"}) are
ingested idempotently: a run that already has a reply is never written twice.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
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
from gradeapp.llm.client import Endpoint, api_key, redact, token_count
from gradeapp.llm.judge import judge_grader_id, judge_request, judgement_from_reply

CHAT_URL = "/v1/chat/completions"
ENDED = {"completed", "failed", "expired", "cancelled"}
BATCH_DISCOUNT = 0.5  # the Batch API's price relative to live calls
# OpenAI's batches hold at most 50,000 requests; a file of 10^6 replies is ~20 such batches at once
MAX_INGEST_LINES = 1_000_000


def custom_id(generation_id: int, grader_id: int, run: int) -> str:
    """Return the custom_id of one request: generation:grader:run (the project's ids)."""
    return f"{generation_id}:{grader_id}:{run}"


def parse_custom_id(value: str) -> tuple[int, int, int]:
    """Split a custom_id into (generation_id, grader_id, run)."""
    if not isinstance(value, str):
        raise ValueError(f"not a gradeapp custom_id: {value!r}")
    parts = value.split(":")
    # isascii: str.isdigit() also accepts other scripts' digits, which int() reads
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        raise ValueError(
            f"not a gradeapp custom_id (generation:grader:run, each below 10^18): {value[:80]!r}"
        )
    gid, grader, run = (int(p) for p in parts)
    if run < 1:
        raise ValueError(f"run must be >= 1 in custom_id {value!r}")
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


@contextlib.contextmanager
def _api_errors(endpoint: Endpoint, doing: str) -> Iterator[None]:
    """Turn an OpenAI client error into one GradeappError line, the key redacted."""
    import openai

    try:
        yield
    except openai.OpenAIError as exc:
        raise GradeappError(
            redact(f"{endpoint.host}: cannot {doing} ({type(exc).__name__}: {exc})", endpoint)
        ) from None


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
    client = _sync_client(endpoint)
    try:
        with _api_errors(endpoint, "submit the batch"), open(path, "rb") as fh:
            uploaded = client.files.create(file=fh, purpose="batch")
            batch = client.batches.create(
                input_file_id=uploaded.id,
                endpoint=CHAT_URL,
                completion_window="24h",
                metadata={"gradeapp_grader": str(grader_id)},
            )
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
        with _api_errors(endpoint, f"poll batch {batch_id}"):
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
    finally:
        client.close()
    out = Path(cfg.get("file") or store.path.with_name(f"{batch_id}.jsonl"))
    out = out.with_name(out.stem + ".output.jsonl")
    out.write_bytes(content)
    counts = ingest_lines(store, content.splitlines(), retry=bool(cfg.get("retry_unparsed")), source=out)
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
    """Ingest a Batch API or `vllm run-batch` output JSONL; return counts (stored, already stored, ...).

    All or nothing: a bad line anywhere leaves the project as it was.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; give the batch output file (JSONL)", file=path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError("no such file", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path) from None
    with handle:
        counts = ingest_lines(store, _bounded_lines(handle, path), retry=retry, source=path)
    counts.pop("_usage", None)
    if not any(counts.values()):
        raise InputError("no result lines (an empty file?); give the batch's output JSONL", file=path)
    return counts


def _bounded_lines(handle: BinaryIO, path: Path) -> Iterator[bytes]:
    """Yield the file's lines; refuse past MAX_INGEST_LINES (every reply is held until the one commit)."""
    for number, line in enumerate(handle, 1):
        if number > MAX_INGEST_LINES:
            raise InputError(
                f"more than {MAX_INGEST_LINES:,} lines: split the file and ingest the parts", file=path
            )
        yield line


def _decode(raw: str | bytes, source: str, number: int) -> dict[str, Any]:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                file=source,
                line=number,
            ) from None
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON ({exc.msg} at column {exc.colno})", file=source, line=number
        ) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", file=source, line=number) from None
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", file=source, line=number)
    return obj


def _reply(obj: dict[str, Any], source: str, number: int) -> tuple[str | None, dict | None]:
    """Return (reply text, usage) of one output line, or (None, None) for a failed request."""

    def bad(field: str, expected: str) -> InputError:
        return InputError(f"expected {expected}", file=source, line=number, field=field)

    response = obj.get("response")
    if obj.get("error") or response is None:
        return None, None
    if not isinstance(response, dict):
        raise bad("response", "an object with status_code and body")
    if response.get("status_code") != 200:
        return None, None
    body = response.get("body")
    if not isinstance(body, dict):
        raise bad("response.body", "an object (a chat completion)")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise bad("response.body.choices", "a list of choices")
    message = choices[0].get("message")
    text = message.get("content") if isinstance(message, dict) else None
    if text is not None and not isinstance(text, str):
        raise bad("response.body.choices[0].message.content", "text")
    usage = body.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            raise bad("response.body.usage", "an object of token counts")
        for key in ("prompt_tokens", "completion_tokens"):
            if usage.get(key) is not None and token_count(usage[key]) is None:
                raise bad(f"response.body.usage.{key}", "a whole number of tokens")
        usage = {k: token_count(usage.get(k)) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return text, usage


def ingest_lines(
    store: Store, lines: Iterable[str | bytes], *, retry: bool = False, source: Path | str = ""
) -> dict:
    """Store the replies of batch output lines once each, in one transaction; API errors are counted
    and left pending. A malformed line is an InputError naming it, and nothing is stored."""
    source = str(source)
    counts: Counter = Counter(stored=0, already_stored=0, failed=0)
    usage = Counter()
    parsed: list[tuple[int, int, int, str, dict | None]] = []
    graders: dict[int, bool] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj = _decode(line, source, number)
        try:
            gid, grader, run = parse_custom_id(obj.get("custom_id"))
        except ValueError as exc:
            raise InputError(str(exc), file=source, line=number, field="custom_id") from None
        if grader not in graders:
            row = grader_row(store, grader)
            graders[grader] = bool(row and row["kind"] == "judge")
        if not graders[grader]:
            raise InputError(
                f"grader {grader} is not a judge of this project", file=source, line=number, field="custom_id"
            )
        text, use = _reply(obj, source, number)
        if text is None:
            counts["failed"] += 1
            continue
        if use:
            usage.update({k: use.get(k) or 0 for k in ("prompt_tokens", "completion_tokens")})
        # a server that echoes the key must not get it stored
        parsed.append((gid, grader, run, redact(text), use))
    contexts = generation_contexts(store, {p[0] for p in parsed})
    batch = []
    for gid, grader, run, text, use in parsed:
        if gid not in contexts:
            counts["unknown_generation"] += 1
            continue
        batch.append(judgement_from_reply(grader, contexts[gid], run, text, usage=use, retry=retry))
    with store.atomic():
        n = save_judgements(store, batch)
    counts["stored"] += n
    counts["already_stored"] += len(batch) - n
    out: dict[str, Any] = dict(counts)
    out["_usage"] = dict(usage)
    return out
