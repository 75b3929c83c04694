"""The Skill-Mix table straight from a project's current verdicts: the oracle of the audit's table."""

from __future__ import annotations

import pandas as pd

from gradeapp.core.metrics import aggregate, apply_deterministic, majority_vote, score_generations
from gradeapp.db import Store
from gradeapp.services.scores import ensure_checks


def skillmix_scores(
    store: Store,
    *,
    kind: str = "judge",
    grader_id: int | None = None,
    exclude_common: bool = True,
    naming_penalty: bool = True,
    program_sentence_limit: bool = True,
    best_of_rounds: bool = True,
) -> pd.DataFrame:
    """Return the Skill-Mix table from a project's current verdicts (read-only, apart from the checks cache).

    Parameters
    ----------
    store : the project.
    kind : grader kind whose verdicts count ('judge' or 'human').
    grader_id : only this grader's verdicts; None takes every grader of the kind.
    exclude_common, naming_penalty, program_sentence_limit : the reference's rules (see apply_deterministic).
    best_of_rounds : see aggregate.

    Returns
    -------
    pandas.DataFrame
        student, k, metric, mean, se, n (empty with those columns when nothing is graded).
    """
    ensure_checks(store)
    per_gen = generation_table(
        store,
        kind=kind,
        grader_id=grader_id,
        exclude_common=exclude_common,
        naming_penalty=naming_penalty,
        program_sentence_limit=program_sentence_limit,
    )
    if per_gen.empty:
        return pd.DataFrame(columns=["student", "k", "metric", "mean", "se", "n"])
    return aggregate(per_gen, best_of_rounds=best_of_rounds)


def generation_table(
    store: Store,
    *,
    kind: str = "judge",
    grader_id: int | None = None,
    exclude_common: bool = True,
    naming_penalty: bool = True,
    program_sentence_limit: bool = True,
) -> pd.DataFrame:
    """Return per-generation metrics (majority over runs and graders of the kind) with student, k, round.

    Parameters
    ----------
    store : the project (read-only; its checks cache is expected filled, see ensure_checks).
    kind, grader_id, exclude_common, naming_penalty, program_sentence_limit : see skillmix_scores.

    Returns
    -------
    pandas.DataFrame
        The columns of score_generations plus student, round, combination_id, topic; empty when no
        verdict counts.
    """
    v = store.current_verdicts_df(kind=kind)
    if grader_id is not None:
        v = v[v["grader_id"] == grader_id]
    if kind == "human":
        v = v[v["post_reveal"] == 0]
    gens = store.generations_df()
    if exclude_common:
        combos = store.combinations_df()
        common = set(combos.loc[combos["has_common"], "id"])
        gens = gens[~gens["combination_id"].isin(common)]
    v = v[v["generation_id"].isin(gens["id"])]
    if v.empty:
        return pd.DataFrame()
    pts = majority_vote(v)
    pts = pts.merge(gens[["id", "k"]].rename(columns={"id": "generation_id"}), on="generation_id")
    pts = apply_deterministic(
        pts, store.checks_df(), naming_penalty=naming_penalty, program_sentence_limit=program_sentence_limit
    )
    scores = score_generations(pts)
    return scores.merge(
        gens[["id", "student", "round", "combination_id", "topic"]].rename(columns={"id": "generation_id"}),
        on="generation_id",
    )
