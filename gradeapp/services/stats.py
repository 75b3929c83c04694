"""One call for every number of the judge audit: what `gradeapp stats`, the export and the desk show."""

from __future__ import annotations

import time

from gradeapp.core.agreement import agreement_table, human_human
from gradeapp.core.audit_plan import plan_audit
from gradeapp.core.calibration import calibrate
from gradeapp.core.results import AuditData, AuditStats, StatsOptions
from gradeapp.core.self_consistency import judge_self_consistency
from gradeapp.core.summary import fill_notes, skillmix_table
from gradeapp.db import Store
from gradeapp.services.audit_data import load_audit_data
from gradeapp.services.judge_run_cache import Progress


class Cancelled(Exception):
    """Raised by a progress callback to stop a computation (the desk's Cancel)."""


def compute_stats(
    store: Store,
    options: StatsOptions | None = None,
    data: AuditData | None = None,
    progress: Progress | None = None,
) -> AuditStats:
    """Load a project's verdicts and compute every audit table (read-only apart from the checks and cell caches).

    progress(fraction, what) is called between steps; it may raise Cancelled to stop.
    """
    options = options or StatsOptions()
    step = progress or (lambda _f, _w: None)
    t = time.perf_counter()
    if data is None:
        data = load_data(store, options, progress=lambda f, w: step(0.6 * f, w))
    timings = {"load": time.perf_counter() - t}
    return compute_from_data(data, options, timings, progress=lambda f, w: step(0.6 + 0.4 * f, w))


def load_data(store: Store, options: StatsOptions, progress: Progress | None = None) -> AuditData:
    """Load the snapshot a statistics run with these options computes from (see load_audit_data)."""
    return load_audit_data(store, options, progress=progress)


def compute_from_data(
    data: AuditData,
    options: StatsOptions,
    timings: dict[str, float] | None = None,
    progress: Progress | None = None,
) -> AuditStats:
    """Compute every audit table from a loaded snapshot (progress as in compute_stats)."""
    step = progress or (lambda _f, _w: None)
    timings = dict(timings or {})
    step(0.0, "calibration")
    t = time.perf_counter()
    rates = calibrate(
        data, confidence=options.confidence, threshold=options.threshold, rogan_gladen=options.rogan_gladen
    )
    rates = fill_notes(rates, data)  # a missing estimate says why (reasons of the design stay calibration's)
    plan = plan_audit(data, options.target_half_width, confidence=options.confidence)
    timings["calibration"] = time.perf_counter() - t
    step(0.2, "agreement")
    t = time.perf_counter()
    agree = agreement_table(
        data,
        bootstrap=options.bootstrap,
        seed=options.seed,
        confidence=options.confidence,
        threshold=options.threshold,
    )
    people = human_human(data, options.confidence)
    consistency = judge_self_consistency(data)
    timings["agreement"] = time.perf_counter() - t
    step(0.9, "Skill-Mix table")
    t = time.perf_counter()
    skillmix = skillmix_table(data)
    timings["skillmix"] = time.perf_counter() - t
    step(1.0, "done")
    return AuditStats(data, options, rates, agree, people, consistency, skillmix, plan, timings)
