"""Background jobs of the desk's windows: a function run on a QThreadPool, reporting back by signal."""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class JobSignals(QObject):
    finished = Signal(object)
    failed = Signal(str)
    progress = Signal(float, str)
    cancelled = Signal()


class Job(QRunnable):
    """Run a function on the thread pool and report its progress, result, error or cancellation by signal.

    fn receives a progress(fraction, what) callable, which raises Cancelled once cancel() was called.
    """

    def __init__(self, fn) -> None:
        super().__init__()
        # The view owns its jobs: with auto-delete the pool would free the runnable, and with it the
        # signals' QObject of the UI thread, on the worker thread while its signal is still queued.
        self.setAutoDelete(False)
        self.fn = fn
        self.signals = JobSignals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, fraction: float, what: str) -> None:
        if self._cancel.is_set():
            raise _cancelled()
        self.signals.progress.emit(fraction, what)

    def run(self) -> None:
        try:
            result = self.fn(self._progress)
        except _cancelled():
            self.signals.cancelled.emit()
            return
        except Exception as exc:  # reported to the view; the worker thread must not die silently
            self.signals.failed.emit(f"{exc}\n{traceback.format_exc(limit=3)}")
            return
        self.signals.finished.emit(result)


def start_job(pool: QThreadPool, jobs: list[Job], job: Job) -> None:
    """Run a job on a pool, keeping it alive in jobs until the pool is idle again (see Job)."""
    if pool.activeThreadCount() == 0:
        jobs.clear()  # every earlier job has returned from run(): free them here, on this thread
    jobs.append(job)
    pool.start(job)


def _cancelled() -> type[Exception]:
    """Return the exception that stops a computation at its next step (services.stats.Cancelled)."""
    # deferred: the statistics service loads pandas, which the desk's first item does not need
    from gradeapp.services.stats import Cancelled

    return Cancelled
