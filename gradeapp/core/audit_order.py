"""Grade until precise enough: which audited item to serve next, and when a cell's interval is narrow enough.

Order: greedy on the planner's model of the PPI++ half-width, hw(n) = z sqrt(var (1 - rho^2 (1 - n/M)) / n):
the next item always goes to the student x k cell whose predicted half-width is the widest, so the labels go
where they shrink the widest interval first. Within a cell the items come in a seeded random order, so any
prefix of a cell's drawn items is a simple random subsample of them (its inclusion probabilities scale by
one factor per cell and the Hajek weights do not change): stopping early never biases the sample.

Stopping: the "target reached" signal uses an asymptotic confidence sequence (Waudby-Smith, Arbour, Sinha,
Kennedy and Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences", 2021/2024,
the two-sided normal-mixture boundary): estimate +/- sigma sqrt(2 (n rho2 + 1) / (n^2 rho2)
log(sqrt(n rho2 + 1) / alpha)), valid at every n at once, so looking after every label and stopping when its
half-width reaches the target keeps the coverage. rho2 is fixed before grading from the planned audit size
of the cell (the boundary is tightest there); sigma = se sqrt(n) from the PPI++ standard error.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np
import pandas as pd

from gradeapp.core.estimators import z_value


def cs_margin(n: float, rho2: float, alpha: float) -> float:
    """Return the unit-variance two-sided normal-mixture boundary at n (multiply by sigma for a half-width)."""
    if n <= 0 or rho2 <= 0:
        return math.inf
    return math.sqrt(2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha))


def best_rho2(n_opt: float, alpha: float) -> float:
    """Return the mixture parameter that makes the boundary tightest at n_opt."""
    a = -2 * math.log(alpha)
    return (a + math.log(a + 1)) / max(n_opt, 1.0)


def confidence_sequence(
    estimate: float, se: float, n: int, n_planned: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Return (low, high, half-width) of the anytime-valid interval at n audited items (NaN without se).

    sigma is at least sqrt(q (1 - q)) with q = 1/(n + 2), as if one of the n residuals were a disagreement:
    a run of early items on which judge and people all agree must not read as zero variance.
    """
    if n < 2 or math.isnan(se) or math.isnan(estimate):
        return (math.nan, math.nan, math.nan)
    alpha = 1 - confidence
    q = 1 / (n + 2)
    sigma = max(se * math.sqrt(n), math.sqrt(q * (1 - q)))
    half = sigma * cs_margin(n, best_rho2(n_planned, alpha), alpha)
    return (estimate - half, estimate + half, half)


def items_until_signal(
    sigma: float, n: int, n_planned: int, big_m: int, target: float, confidence: float = 0.95
) -> int:
    """Return how many more items the confidence sequence is expected to need to reach the target half-width.

    sigma: the per-item standard deviation of the estimate (se sqrt(n)); the search stops at the pool size M.
    """
    alpha = 1 - confidence
    rho2 = best_rho2(n_planned, alpha)
    for m in range(max(n, 2), max(big_m, 2) + 1):
        q = 1 / (m + 2)
        if max(sigma, math.sqrt(q * (1 - q))) * cs_margin(m, rho2, alpha) <= target:
            return m - n
    return max(big_m - n, 0)


def predicted_half_width(n: int, var: float, rho: float, big_m: int, confidence: float = 0.95) -> float:
    """Return the planner's PPI++ half-width after n labels (inf without any)."""
    if n <= 0:
        return math.inf
    return z_value(confidence) * math.sqrt(max(var * (1 - rho * rho * (1 - n / big_m)), 0.0) / n)


def widest_first(
    plan: pd.DataFrame, todo: pd.DataFrame, *, confidence: float = 0.95, seed: int = 0
) -> list[int]:
    """Return the generation ids of `todo` in the order that shrinks the widest predicted interval first.

    plan: per student x k: n_audited, n_judged, rho, sd_human (calibration.plan_audit; missing sd or rho are
    planned as 0.5 and 0). todo: generation_id, student, k of the drawn items nobody has graded yet.
    """
    rng = np.random.default_rng(seed)
    queues: dict[tuple[str, int], deque[int]] = {}
    for (student, k), part in todo.groupby(["student", "k"], sort=True):
        ids = part["generation_id"].to_numpy()
        queues[(str(student), int(k))] = deque(int(i) for i in ids[rng.permutation(len(ids))])
    heap = []
    model = {}
    for row in plan.itertuples():
        key = (str(row.student), int(row.k))
        if key not in queues:
            continue
        sd = row.sd_human if row.sd_human == row.sd_human and row.sd_human > 0 else 0.5
        rho = row.rho if row.rho == row.rho else 0.0
        model[key] = (sd * sd, rho, max(int(row.n_judged), 1), int(row.n_audited))
    for key in queues:
        var, rho, big_m, n = model.get(key, (0.25, 0.0, 1 << 30, 0))
        heapq.heappush(heap, (-predicted_half_width(n, var, rho, big_m, confidence), key, n))
    order: list[int] = []
    while heap:
        _, key, n = heapq.heappop(heap)
        order.append(queues[key].popleft())
        if queues[key]:
            var, rho, big_m, _ = model.get(key, (0.25, 0.0, 1 << 30, 0))
            heapq.heappush(heap, (-predicted_half_width(n + 1, var, rho, big_m, confidence), key, n + 1))
    return order
