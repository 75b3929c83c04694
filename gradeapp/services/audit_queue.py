"""The desk's audit mode: serve the drawn items widest interval first, and say when every cell is precise.

Per student x k cell of the active draw: the current PPI++ interval, how many more items the planner expects
for the target half-width, and an anytime-valid interval (a confidence sequence) whose half-width decides
"target reached", so grading until the signal comes keeps the coverage (see gradeapp.core.audit_order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from gradeapp.core.audit_order import confidence_sequence, items_until_signal, widest_first
from gradeapp.core.calibration import calibrate, plan_audit, z_value
from gradeapp.services.audit import load_audit_data

CELL_COLUMNS = [
    "student", "k", "graded", "drawn", "estimate", "ci_low", "ci_high", "half_width",
    "cs_low", "cs_high", "cs_half_width", "left", "extra", "extra_planner", "reached",
]  # fmt: skip


@dataclass
class AuditProgress:
    """Where the audit stands: per cell intervals and what is left, and the order to serve the rest."""

    draw: str | None
    metric: str
    target: float
    cells: pd.DataFrame  # CELL_COLUMNS
    order: list[int]  # drawn generations nobody has graded yet, widest interval first
    all_reached: bool
    message: str


def audit_progress(
    store,
    *,
    draw: str | None = None,
    judge: str | None = None,
    target: float = 0.05,
    confidence: float = 0.95,
    metric: str = "full_marks",
    exclude_common: bool = True,
) -> AuditProgress:
    """Return the audit's progress per student x k cell and the widest-first order of the items left."""
    data = load_audit_data(store, judge=judge, draw=draw, exclude_common=exclude_common)
    if data.draw is None:
        return AuditProgress(None, metric, target, pd.DataFrame(columns=CELL_COLUMNS), [], False,
                             "No audit draw yet: draw one first (gradeapp audit draw).")  # fmt: skip
    items = data.audit_items.merge(
        data.gens[["student", "k"]], left_on="generation_id", right_index=True, how="inner"
    )
    graded = set(data.human_gen.index) if not data.human_gen.empty else set()
    todo = items[~items["generation_id"].isin(graded)]
    drawn = items.groupby(["student", "k"]).size()
    plan = plan_audit(data, target, confidence=confidence, metric=metric)
    rates = calibrate(data, confidence=confidence, metrics=(metric,))
    ppi = rates[rates["estimator"] == "ppi++"].set_index(["student", "k"])
    rows = []
    for cell in plan.itertuples():
        key = (str(cell.student), int(cell.k))
        if key not in drawn.index:
            continue
        left = int((todo["student"].astype(str).eq(key[0]) & todo["k"].eq(key[1])).sum())
        rate = ppi.loc[key] if key in ppi.index else None
        rows.append(_cell_progress(cell, key, rate, int(drawn[key]), left, target, confidence))
    cells = pd.DataFrame(rows, columns=CELL_COLUMNS)
    open_cells = cells.loc[~cells["reached"], ["student", "k"]]
    todo_open = todo.merge(open_cells.assign(student=open_cells["student"].astype(str)), on=["student", "k"])
    order = widest_first(plan, todo_open, confidence=confidence, seed=int(data.draw["id"]))
    all_reached = bool(len(cells)) and bool(cells["reached"].all())
    message = _progress_message(cells, target, all_reached)
    return AuditProgress(data.draw["name"], metric, target, cells, order, all_reached, message)


def _cell_progress(
    cell, key: tuple[str, int], rate, drawn: int, left: int, target: float, confidence: float
) -> dict:
    """Return one student x k cell's progress: its PPI++ interval, the anytime-valid one, what is left."""
    z = z_value(confidence)
    estimate = float(rate["estimate"]) if rate is not None else math.nan
    low = float(rate["ci_low"]) if rate is not None else math.nan
    high = float(rate["ci_high"]) if rate is not None else math.nan
    # the wider side: clipping at 0 or 1 shortens one side only
    half = max(estimate - low, high - estimate) if not math.isnan(estimate) else math.nan
    graded = int(cell.n_audited)
    sequence_low, sequence_high, sequence_half = confidence_sequence(
        estimate, half / z, graded, drawn, confidence
    )
    reached = bool(sequence_half <= target) if not math.isnan(sequence_half) else False
    sd = cell.sd_human if cell.sd_human == cell.sd_human and cell.sd_human > 0 else 0.5
    rho = cell.rho if cell.rho == cell.rho else 0.0
    sigma = half / z * math.sqrt(graded) if graded >= 2 and half == half else sd * math.sqrt(1 - rho * rho)
    extra = 0 if reached else items_until_signal(sigma, graded, drawn, int(cell.n_judged), target, confidence)
    return {
        "student": key[0],
        "k": key[1],
        "graded": graded,
        "drawn": drawn,
        "estimate": estimate,
        "ci_low": low,
        "ci_high": high,
        "half_width": half,
        "cs_low": max(0.0, sequence_low) if not math.isnan(sequence_low) else math.nan,
        "cs_high": min(1.0, sequence_high) if not math.isnan(sequence_high) else math.nan,
        "cs_half_width": sequence_half,
        "left": left,
        "extra": extra,
        "extra_planner": int(cell.extra),
        "reached": reached,
    }


def _progress_message(cells: pd.DataFrame, target: float, all_reached: bool) -> str:
    """Return the one sentence the desk shows under the audit's cells."""
    if all_reached:
        return (
            f"Every student x k cell has reached the target half-width {target:g} (anytime-valid interval): "
            "the audit is precise enough."
        )
    n_open = int((~cells["reached"]).sum())
    short = cells[~cells["reached"] & (cells["extra"] > cells["left"])]
    message = (
        f"{len(cells) - n_open} of {len(cells)} cells reached the target half-width {target:g}; "
        f"about {int(cells['extra'].sum())} more items expected (the anytime-valid interval decides when "
        "a cell is done)."
    )
    if len(short):
        message += f" {len(short)} cells need more items than their draw holds: draw more."
    return message
