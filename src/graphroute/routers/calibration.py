"""Calibrate a router's policy on held-out data: a strong-call share, a target quality or a budget.

The result is stored with the router (``router.policy_``) and explained in words, because a bare
threshold means nothing to a reader: "threshold +0.118: 30.0 % of calibration prompts go to
gpt-4-1106-preview; expected quality 0.761 (weak 0.669, strong 0.801); $0.00041 per query".

Among more than two models the policy is ``argmax(predicted quality - lam * expected cost)``
(``rule="lambda"``) or the cheapest model predicted within a tolerance of the best
(``rule="tolerance"``, NVIDIA's rule); ``lam`` or the tolerance is found by bisection on the
calibration prompts, so a budget lands where it is asked (the cost of the choices falls
monotonically as either grows). Costs come from the data (recorded, or priced by
``CostModel.default()``); models of equal price calibrate to the best predicted model.
"""

from __future__ import annotations

import dataclasses

import math
from typing import TYPE_CHECKING, Callable

import numpy as np

from graphroute.costs import CostModel
from graphroute.metrics import tie_safe_curve
from graphroute.metrics.choices import lambda_choice, tolerance_choice
from graphroute.routers.policy import CostPolicy, ThresholdPolicy, TolerancePolicy
from graphroute.types import Calibration

if TYPE_CHECKING:
    from graphroute.datasets import RoutingDataset
    from graphroute.routers.base import Router


#: The calibration targets ``calibrate`` takes (one of them), besides ``rule``.
TARGETS = ("strong_share", "quality", "best_share", "budget", "cost_per_query")
RULES = ("lambda", "tolerance")


def check_target(target: dict) -> dict:
    """A calibration block (``{cost_per_query: 0.0001, rule: tolerance}``) checked: one known target,
    a number, and a known rule; raises ``ValueError`` naming what is wrong.

    Examples:
        >>> check_target({"best_share": 0.95, "rule": "tolerance"})
        {'best_share': 0.95, 'rule': 'tolerance'}
        >>> check_target({"budgte": 1})
        Traceback (most recent call last):
        ...
        ValueError: unknown calibration key 'budgte': one of strong_share, quality, best_share, budget, cost_per_query (and rule)
    """
    for key, value in target.items():
        if key not in (*TARGETS, "rule"):
            raise ValueError(f"unknown calibration key {key!r}: one of {', '.join(TARGETS)} (and rule)")
        if key == "rule" and value not in RULES:
            raise ValueError(f"calibration rule must be one of {', '.join(RULES)}, not {value!r}")
        if key != "rule" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"calibration target {key} must be a number, not {value!r}")
    if sum(k in target for k in TARGETS) != 1:
        raise ValueError(f"give exactly one calibration target of {', '.join(TARGETS)}")
    return target


def expected_costs(data: "RoutingDataset", costs: np.ndarray | None) -> dict[str, float] | None:
    """Each model's mean dollars per call over ``data`` (``costs``: its (n, models) matrix)."""
    if costs is None:
        return None
    return {m: float(costs[:, j].mean()) for j, m in enumerate(data.models)}


def data_costs(data: "RoutingDataset") -> np.ndarray | None:
    """The (prompts x models) dollars of ``data``: recorded (or estimated by its loader), else
    priced by graphroute's price file; None when a model has neither."""
    return CostModel.default().dataset_costs(data)


def calibrate(router: "Router", data: "RoutingDataset", *, strong_share: float | None = None,
              quality: float | None = None, budget: float | None = None, cost_per_query: float | None = None,
              best_share: float | None = None, rule: str = "lambda", costs: np.ndarray | None = None) -> Calibration:
    """Choose the router's threshold (two models), or lambda or tolerance (more), on ``data`` and store it.

    The previous policy's ``unfamiliar`` and ``min_familiarity`` are kept. Exactly one target:
    ``strong_share`` (0-1, two models), ``quality`` (in score units), ``best_share`` (a share of the
    best single model's quality on ``data``) or ``budget`` / ``cost_per_query`` (dollars per query).
    ``costs``: an (n, models) dollar matrix (default: ``data_costs``). ``rule`` (more than two
    models): ``lambda`` or ``tolerance``. ``data`` should be held out from the router's training data.
    """
    if cost_per_query is not None:
        if budget is not None:
            raise ValueError("give budget or cost_per_query (the same thing), not both")
        budget = cost_per_query
    given = [x is not None for x in (strong_share, quality, budget, best_share)]
    if sum(given) != 1:
        raise ValueError("give exactly one of strong_share, quality, best_share, budget (cost_per_query)")
    data = data.select_models(router.models_)
    if costs is None:
        costs = data_costs(data)
    if budget is not None and costs is None:
        raise ValueError(f"a budget needs costs: {data.name!r} records none and the price file lacks some of "
                         f"{router.models_} (pass costs=, an (n, models) dollar matrix)")
    if best_share is not None:
        quality = best_share * float(np.nanmax(np.nanmean(data.scores, axis=0)))
    expected = expected_costs(data, costs)
    if len(router.models_) == 2:
        cal = _pair(router, data, strong_share, quality, budget, costs)
        cal.policy.costs = expected
    else:
        if strong_share is not None:
            raise ValueError("strong_share applies to two models; among more use quality, best_share or budget")
        cal = _many(router, data, quality, budget, costs, rule)
    if best_share is not None:
        cal = dataclasses.replace(cal, target={"best_share": best_share})
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
    fits: np.ndarray = np.zeros(0, dtype=int)
    if strong_share is not None:
        if not 0.0 <= strong_share <= 1.0:
            raise ValueError(f"strong_share must be in [0, 1], got {strong_share}")
        i = int(np.argmin(np.abs(curve.strong_frac - strong_share)))
    elif quality is not None:
        reach = np.flatnonzero(curve.quality >= quality)
        i = int(reach[0]) if len(reach) else int(np.argmax(curve.quality))
    else:
        assert curve.cost is not None and budget is not None  # a budget target needs costs (checked above)
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
    return Calibration(thresholds=[threshold], quality=float(curve.quality[i]), cost_per_query=cost,
                       strong_share=float(curve.strong_frac[i]), target=target, met=bool(met), explanation=text,
                       policy=ThresholdPolicy(threshold=threshold))


def _bisect(holds: Callable[[float], bool], lo: float, hi: float, steps: int = 60) -> tuple[float, float]:
    """``(lo, hi)`` around the knob where ``holds`` turns from False to True, ``holds`` being monotone
    in the knob (the cost of the choices falls as it grows); ``(lo, lo)`` if it holds at ``lo``,
    ``(hi, hi)`` if it never does."""
    if holds(lo):
        return lo, lo
    if not holds(hi):
        return hi, hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
    return lo, hi


def _many(router, data, quality, budget, costs, rule: str) -> Calibration:
    if rule not in RULES:
        raise ValueError(f"rule must be 'lambda' or 'tolerance', got {rule!r}")
    q = np.asarray(router.quality_dataset(data), dtype=np.float64)
    c = costs if costs is not None else np.zeros((len(data), len(data.models)))
    expected = c.mean(axis=0)
    rows = np.arange(len(data))
    choice_at = lambda_choice if rule == "lambda" else tolerance_choice

    def at(knob: float) -> tuple[float, float]:
        """Quality and dollars per query of the choices at ``knob`` (lambda or tolerance)."""
        choice = choice_at(q, expected, knob)
        return float(np.nanmean(data.scores[rows, choice])), float(c[rows, choice].mean())

    if rule == "tolerance":
        top = float(np.ptp(q)) + 1e-9
    else:
        steps = np.diff(np.unique(expected))
        # beyond this lam no predicted quality gap outweighs the smallest price step: the cheapest model
        top = (float(np.ptp(q)) + 1e-9) / float(steps[steps > 0].min()) if (steps > 0).any() else 0.0
    best_q, best_c = at(0.0)
    if top == 0.0:  # every model costs the same: the best predicted model is the cheapest good choice
        knob = 0.0
    elif budget is not None:  # the smallest knob within the budget
        knob = _bisect(lambda k: at(k)[1] <= budget + 1e-15, 0.0, top)[1]
    else:  # the largest knob (the cheapest choices) that still reaches the quality
        knob = _bisect(lambda k: at(k)[0] < quality - 1e-12, 0.0, top)[0]
    qual, cost = at(knob)
    met = cost <= budget + 1e-15 if budget is not None else qual >= quality - 1e-12
    how = ("lambda {:.6g} (quality - lambda x expected $)" if rule == "lambda" else
           "tolerance {:.6g} (the cheapest model predicted within it of the best)").format(knob)
    text = (f"{how}: expected quality {qual:.4f} at ${cost:.6f} per query on {len(data)} calibration prompts "
            f"(the best predicted model everywhere: {best_q:.4f} at ${best_c:.6f})")
    exp = {m: float(x) for m, x in zip(data.models, expected)} if costs is not None else None
    policy = CostPolicy(costs=exp, lam=float(knob)) if rule == "lambda" else TolerancePolicy(costs=exp, tolerance=float(knob))
    target = {"quality": quality} if quality is not None else {"budget": budget}
    return Calibration(thresholds=[float(knob)], quality=float(qual), cost_per_query=float(cost) if costs is not None else None,
                       strong_share=None, target=target, met=bool(met), explanation=text, policy=policy)
