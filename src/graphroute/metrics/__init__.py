"""Routing metrics: RouteLLM's curve, APGR, CPT and AUC; a tie-safe curve; RouterBench's AIQ.

Examples:
    >>> import numpy as np
    >>> from graphroute.metrics import tie_safe_curve, apgr
    >>> weak, strong = np.array([1, 0, 0, 1]), np.array([1, 1, 0, 1])
    >>> c = tie_safe_curve([0.1, 0.9, 0.5, 0.2], weak, strong)
    >>> round(apgr(c, weak.mean(), strong.mean()), 3)
    0.875
"""

from graphroute.metrics.curves import Curve, optimal_curve, quantile_thresholds, routellm_curve, tie_safe_curve
from graphroute.metrics.pareto import aiq, cost_saving, hull_quality, min_cost_for_quality, pareto_frontier, upper_hull
from graphroute.metrics.summary import apgr, auc, cost_at_pct, cpt, first_crossing, summarize

__all__ = [
    "Curve",
    "aiq",
    "apgr",
    "auc",
    "cost_at_pct",
    "cost_saving",
    "cpt",
    "first_crossing",
    "hull_quality",
    "min_cost_for_quality",
    "optimal_curve",
    "pareto_frontier",
    "quantile_thresholds",
    "routellm_curve",
    "summarize",
    "tie_safe_curve",
    "upper_hull",
]
