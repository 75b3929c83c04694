"""The audit draw's maths: the designs, the active design's inclusion probabilities, the draw itself.

A draw is a known random design over the judged pool: uniform (a simple random sample of the pool),
stratified by student model x k (optionally also by the judge's verdict, to oversample the rarer
verdict), or active (Poisson sampling with probabilities that grow with the judge's uncertainty). Each
drawn generation carries its stratum and inclusion probability. Pure: a pool in, the drawn items out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gradeapp.core.results import AuditData
from gradeapp.errors import GradeappError

DESIGNS = ("uniform", "stratified", "active")


ACTIVE_FLOOR = 0.65  # share of the active draw's expected size spread uniformly over the pool


def active_probabilities(uncertainty: np.ndarray, size: float, floor: float = ACTIVE_FLOOR) -> np.ndarray:
    """Return inclusion probabilities summing to `size` that grow with the judge's uncertainty.

    pi_i = size * ((1 - floor) * u_i / sum(u) + floor / N): a uniform floor, so every generation can be drawn,
    plus a share proportional to u_i (as in active inference, Zrnic & Candes 2024, where the best pi_i grows
    with the expected error of the prediction). Probabilities above 1 are set to 1 and the surplus is spread
    over the others in the same proportions, until none exceeds 1. Without any uncertainty: uniform.
    """
    u = np.clip(np.nan_to_num(np.asarray(uncertainty, dtype=float), nan=1.0), 0.0, None)
    n_pool = len(u)
    size = min(float(size), float(n_pool))
    if n_pool == 0:
        return u
    share = np.full(n_pool, 1.0 / n_pool) if u.sum() == 0 else u / u.sum()
    raw = (1 - floor) * share + floor / n_pool
    pi = np.zeros(n_pool)
    fixed = np.zeros(n_pool, dtype=bool)
    while True:
        left = size - fixed.sum()
        free = ~fixed
        pi[free] = left * raw[free] / raw[free].sum()
        over = free & (pi >= 1.0)
        if not over.any():
            break
        fixed |= over
        pi[fixed] = 1.0
    return np.clip(pi, 0.0, 1.0)


def judge_uncertainty(soft: np.ndarray) -> np.ndarray:
    """Return the judge's uncertainty 2 * sqrt(s (1 - s)) from its soft score s (the share of runs that pass).

    0 when every run says the same, 1 when the runs split evenly: the standard deviation of one run's
    verdict, which is the expected error of the soft score when the runs are exchangeable.
    """
    s = np.clip(np.asarray(soft, dtype=float), 0.0, 1.0)
    return 2.0 * np.sqrt(s * (1.0 - s))


def generation_uncertainty(data: AuditData, metric: str = "full_marks") -> pd.Series:
    """Return per judged generation how split the judge's runs are: the largest 2 sqrt(s (1 - s)) over its
    criteria (s = share of parsed runs passing the point) and the metric's own soft score.

    One uncertain point makes every composite of the generation uncertain, hence the maximum.
    """
    judge_gen = data.judge_gen
    soft = f"{metric}_soft" if f"{metric}_soft" in judge_gen else metric
    uncertainty = pd.Series(judge_uncertainty(judge_gen[soft].to_numpy(dtype=float)), index=judge_gen.index)
    tally = getattr(data, "judge_run_tally", None)  # every generation's points: parsed runs and passes
    if tally is not None and not tally.empty:
        gid = tally["generation_id"].to_numpy()
        share = tally["passes"].to_numpy(dtype=float) / tally["n"].to_numpy(dtype=float)
    elif not data.judge_points.empty and "soft" in data.judge_points:
        gid = data.judge_points["generation_id"].to_numpy()
        share = data.judge_points["soft"].to_numpy(dtype=float)
    else:
        return uncertainty
    point_max = pd.Series(judge_uncertainty(share)).groupby(gid).max()
    return np.maximum(uncertainty, point_max.reindex(uncertainty.index).fillna(0.0))


def _draw_active_design(pool: pd.DataFrame, size: int, per_cell: bool, floor: float, rng) -> pd.DataFrame:
    """Poisson sampling with the active probabilities: each generation drawn independently with its pi_i."""
    cell = pool["student"].astype(str) + "|k=" + pool["k"].astype(str)
    pi = np.zeros(len(pool))
    if "uncertainty" in pool:
        unc = pool["uncertainty"].to_numpy(dtype=float)
    elif "soft" in pool:
        unc = judge_uncertainty(pool["soft"].to_numpy(dtype=float))
    else:
        raise GradeappError("the active design needs the judge's runs (its uncertainty) in the pool")
    if per_cell:
        for c in sorted(cell.unique()):
            idx = np.flatnonzero((cell == c).to_numpy())
            pi[idx] = active_probabilities(unc[idx], size, floor)
    else:
        pi = active_probabilities(unc, size, floor)
    pi = np.maximum(pi, 1e-12)  # a generation of the pool is never impossible to draw
    picked = rng.random(len(pool)) < pi
    # The stratum is the cell (with per_cell) or the whole pool, not the group of equal probability: the
    # estimators then take the with-replacement variance of the weighted values over the whole cell, with
    # each item's own finite-population factor 1 - pi_i, as for any unequal-probability design. Stratifying
    # by probability group instead conditions on each group's count, but the group of generations whose
    # runs agree gets few labels and much weight, and its small-sample floor then set the interval's width
    # (bench/bench_active.py: 13% narrower than uniform PPI++ on full marks that way, 23% this way).
    stratum = cell if per_cell else pd.Series("all", index=pool.index)
    return pd.DataFrame(
        {
            "generation_id": pool["generation_id"].to_numpy()[picked],
            "stratum": stratum.to_numpy()[picked],
            "inclusion_prob": pi[picked],
        }
    ).reset_index(drop=True)


class DrawSettingError(GradeappError):
    """A draw's setting that cannot be used, said in the domain's words; ``setting`` names which one.

    The command line maps ``setting`` to its flag (size -> --size); the desk to its field.
    """

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(message)


def check_draw_settings(design: str, size: int, by_verdict: bool, floor: float, per_cell: bool) -> None:
    """Raise DrawSettingError when a draw's settings cannot be used together.

    The active design is drawn per cell only: drawn over the whole pool, each cell's number of labels is
    random and the per-cell estimates carried a bias of +0.007 to +0.009 (3 Monte Carlo s.e.) in the
    coverage study (docs/audit.md).
    """
    if design not in DESIGNS:
        raise DrawSettingError("design", f"unknown design {design!r} (choose {' or '.join(DESIGNS)})")
    if size < 1:
        raise DrawSettingError("size", "an audit draw needs a size of at least 1")
    if by_verdict and design != "stratified":
        raise DrawSettingError("by_verdict", "stratifying by the judge's verdict needs the stratified design")
    if design == "active" and not per_cell:
        raise DrawSettingError(
            "per_cell",
            "the active design is drawn per student x k cell only (drawn over the whole pool its estimates "
            "were biased by about +0.008 in the coverage study)",
        )
    if design == "active" and not 0 < floor <= 1:
        raise DrawSettingError("floor", "the active design's uniform floor must be above 0 and at most 1")


def plan_draw(
    pool: pd.DataFrame,
    size: int,
    *,
    design: str = "uniform",
    per_cell: bool = False,
    by_verdict: bool = False,
    seed: int = 0,
    floor: float = ACTIVE_FLOOR,
) -> pd.DataFrame:
    """Draw generations from a pool (generation_id, student, k, verdict); return generation_id, stratum, inclusion_prob.

    uniform: a simple random sample of `size` from the whole pool (per_cell: `size` from each student x k cell).
    stratified: strata student x k (and the judge's verdict with by_verdict), `size` split over cells in
    proportion to their size (per_cell: `size` per cell); with by_verdict each cell's share is split equally
    between the judge's pass and fail strata, which oversamples the rarer verdict.
    active: Poisson sampling, each generation drawn independently with probability pi_i that grows with the
    judge's uncertainty (pool column `uncertainty`, else judge_uncertainty of `soft`) over a uniform floor;
    `size` is the expected number drawn (per cell with per_cell), and pi_i is exactly the probability with
    which it was drawn. Raises DrawSettingError for settings that cannot be used.
    """
    check_draw_settings(design, size, by_verdict, floor, per_cell)
    if pool.empty:
        raise GradeappError("no judged generations to draw from (run the judge or import its verdicts first)")
    rng = np.random.default_rng(seed)
    pool = pool.sort_values("generation_id").reset_index(drop=True)
    if design == "active":
        return _draw_active_design(pool, size, per_cell, floor, rng)
    if design == "uniform" and not per_cell:
        n = min(size, len(pool))
        pick = rng.choice(len(pool), size=n, replace=False)
        out = pool.iloc[np.sort(pick)][["generation_id"]].copy()
        out["stratum"] = "all"
        out["inclusion_prob"] = n / len(pool)
        return out.reset_index(drop=True)
    cell = pool["student"].astype(str) + "|k=" + pool["k"].astype(str)
    alloc = _cell_allocation(cell, size, per_cell)
    split = by_verdict and design == "stratified"
    parts = []
    for name in sorted(alloc.index):
        idx = np.flatnonzero((cell == name).to_numpy())
        want = int(alloc[name])
        if want == 0:
            continue
        if split:
            verdict = pool["verdict"].iloc[idx].fillna(0).astype(int).astype(str)
            parts.extend(_draw_by_verdict(pool, idx, (name + "|judge=" + verdict).to_numpy(), want, rng))
        else:
            parts.append(_drawn(pool, rng.choice(idx, size=want, replace=False), name, want / len(idx)))
    return pd.concat(parts, ignore_index=True).sort_values("generation_id").reset_index(drop=True)


def _cell_allocation(cell: pd.Series, size: int, per_cell: bool) -> pd.Series:
    """Return how many to draw per student x k cell: `size` each, or `size` split in proportion to the cells.

    The proportional split is by largest remainder, at least one per cell when size allows; no cell is
    asked for more generations than it has.
    """
    cell_sizes = cell.value_counts()
    if per_cell:
        alloc = pd.Series(size, index=cell_sizes.index)
    else:
        share = cell_sizes / cell_sizes.sum() * size
        alloc = np.floor(share).astype(int)
        rest = size - alloc.sum()
        if rest > 0:
            order = (share - alloc).sort_values(ascending=False).index[:rest]
            alloc.loc[order] += 1
    return np.minimum(alloc, cell_sizes)


def _draw_by_verdict(pool: pd.DataFrame, idx: np.ndarray, strata: np.ndarray, want: int, rng) -> list:
    """Draw `want` of one cell split equally between its verdict strata, a small stratum's surplus going to
    the other."""
    groups = {name: idx[strata == name] for name in sorted(set(strata.tolist()))}
    base = {name: min(len(g), want // len(groups)) for name, g in groups.items()}
    left = want - sum(base.values())
    for name, g in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        extra = min(left, len(g) - base[name])
        base[name] += extra
        left -= extra
    return [
        _drawn(pool, rng.choice(g, size=base[name], replace=False), name, base[name] / len(g))
        for name, g in groups.items()
        if base[name]
    ]


def _drawn(pool: pd.DataFrame, pick: np.ndarray, stratum: str, prob: float) -> pd.DataFrame:
    """Return the drawn rows of one stratum with their common inclusion probability."""
    return pd.DataFrame(
        {"generation_id": pool["generation_id"].to_numpy()[pick], "stratum": stratum, "inclusion_prob": prob}
    )
