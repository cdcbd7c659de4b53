"""Routing among more than two models, measured on recorded outcomes: what the router's own choice
achieves at maximum quality and what it costs, beside the best single model and the oracle, the
share of the gap between those two it closes, the accuracy and cost along the whole
quality-cost frontier (``argmax(predicted quality - lam * cost)`` as ``lam`` sweeps, and the
cheapest model within a tolerance of the best as the tolerance sweeps), where each matches the best
single model's accuracy, and the same per group (task). Everything is keyed by
model name.

Examples:
    >>> import numpy as np
    >>> from graphroute.evaluation.many import many_models
    >>> scores = np.array([[1, 0, 1], [0, 1, 1], [0, 0, 1], [1, 1, 0]], dtype=float)
    >>> costs = np.tile([0.1, 0.2, 1.0], (4, 1))
    >>> predicted = scores + 0.01             # a router that knows every outcome
    >>> out = many_models(["a", "b", "c"], scores, costs, predicted)
    >>> out["router"]["accuracy"], out["best_single"]["model"], out["oracle"]["accuracy"], out["gap_closed"]
    (1.0, 'c', 1.0, 1.0)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from graphroute.metrics import aiq, pareto_frontier
from graphroute.metrics.choices import lambda_choice, tolerance_choice


def _taken(scores: np.ndarray, costs: np.ndarray, choice: np.ndarray) -> tuple[float, float]:
    rows = np.arange(len(choice))
    return float(np.nanmean(scores[rows, choice])), float(np.mean(costs[rows, choice]))


def frontier(predicted: np.ndarray, scores: np.ndarray, costs: np.ndarray, n: int = 81,
             rule: str = "lambda") -> dict[str, list[float]]:
    """Accuracy and dollars per query as the price knob sweeps from maximum quality to the cheapest
    model: ``argmax(predicted - lam * expected cost)`` for ``lam`` from 0 to infinity
    (``rule="lambda"``), or the cheapest model predicted within a tolerance of the best for
    tolerances from 0 to the whole range (``rule="tolerance"``, NVIDIA's rule)."""
    expected = costs.mean(axis=0)
    dq = float(np.ptp(predicted)) or 1.0
    if rule == "tolerance":
        knobs = np.r_[0.0, dq * np.logspace(-4, 0, n - 1)]
        choices = [tolerance_choice(predicted, expected, t) for t in knobs]
    else:
        dc = float(np.ptp(expected)) or 1.0
        knobs = np.r_[0.0, dq / dc * np.logspace(-4, 4, n - 2), np.inf]
        choices = [lambda_choice(predicted, expected, lam) for lam in knobs]
    acc, cost = zip(*(_taken(scores, costs, c) for c in choices))
    knob = "tolerance" if rule == "tolerance" else "lam"
    return {knob: [float(x) for x in knobs], "accuracy": list(acc), "cost_per_query": list(cost)}


def _matched(cost: np.ndarray, acc: np.ndarray, keep: Sequence[int] | np.ndarray, best_acc: float,
             best_cost: float) -> dict[str, float] | None:
    """The cheapest frontier point as accurate as the best single model: its dollars and their
    share of the best single model's."""
    matched = [i for i in keep if acc[i] >= best_acc - 1e-12]
    if not matched:
        return None
    i = min(matched, key=lambda k: cost[k])
    return {"cost_per_query": float(cost[i]), "cost_share": float(cost[i]) / best_cost if best_cost > 0 else math.nan}


def many_models(models: Sequence[str], scores: np.ndarray, costs: np.ndarray | None, predicted: np.ndarray,
                groups: Sequence[Any] | np.ndarray | None = None) -> dict[str, Any]:
    """The N-model block of an evaluation (see the module docstring). ``scores``: (n, m) recorded
    outcomes (NaN where not recorded); ``costs``: (n, m) dollars (estimates where the data has none;
    None: costs are left out); ``predicted``: (n, m) the router's predicted quality."""
    models = list(models)
    n, m = scores.shape
    c = costs if costs is not None else np.zeros((n, m))
    means = np.nanmean(scores, axis=0)
    best = int(np.nanargmax(means))
    choice = np.argmax(np.where(np.isnan(predicted), -np.inf, predicted), axis=1)
    acc, cost = _taken(scores, c, choice)
    row_best = np.nanmax(scores, axis=1)
    # the oracle takes the cheapest model that reached each row's best outcome
    reach = np.where(np.isnan(scores), False, scores >= row_best[:, None] - 1e-12)
    oracle_choice = np.argmin(np.where(reach, c, np.inf), axis=1)
    oracle_acc, oracle_cost = _taken(scores, c, oracle_choice)
    best_acc, best_cost = float(means[best]), float(c[:, best].mean())
    gap = oracle_acc - best_acc
    out: dict[str, Any] = {
        "models": {mm: {"accuracy": float(means[j]), "cost_per_query": float(c[:, j].mean())} for j, mm in enumerate(models)},
        "router": {"accuracy": acc, "cost_per_query": cost,
                   "choice_share": {mm: float(np.mean(choice == j)) for j, mm in enumerate(models)}},
        "best_single": {"model": models[best], "accuracy": best_acc, "cost_per_query": best_cost},
        "oracle": {"accuracy": oracle_acc, "cost_per_query": oracle_cost},
        "gap_closed": (acc - best_acc) / gap if gap > 1e-12 else math.nan,
    }
    if costs is not None:
        f = frontier(predicted, scores, costs)
        pc, pq = np.asarray(f["cost_per_query"]) * n, np.asarray(f["accuracy"])
        totals = costs.sum(axis=0)
        keep = pareto_frontier(pc, pq)
        out["frontier"] = {"cost_per_query": [float(pc[i]) / n for i in keep], "accuracy": [float(pq[i]) for i in keep]}
        out["aiq"] = aiq(pc, pq, (float(totals.min()), float(totals.max())))
        out["matched_best"] = _matched(pc / n, pq, keep, best_acc, best_cost)
        t = frontier(predicted, scores, costs, rule="tolerance")
        tc, tq = np.asarray(t["cost_per_query"]), np.asarray(t["accuracy"])
        tkeep = pareto_frontier(tc, tq)
        out["frontier_tolerance"] = {"cost_per_query": [float(tc[i]) for i in tkeep],
                                     "accuracy": [float(tq[i]) for i in tkeep]}
        out["matched_best_tolerance"] = _matched(tc, tq, tkeep, best_acc, best_cost)
    if groups is not None:
        g = np.asarray(groups, dtype=object)
        rows = np.arange(n)
        out["groups"] = {str(k): {"n": int((g == k).sum()),
                                  "router": float(np.nanmean(scores[rows[g == k], choice[g == k]])),
                                  "best_single": float(np.nanmean(scores[g == k, best])),
                                  "oracle": float(np.nanmean(row_best[g == k]))}
                         for k in sorted(set(g.tolist()))}
    return out
