"""Choosing a cascade's per-stage thresholds on calibration data (FrugalGPT-style search).

Given, for n calibration queries and K stages, each stage's confidence score ``S`` (n, K-1), the
quality of each stage's answer ``Q`` (n, K) and the cost of each stage's call ``C`` (n, K),
``simulate`` replays the cascade for a set of thresholds, and ``search_thresholds`` searches
the thresholds for a target: a minimum quality (``quality``), a maximum share of queries reaching the
last, strongest stage (``strong_share``), or a cost budget per query (``budget``). The search is exhaustive over score quantiles
(``grid`` candidates per stage; coordinate ascent beyond ``max_combinations``).

Examples:
    >>> import numpy as np
    >>> from graphroute.cascade.thresholds import search_thresholds
    >>> S = np.array([[0.9], [0.8], [0.3], [0.1]])          # weak stage's confidence
    >>> Q = np.array([[1, 1], [1, 1], [0, 1], [0, 1]])      # weak right on the first two
    >>> C = np.array([[1, 10], [1, 10], [1, 10], [1, 10]])
    >>> r = search_thresholds(S, Q, C, quality=1.0)
    >>> r.thresholds, r.quality, r.strong_share
    ([0.8], 1.0, 0.5)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from graphroute.errors import CascadeError
from graphroute.types import Calibration


@dataclass
class Simulation:
    """What a cascade does on calibration data at some thresholds."""

    thresholds: list[float]
    quality: float
    cost: float  # mean dollars per query, all calls counted
    reach: list[float]  # share of queries that reach each stage
    answered: list[float]  # share of queries answered by each stage

    @property
    def last_share(self) -> float:
        return self.reach[-1]


def _check(S, Q, C):
    S, Q = np.asarray(S, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    if S.ndim == 1:
        S = S[:, None]
    n, k = Q.shape if Q.ndim == 2 else (len(Q), 0)
    if Q.ndim != 2 or k < 2:
        raise CascadeError(f"Q must be (queries, stages) with at least 2 stages, got shape {Q.shape}")
    if S.shape != (n, k - 1):
        raise CascadeError(f"S must be (queries, stages - 1) = {(n, k - 1)}, got {S.shape}")
    C = np.zeros_like(Q) if C is None else np.asarray(C, dtype=np.float64)
    if C.shape != Q.shape:
        raise CascadeError(f"C must have Q's shape {Q.shape}, got {C.shape}")
    return S, Q, C


def stages_reached(S: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Index of the stage that answers each query: the first whose score clears its threshold."""
    n, k1 = S.shape
    out = np.full(n, k1, dtype=np.int64)
    for j in range(k1 - 1, -1, -1):
        out = np.where(S[:, j] >= thresholds[j], j, out)
    return out


def simulate(S, Q, C, thresholds: Sequence[float]) -> Simulation:
    """Replay the cascade on calibration data at ``thresholds`` (one per stage but the last)."""
    S, Q, C = _check(S, Q, C)
    if len(thresholds) != S.shape[1]:
        raise CascadeError(f"need {S.shape[1]} thresholds (one per stage but the last), got {len(thresholds)}")
    stage = stages_reached(S, thresholds)
    rows = np.arange(len(Q))
    cum = np.cumsum(C, axis=1)
    k = Q.shape[1]
    answered = np.bincount(stage, minlength=k) / len(Q)
    reach = 1.0 - np.r_[0.0, np.cumsum(answered)[:-1]]
    return Simulation([float(t) for t in thresholds], float(Q[rows, stage].mean()), float(cum[rows, stage].mean()),
                      [float(x) for x in reach], [float(x) for x in answered])


def candidate_thresholds(scores: np.ndarray, grid: int = 41) -> np.ndarray:
    """``-inf`` (accept every answer), score quantiles, and ``+inf`` (skip the stage)."""
    qs = np.unique(np.quantile(scores, np.linspace(0, 1, grid), method="nearest"))
    return np.r_[-np.inf, qs, np.nextafter(qs[-1], np.inf), np.inf]


def _better(a: Simulation, b: Simulation | None, goal: str, limit: float) -> bool:
    """Is ``a`` a better choice than ``b`` for the goal (feasible first, then objective)?"""
    if b is None:
        return True
    if goal == "quality":
        fa, fb = a.quality >= limit - 1e-12, b.quality >= limit - 1e-12
        if fa != fb:
            return fa
        return (a.cost, -a.quality) < (b.cost, -b.quality) if fa else (-a.quality, a.cost) < (-b.quality, b.cost)
    value = a.last_share if goal == "strong_share" else a.cost
    other = b.last_share if goal == "strong_share" else b.cost
    fa, fb = value <= limit + 1e-12, other <= limit + 1e-12
    if fa != fb:
        return fa
    return (-a.quality, a.cost) < (-b.quality, b.cost) if fa else value < other


def search_thresholds(S, Q, C=None, *, quality: float | None = None, strong_share: float | None = None,
                      budget: float | None = None, grid: int = 41, max_combinations: int = 200_000,
                      names: Sequence[str] | None = None) -> Calibration:
    """Thresholds for exactly one target.

    ``quality``: the cheapest thresholds reaching that mean quality (else the best quality).
    ``strong_share``: the best quality with at most that share of queries reaching the last stage.
    ``budget``: the best quality at a mean cost per query of at most that many dollars.
    """
    S, Q, C = _check(S, Q, C)
    given = {k: v for k, v in (("quality", quality), ("strong_share", strong_share), ("budget", budget)) if v is not None}
    if len(given) != 1:
        raise CascadeError(f"give exactly one target: quality, strong_share or budget (got {sorted(given) or 'none'})")
    goal, limit = next(iter(given.items()))
    if not math.isfinite(limit) or limit < 0 or (goal == "strong_share" and limit > 1):
        raise CascadeError(f"target {goal}={limit!r} is out of range")
    goal = "cost" if goal == "budget" else goal
    cands = [candidate_thresholds(S[:, j], grid) for j in range(S.shape[1])]
    best: Simulation | None = None
    if math.prod(len(c) for c in cands) <= max_combinations:
        for ts in itertools.product(*cands):
            sim = simulate(S, Q, C, ts)
            if _better(sim, best, goal, limit):
                best = sim
    else:  # coordinate ascent from "accept everything at the first stage"
        cur = [c[0] for c in cands]
        for _ in range(5):
            changed = False
            for j, c in enumerate(cands):
                for t in c:
                    trial = cur[:j] + [t] + cur[j + 1:]
                    sim = simulate(S, Q, C, trial)
                    if _better(sim, best, goal, limit):
                        best, cur, changed = sim, trial, True
            if not changed:
                break
    assert best is not None
    met = (best.quality >= limit - 1e-12) if goal == "quality" else (
        (best.last_share if goal == "strong_share" else best.cost) <= limit + 1e-12)
    target = {("budget" if goal == "cost" else goal): limit}
    return Calibration(thresholds=best.thresholds, quality=best.quality, cost_per_query=best.cost,
                       strong_share=best.last_share, target=target, met=bool(met),
                       explanation=explain(best, target, bool(met), Q, names), reach=best.reach, answered=best.answered)


def explain(cal: Simulation, target: dict[str, float], met: bool, Q: np.ndarray,
            names: Sequence[str] | None = None) -> str:
    """What the thresholds mean, in words."""
    k = Q.shape[1]
    names = list(names) if names is not None else [f"stage {j + 1}" for j in range(k)]
    parts = []
    for j, t in enumerate(cal.thresholds):
        nxt = names[j + 1]
        if t == -math.inf:
            parts.append(f"{names[j]} answers every query that reaches it")
        elif t == math.inf:
            parts.append(f"{names[j]} is skipped (every query goes on to {nxt})")
        else:
            parts.append(f"{names[j]}'s answer is kept when its confidence is >= {t:.3g}, else the query goes to {nxt}")
    alone = ", ".join(f"{n} alone {Q[:, j].mean():.3f}" for j, n in enumerate(names))
    (goal, limit), = target.items()
    verdict = "met" if met else "NOT met (closest point shown)"
    return (f"{'; '.join(parts)}. On the calibration data: quality {cal.quality:.3f} ({alone}), "
            f"{cal.last_share:.1%} of queries reach {names[-1]}, mean cost ${cal.cost:.6f} per query "
            f"(every call counted). Target {goal}={limit:g}: {verdict}.")
