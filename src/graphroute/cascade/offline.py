"""A cascade on recorded data: every stage's recorded answer is scored, and thresholds are
calibrated for a target without calling any model (rows must carry each stage's response).

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade import Cascade, Stage
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.scorers import ArithmeticScorer
    >>> data = load_dataset("routellm-gsm8k")
    >>> c = Cascade([Stage(FakeListChatModel(responses=["-"]), name=data.weak, scorer=ArithmeticScorer()),
    ...              Stage(FakeListChatModel(responses=["-"]), name=data.strong)])
    >>> cal = c.calibrate(data, strong_share=0.5)
    >>> cal.strong_share <= 0.5 and cal.quality > float(data.scores[:, 0].mean())
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphroute.errors import CascadeError
from graphroute.cascade.thresholds import search_thresholds
from graphroute.costs import CostModel
from graphroute.datasets import RoutingDataset
from graphroute.types import Calibration


def recorded_matrices(cascade: Any, data: RoutingDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(S, Q, C)`` for ``graphroute.cascade.thresholds`` from a dataset with every stage's responses:
    scores of each non-final stage's recorded answer, quality scaled to 0-1, dollars per call."""
    names = cascade.names
    missing = [n for n in names if n not in data.models]
    if missing:
        raise CascadeError(f"stages {missing} are not models of dataset {data.name!r} ({', '.join(data.models)})")
    lacking = [n for n in names[:-1] if not data.responses or n not in data.responses]
    if lacking:
        raise CascadeError(f"dataset {data.name!r} has no recorded responses for {lacking}: a cascade's scorers "
                           "need each non-final stage's answers")
    idx = [data.index(n) for n in names]
    responses = data.responses or {}
    S = np.stack([st.scorer.score_many(data.prompts, responses[st.name or ""]) for st in cascade.stages[:-1]], axis=1)
    lo, hi = data.score_range
    Q = (data.scores[:, idx] - lo) / ((hi - lo) or 1.0)
    costs = (getattr(cascade, "cost_model", None) or CostModel.default()).dataset_costs(data)
    C = costs[:, idx] if costs is not None else np.zeros_like(Q)
    return S, Q, C


def calibrate_recorded(cascade: Any, data: RoutingDataset, *, quality: float | None = None,
                       strong_share: float | None = None, budget: float | None = None, grid: int = 41) -> Calibration:
    """Set ``cascade``'s thresholds for one target on held-out recorded data and return what they do
    (what ``graphroute.cascade.Cascade.calibrate`` runs).

    ``quality`` is on the 0-1 scale; ``strong_share`` the share of queries allowed to reach the last
    stage; ``budget`` mean dollars per query. The result is also stored as ``cascade.calibration``
    (and saved with the cascade).
    """
    S, Q, C = recorded_matrices(cascade, data)
    cal = search_thresholds(S, Q, C, quality=quality, strong_share=strong_share, budget=budget, grid=grid,
                            names=cascade.names)
    cascade.set_thresholds([float(t) for t in cal.thresholds])
    cascade.calibration = cal
    return cal
