"""Draw Skill-Mix combinations (a uniform k-subset of skills plus one topic) and the novelty bound."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from gradeapp.errors import GradeappError

# The paper's estimates: a skill in at most 1.44% of training texts, a topic in 0.22%, 5e10 texts.
PAPER_P_SKILL = 0.0144
PAPER_P_TOPIC = 0.0022
PAPER_CORPUS = 5e10
# The most combinations drawn per k in one call: the drawn list is held in memory until it is stored
# (about 0.5 KB each with its row), so 10^6 stays under a gigabyte; more is split over several seeds.
MAX_DRAW = 1_000_000


@dataclass(frozen=True)
class Combination:
    skills: tuple[str, ...]
    topic: str
    seed: int


def draw_combinations(
    skills: Sequence[str], topics: Sequence[str], k: int, n: int, seed: int
) -> list[Combination]:
    """Draw n combinations with a seeded RNG: reproducible for the same catalog order, k, n and seed."""
    if k < 1:
        raise GradeappError(f"k must be at least 1 (got {k})")
    if not 0 <= n <= MAX_DRAW:
        raise GradeappError(f"combinations per k must be 0 .. {MAX_DRAW:,} (got {n:,})")
    if k > len(skills):
        raise GradeappError(f"k = {k} needs at least {k} skills; the catalog has {len(skills)}")
    if not topics:
        raise GradeappError("the catalog has no topics: import topics first")
    rng = random.Random(f"skillmix:{seed}:{k}")
    return [Combination(tuple(rng.sample(list(skills), k)), rng.choice(list(topics)), seed) for _ in range(n)]


def n_combinations(n_skills: int, k: int, n_topics: int) -> int:
    """Return the number of possible combinations C(N, k) * T."""
    return math.comb(n_skills, k) * n_topics


def novelty_bound(
    k: int, p_skill: float = PAPER_P_SKILL, p_topic: float = PAPER_P_TOPIC, corpus: float = PAPER_CORPUS
) -> float:
    """Return p_s^k * p_t * L: the most of all combinations a corpus of L texts can have shown."""
    return p_skill**k * p_topic * corpus
