"""Evidence statistics against hand-computed values, statsmodels, and simulations with known truth."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from gradeapp.core.evidence import GROUNDED, NEAR, NOT_FOUND, ground_quote
from gradeapp.core.evidence_stats import (
    grounded_agreement,
    grounding_table,
    newcombe_difference,
    span_agreement,
    wilson,
)

TEXT = "a b c d e f"  # word i sits at characters [2i, 2i + 1)


def _span(first: int, last: int) -> tuple[int, int]:
    return 2 * first, 2 * last + 1


def test_span_agreement_matches_the_hand_computed_f1_and_alpha():
    rows = [
        ("ann", 1, "topic", *_span(0, 2)),
        ("bob", 1, "topic", *_span(1, 3)),
        ("ann", 2, "topic", *_span(5, 5)),
    ]
    spans = pd.DataFrame(rows, columns=["grader", "generation_id", "criterion", "start", "end"])
    graded = pd.DataFrame(
        [(g, gid, "topic") for g in ("ann", "bob") for gid in (1, 2)],
        columns=["grader", "generation_id", "criterion"],
    )
    table = span_agreement(spans, graded, {1: TEXT, 2: TEXT}, {"ann": "human", "bob": "human"}, bootstrap=50)
    row = table.set_index("pair").loc["person-person"]
    # F1 = 2 (2 + 0) / (3 + 3 + 1 + 0); alpha: 12 tokens, 3 disagree, 7 of 24 values marked:
    # D_o = 6 / 24, D_e = 2 * 7 * 17 / (24 * 23), alpha = 1 - D_o / D_e = 100 / 238.
    assert row["units"] == 2
    assert row["f1"] == pytest.approx(4 / 7)
    assert row["alpha"] == pytest.approx(100 / 238)
    assert row["f1_low"] <= row["f1"] <= row["f1_high"]


def test_a_judge_that_marked_nothing_where_a_person_did_agrees_on_no_token():
    spans = pd.DataFrame(
        [("ann", 1, "topic", 0, 3)], columns=["grader", "generation_id", "criterion", "start", "end"]
    )
    graded = pd.DataFrame(
        [("ann", 1, "topic"), ("gpt", 1, "topic")], columns=["grader", "generation_id", "criterion"]
    )
    table = span_agreement(spans, graded, {1: TEXT}, {"ann": "human", "gpt": "judge"}, bootstrap=0)
    assert table.set_index("pair").loc["person-judge", "f1"] == 0.0


def test_wilson_and_newcombe_match_statsmodels():
    from statsmodels.stats import proportion  # a declared test dependency: imported, never skipped

    low, high = proportion.proportion_confint(17, 40, alpha=0.05, method="wilson")
    assert wilson(17, 40)[1:] == pytest.approx((low, high))
    low, high = proportion.confint_proportions_2indep(30, 40, 12, 25, method="newcomb", compare="diff")
    assert newcombe_difference(30, 40, 12, 25)[1:] == pytest.approx((low, high))


def _simulated_judge(seed: int, n: int = 4000):
    """A judge whose credited points carry a grounded quote 70% of the time; people agree 90% vs 50%."""
    rng = np.random.default_rng(seed)
    verdicts, quotes, human = [], [], []
    for gid in range(n):
        verdicts.append(("gpt", gid, "topic", 1, 3, 1))
        grounded = rng.random() < 0.7
        quotes.append(("gpt", gid, "topic", 1, GROUNDED if grounded else rng.choice([NEAR, NOT_FOUND])))
        human.append((gid, "topic", int(rng.random() < (0.9 if grounded else 0.5))))
    return (
        pd.DataFrame(verdicts, columns=["grader", "generation_id", "criterion", "run", "k", "value"]),
        pd.DataFrame(quotes, columns=["grader", "generation_id", "criterion", "run", "grounding"]),
        pd.DataFrame(human, columns=["generation_id", "criterion", "value"]),
    )


def test_simulated_grounding_share_and_split_agreement_cover_the_truth():
    verdicts, quotes, human = _simulated_judge(seed=3)
    shares = grounding_table(verdicts, quotes).iloc[0]
    assert shares["credited"] == 4000
    assert shares["grounded_low"] <= 0.7 <= shares["grounded_high"]
    split = grounded_agreement(verdicts, quotes, human).iloc[0]
    assert split["agree_grounded_low"] <= 0.9 <= split["agree_grounded_high"]
    assert split["agree_ungrounded_low"] <= 0.5 <= split["agree_ungrounded_high"]
    assert split["difference_low"] <= 0.4 <= split["difference_high"]


def test_a_credited_point_without_quotes_counts_as_no_quote():
    verdicts = pd.DataFrame(
        [("gpt", 1, "topic", 1, 2, 1), ("gpt", 2, "topic", 1, 2, 0)],
        columns=["grader", "generation_id", "criterion", "run", "k", "value"],
    )
    quotes = pd.DataFrame(columns=["grader", "generation_id", "criterion", "run", "grounding"])
    row = grounding_table(verdicts, quotes).iloc[0]
    assert (row["credited"], row["grounded"], row["no_quote"]) == (1, 0.0, 1.0)


def test_simulated_quotes_are_classified_as_they_were_made():
    """Quotes copied from a text, copied with one letter changed, or made up: classified as such."""
    rnd = random.Random(7)
    words = [
        "needle",
        "thread",
        "bobbin",
        "seam",
        "hem",
        "stitch",
        "pattern",
        "fabric",
        "pleat",
        "dart",
        "selvage",
        "bias",
    ]
    wrong = 0
    for _ in range(300):
        text = " ".join(rnd.choice(words) for _ in range(25)).capitalize() + "."
        start = rnd.randrange(0, 15)
        quote = " ".join(text.split()[start : start + 6])
        kind = rnd.choice([GROUNDED, NEAR, NOT_FOUND])
        if kind == NEAR:
            pos = rnd.randrange(len(quote) // 3, len(quote))
            quote = quote[:pos] + ("x" if quote[pos] != "x" else "y") + quote[pos + 1 :]
        elif kind == NOT_FOUND:
            quote = "the quick brown fox jumps over the lazy dog"
        found = ground_quote(quote.upper() if rnd.random() < 0.5 else quote, text)
        wrong += found.grounding != kind and not (kind == NEAR and found.grounding == GROUNDED)
    # A changed letter can recreate a word found elsewhere in such a repetitive text, so allow a few.
    assert wrong <= 3
