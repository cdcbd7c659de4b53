"""Scalar summaries of a two-model curve: AUC, APGR, CPT(x %), cost at a quality level.

For ``Curve`` objects made by ``routellm_curve`` these are
exactly RouteLLM's ``evaluate.py`` formulas:

* ``AUC = trapz(quality, strong_frac)``;
* ``APGR = (AUC - weak_area) / (strong_area - weak_area)``, the areas being the constant weak and
  strong qualities integrated over the curve's x range;
* ``CPT(x) = np.interp(weak + x (strong - weak), quality, strong_pct)`` — RouteLLM interpolates
  with the quality as x-coordinates, which assumes a rising curve.

For other curves (``method != "routellm"``) CPT is the smallest strong share at which the
piecewise-linear curve first reaches the target, which stays right on curves that dip.
"""

from __future__ import annotations

import math

import numpy as np

from graphroute.metrics.curves import Curve

_trapz = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # numpy < 2 has only trapz


def auc(curve: Curve) -> float:
    """Area under quality vs strong-call fraction."""
    return float(_trapz(curve.quality, curve.strong_frac))


def apgr(curve: Curve, weak_quality: float, strong_quality: float) -> float:
    """Average performance gap recovered (RouteLLM's formula)."""
    x = curve.strong_frac
    span = float(x.max() - x.min())
    weak_area, strong_area = weak_quality * span, strong_quality * span
    denom = strong_area - weak_area
    if denom == 0:
        return math.nan
    return float((auc(curve) - weak_area) / denom)


def first_crossing(x: np.ndarray, y: np.ndarray, target: float) -> float:
    """Smallest x where the piecewise-linear y(x) reaches ``target`` (nan if never)."""
    for i in range(len(x)):
        if y[i] >= target:
            if i == 0:
                return float(x[0])
            y0, y1 = y[i - 1], y[i]
            return float(x[i - 1] + (target - y0) / (y1 - y0) * (x[i] - x[i - 1]))
    return math.nan


def cpt(curve: Curve, weak_quality: float, strong_quality: float, pct: float) -> float:
    """Strong-call percentage needed to recover ``pct`` (0-1) of the weak-strong gap."""
    target = weak_quality + pct * (strong_quality - weak_quality)
    if curve.method == "routellm":
        return float(np.interp(target, curve.quality, curve.strong_frac * 100))
    return first_crossing(curve.strong_frac * 100, curve.quality, target)


def cost_at_pct(curve: Curve, strong_pct: float) -> float:
    """Total cost interpolated at a strong-call percentage (nan without costs)."""
    if curve.cost is None or not math.isfinite(strong_pct):
        return math.nan
    return float(np.interp(strong_pct, curve.strong_frac * 100, curve.cost))


def summarize(curve: Curve, weak_quality: float, strong_quality: float, n: int) -> dict:
    """APGR, AUC, CPT(20/50/80 %) and the cost at each CPT point (total and per query)."""
    out = {"method": curve.method, "apgr": apgr(curve, weak_quality, strong_quality), "auc": auc(curve)}
    for p in (20, 50, 80):
        c = cpt(curve, weak_quality, strong_quality, p / 100)
        out[f"cpt{p}"] = c
        total = cost_at_pct(curve, c)
        out[f"cost_at_cpt{p}"] = total
        out[f"cost_per_query_at_cpt{p}"] = total / n if math.isfinite(total) else math.nan
    return out
