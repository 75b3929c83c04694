"""Run calls to a model through a bounded pool of workers, saving finished results in batches.

Shared by generation, judging and the desk's Run dialog: `workers` tasks call `work` for each item, a
flusher hands finished results to `flush` in one transaction at a time, and Ctrl+C (cancellation)
keeps what was finished.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gradeapp.llm.client import CallFailed


@dataclass
class PoolStats:
    """What a pool run did: results saved, calls failed for good, the first error messages."""

    total: int
    saved: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    fatal: str | None = None
    fatal_environment: bool = False  # the fatal failure is the machine's or network's side


async def run_pool(
    items: Sequence[Any],
    work: Callable[[Any], Awaitable[Any]],
    flush: Callable[[list[Any]], int],
    *,
    workers: int,
    on_progress: Callable[[PoolStats], None] | None = None,
    flush_every: float = 0.2,
    flush_max: int = 256,
    stats: PoolStats | None = None,
) -> PoolStats:
    """Run `work` on every item with `workers` tasks; hand finished results to `flush` in batches.

    `flush` runs in a worker thread (so the event loop never waits on a disk sync), one batch at a
    time, and writes a batch in one transaction. A failed call (CallFailed) is counted, not saved.
    On cancellation the finished results are flushed before CancelledError propagates; in-flight
    calls are dropped. A fatal failure (bad key, unknown model, or the first calls all failing)
    stops the pool and is reported in stats.fatal.
    """
    stats = stats if stats is not None else PoolStats(total=len(items))
    pool = _Pool(items, work, flush, workers, on_progress, flush_every, flush_max, stats)
    return await pool.run()


class _Pool:
    """The state of one run_pool call: worker tasks feed `pending`, one flusher task writes it."""

    def __init__(
        self,
        items: Sequence[Any],
        work: Callable[[Any], Awaitable[Any]],
        flush: Callable[[list[Any]], int],
        workers: int,
        on_progress: Callable[[PoolStats], None] | None,
        flush_every: float,
        flush_max: int,
        stats: PoolStats,
    ) -> None:
        self.n_workers = max(1, min(workers, len(items) or 1))
        self.iterator = iter(items)
        self.work, self.flush, self.on_progress = work, flush, on_progress
        self.flush_every, self.flush_max = flush_every, flush_max
        self.stats = stats
        self.pending: list[Any] = []
        self.flushing = 0  # results handed to a flush that has not returned yet
        self.stop = asyncio.Event()
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()
        self.broken: list[BaseException] = []
        self.tasks: list[asyncio.Task] = []
        # a run whose first calls all fail (server down, wrong URL) stops instead of failing every item
        self.give_up_after = max(10, 2 * workers)

    async def run(self) -> PoolStats:
        """Start the workers and the flusher; flush what finished however the run ends."""
        self.tasks = [asyncio.create_task(self.worker()) for _ in range(self.n_workers)]
        flush_task = asyncio.create_task(self.flusher())
        try:
            await asyncio.gather(*self.tasks)
        except asyncio.CancelledError:
            if not self.broken:
                self.stats.interrupted = True
                raise
        finally:
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            self.finished.set()
            self.wake.set()
            # not cancelled by the caller's cancellation: it still writes what finished, then returns
            await asyncio.shield(flush_task)
        if self.broken:
            raise self.broken[0]
        return self.stats

    async def worker(self) -> None:
        """Take items one by one until none is left or the pool stops; queue each result."""
        for item in self.iterator:
            if self.stop.is_set():
                return
            try:
                result = await self.work(item)
            except CallFailed as exc:
                if self._count_failure(exc):
                    return
                continue
            self.pending.append(result)
            if len(self.pending) >= self.flush_max:
                self.wake.set()

    def _count_failure(self, exc: CallFailed) -> bool:
        """Count a failed call; return True when it stops the pool (fatal, or every call failing)."""
        stats = self.stats
        stats.failed += 1
        ok = stats.saved + len(self.pending) + self.flushing
        if not exc.fatal and ok == 0 and stats.failed >= self.give_up_after:
            exc.fatal = True
            exc.args = (f"the first {stats.failed} calls all failed; last: {exc}",)
        if len(stats.errors) < 5:
            stats.errors.append(str(exc))
        if exc.fatal:
            stats.fatal = str(exc)
            stats.fatal_environment = exc.environment
            self.stop.set()
        return exc.fatal

    async def flusher(self) -> None:
        """Write pending results every flush_every seconds (or when flush_max wait); the only writer."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.flush_every)
            self.wake.clear()
            if self.pending and not self.broken:
                await self._write_pending()
            if self.on_progress is not None:
                self.on_progress(self.stats)
            if self.finished.is_set() and (not self.pending or self.broken):
                return

    async def _write_pending(self) -> None:
        batch = self.pending[:]
        del self.pending[:]
        self.flushing = len(batch)
        try:
            await asyncio.to_thread(self._flush_batch, batch)
        except Exception as exc:  # a write that failed: stop rather than call on for nothing
            self.broken.append(exc)
            self.stop.set()
            for t in self.tasks:
                t.cancel()
        self.flushing = 0

    def _flush_batch(self, batch: list[Any]) -> None:
        self.stats.saved += self.flush(batch)
