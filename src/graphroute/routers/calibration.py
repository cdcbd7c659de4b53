"""Calibrate a router's policy on held-out data: a strong-call share, a target quality or a budget.

The result is stored with the router (``router.policy_``) and explained in words, because a bare
threshold means nothing to a reader: "threshold +0.118: 30.0 % of calibration prompts go to
gpt-4-1106-preview; expected quality 0.761 (weak 0.669, strong 0.801); $0.00041 per query".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from graphroute.metrics import tie_safe_curve
from graphroute.routers.policy import CostPolicy, ThresholdPolicy
from graphroute.types import Calibration

if TYPE_CHECKING:
    from graphroute.datasets import RoutingDataset
    from graphroute.routers.base import Router


def _expected_costs(data: "RoutingDataset", costs: np.ndarray | None) -> dict[str, float] | None:
    if costs is None:
        return None
    return {m: float(costs[:, j].mean()) for j, m in enumerate(data.models)}


def calibrate(router: "Router", data: "RoutingDataset", *, strong_share: float | None = None,
              quality: float | None = None, budget: float | None = None,
              costs: np.ndarray | None = None) -> Calibration:
    """Choose the router's threshold (two models) or lambda (more) on ``data`` and store it.

    The previous policy's ``unfamiliar`` and ``min_familiarity`` are kept. Exactly one of
    ``strong_share`` (0-1), ``quality`` (in score units) or ``budget``
    (dollars per query; needs ``costs``, an (n, models) dollar matrix, e.g.
    ``CostModel.default().dataset_costs(data)``) must be given. ``data`` should be held out from
    the router's training data.
    """
    given = [x is not None for x in (strong_share, quality, budget)]
    if sum(given) != 1:
        raise ValueError("give exactly one of strong_share, quality, budget")
    if budget is not None and costs is None:
        raise ValueError("a budget needs costs (an (n, models) dollar matrix)")
    data = data.select_models(router.models_)
    expected = _expected_costs(data, costs)
    if len(router.models_) == 2:
        cal = _pair(router, data, strong_share, quality, budget, costs)
        cal.policy.costs = expected
    else:
        cal = _lambda(router, data, quality, budget, costs, strong_share)
    if router.policy_ is not None:
        cal.policy.unfamiliar, cal.policy.min_familiarity = router.policy_.unfamiliar, router.policy_.min_familiarity
    router.policy_ = cal.policy
    return cal


def _pair(router, data, strong_share, quality, budget, costs) -> Calibration:
    w, s = data.pair(router.weak_, router.strong_)
    yw, ys = data.scores[:, w], data.scores[:, s]
    scores = np.asarray(router.score_dataset(data), dtype=np.float64)
    curve = tie_safe_curve(scores, yw, ys, cost_weak=None if costs is None else costs[:, w],
                           cost_strong=None if costs is None else costs[:, s])
    n = len(data)
    fits = ()
    if strong_share is not None:
        if not 0.0 <= strong_share <= 1.0:
            raise ValueError(f"strong_share must be in [0, 1], got {strong_share}")
        i = int(np.argmin(np.abs(curve.strong_frac - strong_share)))
    elif quality is not None:
        reach = np.flatnonzero(curve.quality >= quality)
        i = int(reach[0]) if len(reach) else int(np.argmax(curve.quality))
    else:
        fits = np.flatnonzero(curve.cost / n <= budget)
        i = int(fits[np.argmax(curve.quality[fits])]) if len(fits) else 0
    t = float(curve.thresholds[i])
    threshold = t if math.isfinite(t) else float(scores.max()) + 1.0
    cost = None if curve.cost is None else float(curve.cost[i] / n)
    text = (f"threshold {threshold:+.4f} (on predicted gain of {router.strong_} over {router.weak_}): "
            f"{curve.strong_frac[i]:.1%} of {n} calibration prompts go to {router.strong_}; expected quality "
            f"{curve.quality[i]:.4f} (weak alone {yw.mean():.4f}, strong alone {ys.mean():.4f})"
            + (f"; ${cost:.6f} per query" if cost is not None else ""))
    target = {"strong_share": strong_share} if strong_share is not None else (
        {"quality": quality} if quality is not None else {"budget": budget})
    met = (abs(curve.strong_frac[i] - strong_share) < 0.05 if strong_share is not None else
           curve.quality[i] >= quality if quality is not None else bool(len(fits)))
    return Calibration([threshold], float(curve.quality[i]), cost, float(curve.strong_frac[i]), target, bool(met),
                       text, policy=ThresholdPolicy(threshold=threshold))


def _lambda(router, data, quality, budget, costs, strong_share) -> Calibration:
    if costs is None:
        raise ValueError("calibrating more than two models needs costs")
    if strong_share is not None:
        raise ValueError("strong_share applies to two models; use quality or budget")
    q = np.asarray(router.quality_dataset(data), dtype=np.float64)
    expected = costs.mean(axis=0)
    dq, dc = float(np.ptp(q)) or 1.0, float(np.ptp(expected)) or 1.0
    lams = np.r_[0.0, dq / dc * np.logspace(-4, 4, 161)]
    rows = np.arange(len(data))
    pts = []
    for lam in lams:
        choice = np.argmax(q - lam * expected[None, :], axis=1)
        pts.append((lam, data.scores[rows, choice].mean(), costs[rows, choice].mean()))
    if quality is not None:
        ok = [p for p in pts if p[1] >= quality]
        lam, qual, cost = max(ok, key=lambda p: p[0]) if ok else max(pts, key=lambda p: p[1])
    else:
        ok = [p for p in pts if p[2] <= budget]
        lam, qual, cost = max(ok, key=lambda p: p[1]) if ok else max(pts, key=lambda p: p[0])
    text = (f"lambda {lam:.6g} (quality - lambda x expected $): expected quality {qual:.4f} at ${cost:.6f} per query "
            f"on {len(data)} calibration prompts")
    policy = CostPolicy(costs={m: float(c) for m, c in zip(data.models, expected)}, lam=float(lam))
    target = {"quality": quality} if quality is not None else {"budget": budget}
    met = qual >= quality if quality is not None else cost <= budget
    return Calibration([float(lam)], float(qual), float(cost), None, target, bool(met), text, policy=policy)
