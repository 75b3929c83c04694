"""The audit's data and results as plain records: what the statistics read and what they return."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class AuditData:
    """Everything the statistics need, loaded once (read-only snapshot of a project)."""

    gens: pd.DataFrame  # index generation_id: uid, student, k, topic, combination_id, round, has_common
    judge_name: str | None
    # judge_points and judge_own_points hold the generations people graded (all the agreement compares).
    judge_points: pd.DataFrame  # generation_id, criterion, value (majority), soft (mean of runs), n_runs
    judge_own_points: pd.DataFrame  # generation_id, criterion, value: the judge's majority before the rules
    # index generation_id: metric columns (majority; NaN where a missing point leaves it undecided),
    # <metric>_soft (mean over the runs that decide it) + n_runs
    judge_gen: pd.DataFrame
    human_points: pd.DataFrame  # grader, generation_id, criterion, value (eligible verdicts only)
    human_consensus: pd.DataFrame  # generation_id, criterion, value: the people's majority after the rules
    human_own_consensus: pd.DataFrame  # the people's majority before the rules
    human_gen: pd.DataFrame  # index generation_id: metric columns from the people's majority, n_people
    human_gen_by_grader: pd.DataFrame  # grader, generation_id, metric columns
    draw: dict | None  # the active audit draw (id, name, design, params)
    audit_items: pd.DataFrame  # generation_id, stratum, inclusion_prob of the active draw
    students: pd.DataFrame  # name, params_b
    categories: pd.Series  # criterion -> skill category
    exclusions: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    # The judge's runs after the rules without a row per run: per generation x criterion the parsed runs
    # (n) and their passes; and every (criterion, run) with a parsed point.
    judge_run_tally: pd.DataFrame | None = None
    judge_run_numbers: pd.DataFrame | None = None
    # The same tally before the rules: each run's own parsed value (the judge's self-consistency).
    judge_raw_tally: pd.DataFrame | None = None
    judge_raw_numbers: pd.DataFrame | None = None


# The one default bootstrap of every surface (stats, the desk, the export, judges compare): the same
# resamples and seed give the same interval wherever a figure is read.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


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
    bootstrap: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED
    target_half_width: float = 0.05
    # Rogan-Gladen is opt-in: biased by -0.01 to -0.08 in the coverage study (docs/audit.md)
    rogan_gladen: bool = False


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
