"""Job records of generation and judging runs: start, progress, how the job ended.

A job row (table `jobs`) records what a run was asked to do (its configuration, never the API key),
the calls, failures, tokens and estimated cost so far, and its final status: done, incomplete (some
calls failed; a re-run redoes them), failed (a fatal error stopped it) or interrupted.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from gradeapp.db.judge_store import mark_interrupted, owned_running_jobs, start_job, update_job
from gradeapp.db.store import Store
from gradeapp.llm.client import Caller, Endpoint, Usage
from gradeapp.llm.pool import PoolStats, run_pool


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
    fatal_environment: bool = False  # refused, unreachable, timed out: the machine's side
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
    settle_dead_jobs(store)
    job_id = start_job(store, kind, grader_id, config, owner=process_owner())
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
        finish_job(store, report, stats, endpoint)
        await caller.close()
    return report


def record_progress(store: Store, report: RunReport, endpoint: Endpoint, **kw: Any) -> None:
    """Write the calls, failures, tokens and estimated cost so far to the job row (kw: status, finished)."""
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


def finish_job(store: Store, report: RunReport, stats: PoolStats, endpoint: Endpoint) -> None:
    """Copy the pool's outcome into the report and record the job's final status."""
    report.saved = stats.saved
    report.failed = stats.failed
    report.errors = stats.errors
    report.fatal = stats.fatal
    report.fatal_environment = stats.fatal_environment
    report.interrupted = report.interrupted or stats.interrupted
    status = "interrupted" if report.interrupted else "failed" if stats.fatal else "done"
    if status == "done" and stats.failed:
        status = "incomplete"
    record_progress(store, report, endpoint, status=status, finished=True)


def process_owner(pid: int | None = None) -> str:
    """Return "host|pid|start time" of a process (this one by default): unique even when a pid is reused."""
    process = psutil.Process(pid or os.getpid())
    return f"{socket.gethostname()}|{process.pid}|{process.create_time():.2f}"


def settle_dead_jobs(store: Store) -> list[int]:
    """Mark interrupted the running jobs whose process has ended on this host; return their ids.

    A process killed by a signal (or a crash, a power cut) never records how its job ended; its
    finished calls are stored, so the job was interrupted. A job run on another host is left alone.
    """
    dead = [job_id for job_id, owner in owned_running_jobs(store) if _owner_gone(owner)]
    if dead:
        mark_interrupted(store, dead)
    return dead


def _owner_gone(owner: str) -> bool:
    host, _, rest = owner.partition("|")
    pid_text, _, _ = rest.partition("|")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        # a reused pid belongs to a process with another start time
        return process_owner(int(pid_text)) != owner or psutil.Process(int(pid_text)).status() == "zombie"
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # not ours to inspect: assume it still runs
        return False
