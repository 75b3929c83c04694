"""A judge's current points packed per cell (generation x criterion), and everything the audit derives from them.

A cell holds the criterion's code and three bit masks over the judge's runs (bit r-1 for run r): runs
present (a current row exists), parsed (its value is 0 or 1) and passed (its value is 1). Three runs of six
criteria become six cells; the majority, the soft score, each run's own score and the judge's
self-consistency all follow from the masks with array operations, without a row per verdict.

Criterion codes: 1 topic, 2 makes_sense, 3 sentence_limit, SKILL_BASE + skills.id for a skill; codes from
LOCAL_BASE up are given for the length of one load to criteria the catalog does not know.

Rows arrive from SQL packed into one integer each (see db/audit_store.py):
generation_id << 28 | code << 9 | run << 3 | value << 1 | retracted, value 2 meaning no value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gradeapp.core.metrics import METRICS, composite_values
from gradeapp.core.rubric import MAKES_SENSE, SENTENCE_LIMIT, SKILL_PREFIX, TOPIC
from gradeapp.errors import GradeappError

CELL = np.dtype([("code", "<u4"), ("present", "<u4"), ("parsed", "<u4"), ("passed", "<u4")])
FIXED_CODES = {TOPIC: 1, MAKES_SENSE: 2, SENTENCE_LIMIT: 3}
SKILL_BASE = 4
UNKNOWN_CODE = (1 << 19) - 1  # the SQL packing's code for a criterion the catalog does not know
LOCAL_BASE = 1 << 20
MAX_RUNS = 32  # the width of the run masks


def popcount(x: np.ndarray) -> np.ndarray:
    """Return the number of set bits of each element (as int64)."""
    return np.bitwise_count(x).astype(np.int64)


def unpack(packed: np.ndarray) -> tuple[np.ndarray, ...]:
    """Split packed rows into generation_id, code, run, value (-1 = none) and retracted."""
    packed64 = packed.astype(np.int64, copy=False)
    generation_id = packed64 >> 28
    code = (packed64 >> 9) & ((1 << 19) - 1)
    run = (packed64 >> 3) & 63
    value_bits = (packed64 >> 1) & 3
    value = np.where(value_bits == 2, -1, value_bits)
    return generation_id, code, run, value, packed64 & 1


def cells_from_rows(
    gen: np.ndarray, code: np.ndarray, run: np.ndarray, value: np.ndarray, retracted: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (generation_id per cell, cells) from rows in identity order, the current row last.

    Rows of one identity (generation x criterion x run) are adjacent, ordered by the current-verdict rule,
    so the last row of each identity counts; a retracted current row hides the identity.
    """
    n = len(gen)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, CELL)
    if run.max() > MAX_RUNS or run.min() < 1:
        raise GradeappError(
            f"the audit reads judge runs 1 to {MAX_RUNS}; this judge has run {int(run.max())}"
        )
    same_next = np.zeros(n, bool)
    same_next[:-1] = (gen[1:] == gen[:-1]) & (code[1:] == code[:-1]) & (run[1:] == run[:-1])
    keep = ~same_next & (retracted == 0)
    gen, code, run, value = gen[keep], code[keep], run[keep], value[keep]
    if len(gen) == 0:
        return np.zeros(0, np.int64), np.zeros(0, CELL)
    start = np.ones(len(gen), bool)
    start[1:] = (gen[1:] != gen[:-1]) | (code[1:] != code[:-1])
    idx = np.flatnonzero(start)
    bit = np.left_shift(np.uint32(1), (run - 1).astype(np.uint32))
    cells = np.zeros(len(idx), CELL)
    cells["code"] = code[idx]
    cells["present"] = np.bitwise_or.reduceat(bit, idx)
    cells["parsed"] = np.bitwise_or.reduceat(np.where(value >= 0, bit, 0).astype(np.uint32), idx)
    cells["passed"] = np.bitwise_or.reduceat(np.where(value == 1, bit, 0).astype(np.uint32), idx)
    return gen[idx], cells


def code_names(skills: dict[int, str], local: dict[str, int]) -> dict[int, str]:
    """Return code -> criterion for the fixed criteria, the catalog's skills (id -> name) and local codes."""
    names = {code: crit for crit, code in FIXED_CODES.items()}
    names.update({SKILL_BASE + sid: SKILL_PREFIX + name for sid, name in skills.items()})
    names.update({code: crit for crit, code in local.items()})
    return names


class JudgeTables:
    """The judge's side of the audit computed from its cells (the semantics of the pandas loader)."""

    def __init__(
        self,
        cell_gen: np.ndarray,
        cells: np.ndarray,
        names: dict[int, str],
        kmap: pd.Series,
        n_sentences: pd.Series | None,
        named: set[tuple[int, str]],
        *,
        has_checks: bool,
        naming_penalty: bool,
        program_sentence_limit: bool,
    ):
        keep = np.isin(cell_gen, kmap.index.to_numpy())
        self.gen = cell_gen[keep].astype(np.int64)
        c = cells[keep]
        self.code = c["code"].astype(np.int64)
        self.present, self.parsed, self.passed = c["present"], c["parsed"], c["passed"]
        self.n_runs = popcount(self.present)
        self.n_parsed = popcount(self.parsed)
        self.n_pass = popcount(self.passed)
        self.unparsed = int((self.n_runs - self.n_parsed).sum())
        # Per-code facts, looked up through a dense table of the codes in use.
        used, inv = np.unique(self.code, return_inverse=True)
        used_names = np.array([names[int(u)] for u in used], dtype=object)
        self.crit_codes, self.crit_inv, self.crit_names = used, inv, used_names
        self.is_skill = np.array([n.startswith(SKILL_PREFIX) for n in used_names], bool)[inv]
        self.is_limit = (used_names == SENTENCE_LIMIT)[inv] if len(used) else np.zeros(0, bool)
        # Generations in order, each cell's position among them.
        self.gens, self.gpos = np.unique(self.gen, return_inverse=True)
        self.k = kmap.reindex(self.gens).to_numpy(dtype=np.int64)
        self.runset = np.zeros(len(self.gens), np.uint32)
        np.bitwise_or.at(self.runset, self.gpos, self.present)
        self.rules = has_checks and (naming_penalty or program_sentence_limit)
        self.psl = self.rules and program_sentence_limit
        nsent = (
            n_sentences.reindex(self.gens).to_numpy(dtype=float)
            if n_sentences is not None
            else np.full(len(self.gens), np.nan)
        )
        self.rule_known = ~np.isnan(nsent)  # the program decides the sentence limit of this generation
        limit = np.maximum(1, self.k - 1)
        self.rule_value = np.where(self.rule_known, (nsent <= limit).astype(float), np.nan)
        self.named_cell = np.zeros(len(self.gen), bool)
        if self.rules and naming_penalty and named:
            names_of = self.crit_names[self.crit_inv]
            self.named_cell = np.fromiter(
                ((int(g), n) in named for g, n in zip(self.gen, names_of, strict=True)),
                bool,
                len(self.gen),
            )
        # Generations with no sentence-limit cell get one from the rule (NaN where the program has no count).
        has_limit = np.zeros(len(self.gens), bool)
        has_limit[self.gpos[self.is_limit]] = True
        self.added_limit = self.psl & ~has_limit if self.psl else np.zeros(len(self.gens), bool)

    # -- the majority over runs, then the rules ---------------------------------------------------
    def majority(self) -> np.ndarray:
        """Return each cell's majority over its parsed runs (NaN when none parsed), before the rules.

        An unparsed run does not vote; a tie among the parsed runs fails (more than half must pass).
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.n_pass / self.n_parsed
        return np.where(self.n_parsed > 0, (mean > 0.5).astype(float), np.nan)

    def after_rules(self, value: np.ndarray) -> np.ndarray:
        """Apply the program's sentence count and the naming penalty to one value per cell."""
        out = value.copy()
        if self.psl:
            decided = self.is_limit & self.rule_known[self.gpos]
            out[decided] = self.rule_value[self.gpos[decided]]
        out[self.named_cell] = 0.0
        return out

    def scores(self, value: np.ndarray, extra: np.ndarray | None = None) -> pd.DataFrame:
        """Return A, B, k, n_missing and the metrics per generation from one value per cell (+ added limits).

        A metric a missing point (NaN, or no cell) could change is NaN: see metrics.composite_values.
        """
        a, fa, b, fb = self._known(value, np.ones(len(value), bool))
        if extra is not None:  # the added sentence-limit points (not skills)
            b = b + (self.added_limit & (extra == 1))
            fb = fb + (self.added_limit & (extra == 0))
        return _metrics(self.gens, a, fa, b, fb, self.k)

    def _known(self, value: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, ...]:
        """Return per generation the skill points passed and failed and the other points passed and failed."""
        n_generations = len(self.gens)
        passed, failed = use & (value == 1), use & (value == 0)
        skill = self.is_skill
        return tuple(
            np.bincount(self.gpos, weights=weights, minlength=n_generations)
            for weights in (passed & skill, failed & skill, passed & ~skill, failed & ~skill)
        )

    def judge_gen(self) -> tuple[pd.DataFrame, np.ndarray]:
        """Return the per-generation table of the majority (with soft metrics and n_runs) and the cell values."""
        value = self.after_rules(self.majority())
        gen = self.scores(value, self.rule_value if self.psl else None).set_index("generation_id")
        runs = self._run_scores()
        if runs is not None:
            soft, n_runs = runs
            for m in METRICS:
                gen[m + "_soft"] = soft[m]
            for m in METRICS:  # no run decides it: the majority's metric where a rule decided it, else NaN
                gen[m + "_soft"] = gen[m + "_soft"].fillna(gen[m])
            gen["n_runs"] = n_runs if (n_runs > 0).all() else n_runs.astype(float)
        return gen, value

    # -- each run on its own ----------------------------------------------------------------------
    def _run_values(self, run: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (value per cell in this run after the rules, NaN where no row; the row exists)."""
        bit = np.uint32(1 << (run - 1))
        present = (self.present & bit) != 0
        parsed = (self.parsed & bit) != 0
        value = np.where(present & parsed, ((self.passed & bit) != 0).astype(float), np.nan)
        if self.rules:
            if self.psl:
                decided = self.is_limit & self.rule_known[self.gpos]
                value[decided & present] = self.rule_value[self.gpos[decided & present]]
            value[self.named_cell & present] = 0.0
        return value, present

    def _run_scores(self) -> tuple[pd.DataFrame, np.ndarray] | None:
        """Return the mean over runs of each run's own metrics and the count of runs with a parsed point.

        A run's metric follows the composites' rule (a point the run did not parse is missing, and a metric
        it could change is undecided); the mean is over the runs whose metric is decided, NaN if none.
        """
        if len(self.gen) == 0:
            return None
        n_generations = len(self.gens)
        sums = {metric: np.zeros(n_generations) for metric in METRICS}
        used = {metric: np.zeros(n_generations, np.int64) for metric in METRICS}
        count = np.zeros(n_generations, np.int64)
        for run in range(1, MAX_RUNS + 1):
            bit = np.uint32(1 << (run - 1))
            unit = (self.runset & bit) != 0
            if not unit.any():
                continue
            value, present = self._run_values(run)
            a, fa, b, fb = self._known(value, ~np.isnan(value))
            if self.psl:  # a run without a sentence-limit row gets the rule's point
                missing_row = np.ones(n_generations, bool)
                missing_row[self.gpos[self.is_limit & present]] = False
                add = unit & missing_row & self.rule_known
                b = b + (add & (self.rule_value == 1))
                fb = fb + (add & (self.rule_value == 0))
            parsed_any = np.zeros(n_generations, bool)
            parsed_any[self.gpos[((self.parsed & bit) != 0)]] = True
            use = unit & parsed_any
            run_metrics = _metrics(self.gens, a, fa, b, fb, self.k)
            for name in sums:
                metric_values = run_metrics[name].to_numpy()
                decided = use & ~np.isnan(metric_values)
                sums[name] += np.where(decided, metric_values, 0.0)
                used[name] += decided
            count += use
        with np.errstate(invalid="ignore", divide="ignore"):
            soft = pd.DataFrame(
                {
                    metric: np.where(used[metric] > 0, total / np.maximum(used[metric], 1), np.nan)
                    for metric, total in sums.items()
                },
                index=self.gens,
            )
        return soft, count

    # -- the judge with itself --------------------------------------------------------------------
    def run_tally(self, *, after_rules: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Return per cell the parsed runs (n) and their passes, and the (criterion, run) pairs seen.

        after_rules: what the per-run points after the rules say, without a row per run (a decided
        sentence limit is the rule's point in every run of the generation, a named skill is 0 in every
        run it has); otherwise each run's own parsed value, before any rule.
        """
        n = self.n_parsed.copy()
        s = self.n_pass.copy()
        mask = self.parsed.copy()
        if self.rules and after_rules:
            if self.psl:
                decided = self.is_limit & self.rule_known[self.gpos]
                units = popcount(self.runset)[self.gpos]
                n[decided] = units[decided]
                s[decided] = units[decided] * self.rule_value[self.gpos[decided]].astype(np.int64)
                mask[decided] = self.runset[self.gpos[decided]]
            n[self.named_cell] = self.n_runs[self.named_cell]
            s[self.named_cell] = 0
            mask[self.named_cell] = self.present[self.named_cell]
        crit = pd.Categorical.from_codes(self.crit_inv, categories=list(self.crit_names))
        # counts of at most MAX_RUNS runs: one byte each (six million items at a million generations)
        tally = pd.DataFrame(
            {
                "generation_id": self.gen,
                "criterion": crit,
                "n": n.astype(np.uint8),
                "passes": s.astype(np.uint8),
            }
        )
        per_crit = np.zeros(len(self.crit_names), np.uint32)
        np.bitwise_or.at(per_crit, self.crit_inv, mask)
        runs_of = {name: int(m) for name, m in zip(self.crit_names, per_crit, strict=True)}
        if after_rules and self.psl and self.added_limit.any():
            add = self.added_limit & self.rule_known
            units = popcount(self.runset)
            extra = pd.DataFrame(
                {
                    "generation_id": self.gens[add],
                    "criterion": SENTENCE_LIMIT,
                    "n": units[add].astype(np.uint8),
                    "passes": (units[add] * self.rule_value[add].astype(np.int64)).astype(np.uint8),
                }
            )
            tally = pd.concat([tally.astype({"criterion": object}), extra], ignore_index=True)
            runs_of[SENTENCE_LIMIT] = runs_of.get(SENTENCE_LIMIT, 0) | int(
                np.bitwise_or.reduce(self.runset[add])
            )
        tally = tally[tally["n"] > 0].reset_index(drop=True)
        seen = pd.DataFrame(
            [(c, r) for c, m in runs_of.items() for r in range(1, MAX_RUNS + 1) if m >> (r - 1) & 1],
            columns=["criterion", "run"],
        )
        return tally, seen

    # -- rows for the generations people graded ---------------------------------------------------
    def cell_rows(self, which: np.ndarray, value: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Return (judge_own_points, judge_points) restricted to the generations in which."""
        sel = np.isin(self.gen, which)
        names = self.crit_names[self.crit_inv[sel]]
        own = pd.DataFrame(
            {
                "generation_id": self.gen[sel],
                "criterion": names,
                "n_parsed": self.n_parsed[sel],
                "n_runs": self.n_runs[sel],
                "value": self.majority()[sel],
            }
        )
        own["k"] = self.k[self.gpos[sel]]
        with np.errstate(invalid="ignore", divide="ignore"):
            soft = np.where(self.n_parsed > 0, self.n_pass / np.maximum(self.n_parsed, 1), np.nan)
        if self.rules:
            if self.psl:
                decided = self.is_limit & self.rule_known[self.gpos]
                soft[decided] = self.rule_value[self.gpos[decided]]
            soft[self.named_cell] = 0.0
        pts = own.assign(value=value[sel])
        pts["soft"] = soft[sel]
        if self.psl:
            add = self.added_limit & np.isin(self.gens, which)
            pts = pd.concat(
                [
                    pts,
                    pd.DataFrame(
                        {
                            "generation_id": self.gens[add],
                            "criterion": SENTENCE_LIMIT,
                            "value": self.rule_value[add],
                            "k": self.k[add],
                        }
                    ),
                ],
                ignore_index=True,
            )
        pts["soft"] = pts["soft"].fillna(pts["value"])
        return own, pts


def _metrics(
    gens: np.ndarray, a: np.ndarray, fa: np.ndarray, b: np.ndarray, fb: np.ndarray, k: np.ndarray
) -> pd.DataFrame:
    """Return the frame of score_generations(missing="undecided") from the points known passed and failed."""
    values, miss = composite_values(a, fa, b, fb, k, missing="undecided")
    out = pd.DataFrame(
        {"generation_id": gens, "A": a.astype(float), "B": b.astype(float), "k": k, "n_missing": miss}
    )
    for m in METRICS:
        out[m] = values[m]
    return out
