"""One call for every number of the judge audit: what `gradeapp stats`, the export and the desk show."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pandas as pd

from gradeapp.agreement import agreement_table, human_human, judge_self_consistency, skillmix_table
from gradeapp.audit import AuditData, load_audit_data
from gradeapp.calibration import calibrate, plan_audit


@dataclass
class StatsOptions:
    """The switches of a statistics run (all have the paper's defaults)."""

    judge: str | None = None
    draw: str | None = None
    exclude_common: bool = True
    naming_penalty: bool = True
    program_sentence_limit: bool = True
    confidence: float = 0.95
    threshold: float = 0.5
    bootstrap: int = 1000
    seed: int = 0
    target_half_width: float = 0.05


@dataclass
class AuditStats:
    """Every table of the audit, with the data snapshot it came from."""

    data: AuditData
    options: StatsOptions
    pass_rates: pd.DataFrame
    agreement: pd.DataFrame
    human_human: pd.DataFrame
    self_consistency: pd.DataFrame
    skillmix: pd.DataFrame
    plan: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict:
        """Return a JSON-ready dict of all tables (NaN as null)."""

        def records(df: pd.DataFrame) -> list[dict]:
            return [
                {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                for row in df.astype(object).where(df.notna(), None).to_dict("records")
            ]

        return {
            "judge": self.data.judge_name,
            "draw": self.data.draw,
            "settings": {
                **self.data.settings,
                "confidence": self.options.confidence,
                "threshold": self.options.threshold,
                "bootstrap": self.options.bootstrap,
                "seed": self.options.seed,
            },
            "exclusions": self.data.exclusions,
            "pass_rates": records(self.pass_rates),
            "agreement": records(self.agreement),
            "human_human": records(self.human_human),
            "judge_self_consistency": records(self.self_consistency),
            "skillmix": records(self.skillmix),
            "audit_plan": records(self.plan),
        }


def compute_stats(store, options: StatsOptions | None = None, data: AuditData | None = None) -> AuditStats:
    """Load a project's verdicts and compute every audit table (read-only apart from the checks cache)."""
    o = options or StatsOptions()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    if data is None:
        data = load_audit_data(
            store,
            judge=o.judge,
            draw=o.draw,
            exclude_common=o.exclude_common,
            naming_penalty=o.naming_penalty,
            program_sentence_limit=o.program_sentence_limit,
        )
    timings["load"] = time.perf_counter() - t
    return compute_from_data(data, o, timings)


def compute_from_data(
    data: AuditData, o: StatsOptions, timings: dict[str, float] | None = None
) -> AuditStats:
    """Compute every audit table from a loaded snapshot."""
    timings = dict(timings or {})
    t = time.perf_counter()
    rates = calibrate(data, confidence=o.confidence, threshold=o.threshold)
    plan = plan_audit(data, o.target_half_width, confidence=o.confidence)
    timings["calibration"] = time.perf_counter() - t
    t = time.perf_counter()
    agree = agreement_table(
        data, bootstrap=o.bootstrap, seed=o.seed, confidence=o.confidence, threshold=o.threshold
    )
    hh = human_human(data, o.confidence)
    sc = judge_self_consistency(data)
    timings["agreement"] = time.perf_counter() - t
    t = time.perf_counter()
    sm = skillmix_table(data)
    timings["skillmix"] = time.perf_counter() - t
    return AuditStats(data, o, rates, agree, hh, sc, sm, plan, timings)
