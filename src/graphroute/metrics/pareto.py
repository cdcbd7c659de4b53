"""Quality against cost for any number of models (RouterBench's view).

* ``pareto_frontier`` — the operating points no other point beats on both cost and quality;
* ``upper_hull`` — the non-decreasing concave hull of the points: the best quality reachable
  at each cost by mixing operating points at random;
* ``aiq`` — RouterBench's AIQ, the area under that hull over a cost range divided by the
  range's width (so it reads as an average quality);
* ``cost_saving`` — how much cheaper than a reference model a router reaches a quality level.
"""

from __future__ import annotations

import math

import numpy as np

_trapz = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # numpy < 2 has only trapz


def pareto_frontier(costs, qualities) -> np.ndarray:
    """Indices of the non-dominated points, by ascending cost.

    A point is dominated when another costs no more and reaches strictly more quality, or
    costs strictly less and reaches as much.
    """
    c, q = np.asarray(costs, dtype=np.float64), np.asarray(qualities, dtype=np.float64)
    order = np.lexsort((-q, c))  # by cost, then best quality first
    keep, best = [], -math.inf
    for i in order:
        if q[i] > best:
            keep.append(int(i))
            best = q[i]
    return np.asarray(keep, dtype=np.int64)


def upper_hull(costs, qualities) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (cost, quality) of the non-decreasing concave upper hull, by ascending cost."""
    idx = pareto_frontier(costs, qualities)
    c = np.asarray(costs, dtype=np.float64)[idx]
    q = np.asarray(qualities, dtype=np.float64)[idx]
    hull: list[int] = []
    for i in range(len(c)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b if it lies on or below the segment a -> i
            if (q[b] - q[a]) * (c[i] - c[a]) <= (q[i] - q[a]) * (c[b] - c[a]):
                hull.pop()
            else:
                break
        hull.append(i)
    return c[hull], q[hull]


def hull_quality(costs, qualities, at_cost) -> np.ndarray:
    """Best quality reachable on the hull at each cost in ``at_cost``.

    Flat beyond the most expensive vertex; below the cheapest vertex it is that vertex's quality
    (the range is normally chosen to start at the cheapest point, so this rarely matters).
    """
    hc, hq = upper_hull(costs, qualities)
    return np.interp(np.asarray(at_cost, dtype=np.float64), hc, hq)


def aiq(costs, qualities, cost_range: tuple[float, float] | None = None, *, grid: int = 2001) -> float:
    """Average quality over a cost range under the non-decreasing convex hull (RouterBench AIQ)."""
    c = np.asarray(costs, dtype=np.float64)
    lo, hi = cost_range if cost_range is not None else (float(c.min()), float(c.max()))
    if hi <= lo:
        return float(np.max(qualities))
    hc, hq = upper_hull(costs, qualities)
    xs = np.unique(np.clip(np.r_[np.linspace(lo, hi, grid), hc], lo, hi))
    return float(_trapz(np.interp(xs, hc, hq), xs) / (hi - lo))


def min_cost_for_quality(costs, qualities, target: float) -> float:
    """Least cost at which the hull reaches ``target`` quality (nan if it never does)."""
    hc, hq = upper_hull(costs, qualities)
    if hq[-1] < target:
        return math.nan
    if hq[0] >= target:
        return float(hc[0])
    j = int(np.argmax(hq >= target))
    return float(hc[j - 1] + (target - hq[j - 1]) / (hq[j] - hq[j - 1]) * (hc[j] - hc[j - 1]))


def cost_saving(costs, qualities, target: float, reference_cost: float) -> float:
    """``1 - cost(target)/reference_cost``: the share of the reference's cost saved at ``target``."""
    c = min_cost_for_quality(costs, qualities, target)
    if not math.isfinite(c) or reference_cost <= 0:
        return math.nan
    saving = 1.0 - c / reference_cost
    return 0.0 if abs(saving) < 1e-12 else saving
