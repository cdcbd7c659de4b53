"""Quality against strong-call share, for a two-model (weak, strong) router.

Two ways to sweep a router's threshold:

* ``routellm_curve`` — exactly RouteLLM's ``benchmarks.py``: thresholds are the 11 edges of
  ``pd.qcut(scores, 10)`` (linear-interpolated quantiles); at edge *i* the strong model gets every
  prompt with ``score >= edge`` except at the last edge, where it is ``score > edge``. RouteLLM
  raises on tied edges (binary or tied scores); here ties are dropped as ``pd.qcut(...,
  duplicates="drop")`` would, which collapses a binary score to two points (APGR 0.5).
* ``tie_safe_curve`` — one point per distinct score value (plus "no strong call"), so tied
  scores move together and nothing is lost.

``optimal_curve`` is RouteLLM's ``get_optimal_accuracy`` (the oracle's curve).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Curve:
    """Operating points of a router: strong-call fraction, mean quality and total cost."""

    strong_frac: np.ndarray  # ascending, 0-1
    quality: np.ndarray  # mean score at each point
    thresholds: np.ndarray  # the score threshold giving each point (nan where none)
    cost: np.ndarray | None = None  # total dollars at each point
    method: str = ""

    def __len__(self) -> int:
        return len(self.strong_frac)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "strong_pct": [round(float(x) * 100, 6) for x in self.strong_frac],
            "quality": [float(x) for x in self.quality],
            "threshold": [None if not np.isfinite(t) else float(t) for t in self.thresholds],
            "cost": None if self.cost is None else [float(c) for c in self.cost],
        }


def _as_arrays(scores, y_weak, y_strong):
    s = np.asarray(scores, dtype=np.float64)
    w = np.asarray(y_weak, dtype=np.float64)
    g = np.asarray(y_strong, dtype=np.float64)
    if not (s.shape == w.shape == g.shape) or s.ndim != 1 or len(s) == 0:
        raise ValueError(f"scores, y_weak, y_strong must be equal-length 1-D arrays, got {s.shape}, {w.shape}, {g.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("router scores contain NaN or infinity")
    return s, w, g


def _point_cost(sel: np.ndarray, cost_weak, cost_strong) -> float | None:
    if cost_weak is None or cost_strong is None:
        return None
    return float(np.where(sel, cost_strong, cost_weak).sum())


def quantile_thresholds(scores: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """The bin edges ``pd.qcut(scores, n_bins, retbins=True)`` returns, duplicates dropped."""
    edges = np.quantile(np.asarray(scores, dtype=np.float64), np.linspace(0.0, 1.0, n_bins + 1))
    return np.unique(edges)


def routellm_curve(scores, y_weak, y_strong, *, n_bins: int = 10, cost_weak=None, cost_strong=None) -> Curve:
    """RouteLLM's threshold sweep (see module doc); points sorted by strong-call share."""
    s, w, g = _as_arrays(scores, y_weak, y_strong)
    edges = quantile_thresholds(s, n_bins)
    fracs, quals, costs = [], [], []
    for i, t in enumerate(edges):
        sel = s >= t if i != len(edges) - 1 else s > t
        fracs.append(sel.mean())
        quals.append(np.where(sel, g, w).mean())
        costs.append(_point_cost(sel, cost_weak, cost_strong))
    order = np.argsort(np.asarray(fracs), kind="stable")
    cost = None if costs[0] is None else np.asarray(costs)[order]
    return Curve(np.asarray(fracs)[order], np.asarray(quals)[order], edges[order], cost, "routellm")


def tie_safe_curve(scores, y_weak, y_strong, *, cost_weak=None, cost_strong=None) -> Curve:
    """One operating point per distinct score value: exact, and safe with ties."""
    s, w, g = _as_arrays(scores, y_weak, y_strong)
    n = len(s)
    order = np.argsort(-s, kind="stable")
    ss = s[order]
    ends = np.flatnonzero(np.r_[ss[1:] != ss[:-1], True])  # last index of each tie group
    gain = np.cumsum((g - w)[order])
    base = w.sum()
    frac = np.r_[0.0, (ends + 1) / n]
    qual = np.r_[base, base + gain[ends]] / n
    thr = np.r_[np.inf, ss[ends]]
    cost = None
    if cost_weak is not None and cost_strong is not None:
        cw, cs = np.asarray(cost_weak, dtype=np.float64), np.asarray(cost_strong, dtype=np.float64)
        extra = np.cumsum((cs - cw)[order])
        cost = np.r_[cw.sum(), cw.sum() + extra[ends]]
    return Curve(frac, qual, thr, cost, "tie_safe")


def optimal_curve(y_weak, y_strong, *, n_points: int = 10, cost_weak=None, cost_strong=None) -> Curve:
    """RouteLLM's ``get_optimal_accuracy`` at strong shares 0, 1/n, ..., 1.

    With a budget of ``n_rows * share`` strong calls, the oracle spends them on the prompts where
    the strong model gains most (for 0/1 data: weak wrong and strong right), never where it loses.
    Budgets are fractional, as in RouteLLM (``min(total * share, gains)``).
    """
    w = np.asarray(y_weak, dtype=np.float64)
    g = np.asarray(y_strong, dtype=np.float64)
    n = len(w)
    gains = np.sort((g - w)[g > w])[::-1]
    cum = np.r_[0.0, np.cumsum(gains)]
    shares = np.linspace(0.0, 1.0, n_points + 1)
    quals, costs = [], []
    if cost_weak is not None and cost_strong is not None:
        cw, cs = np.asarray(cost_weak, dtype=np.float64), np.asarray(cost_strong, dtype=np.float64)
        extra = np.r_[0.0, np.cumsum((cs - cw)[np.argsort(-(g - w), kind="stable")][: len(gains)])]
    for p in shares:
        k = min(n * p, len(gains))
        whole = int(np.floor(k))
        bonus = cum[whole] + (k - whole) * (gains[whole] if whole < len(gains) else 0.0)
        quals.append((w.sum() + bonus) / n)
        if cost_weak is not None and cost_strong is not None:
            part = extra[whole] + (k - whole) * ((extra[whole + 1] - extra[whole]) if whole < len(gains) else 0.0)
            costs.append(cw.sum() + part)
    # x is the strong-call budget, as RouteLLM plots it; the cost counts the calls actually made.
    return Curve(shares, np.asarray(quals), np.full(len(shares), np.nan), np.asarray(costs) if costs else None, "optimal")
