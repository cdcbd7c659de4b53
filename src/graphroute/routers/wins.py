"""RouteLLM's target: will the strong model do better than the weak one on this prompt?

Where the per-model heads (``logistic``, ``classifier``) predict each model's quality and route on
the difference, ``WinRouter`` learns one thing: the chance that the strong model's recorded
outcome beats the weak one's (ties count as the weak model sufficing), a logistic regression on
the prompt's embedding. It knows nothing about which models they are, so, trained on
``roles`` of several datasets, it routes any (weak, strong)
pair (``Router.for_pair``) as RouteLLM's routers do. ``benchmarks/transfer.py`` measures how
each formulation transfers between datasets.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.persist import Saved
from graphroute.routers.base import ROUTERS
from graphroute.routers.embedding import EmbeddingRouter
from graphroute.routers.heads import sigmoid


@ROUTERS.register("wins")
class WinRouter(EmbeddingRouter):
    """The chance that the strong model beats the weak one, from the prompt's embedding.

    Its quality matrix is ``[1 - p, p]`` for ``[weak, strong]``: the chance each is the better
    choice, so the default policy sends the strong model the prompts with ``p > 0.5`` and a
    calibrated threshold moves that line. Fitted on more than two models, it learns the
    dataset's (weak, strong) pair and routes between those two.

    Examples:
        >>> from graphroute.routers import WinRouter
        >>> r = WinRouter(C=10).fit(
        ...     ["add 1 and 2", "sum 5 and 6", "write a sonnet", "compose a haiku"],
        ...     [[1, 1], [1, 1], [0, 1], [0, 1]], models=["small", "big"])
        >>> r.route(["a poem about rain"])
        ['big']
    """

    def __init__(self, C: float = 0.3, max_iter: int = 1000, encoder: Any = None) -> None:
        self.C = C
        self.max_iter = max_iter
        self.encoder = encoder

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        from sklearn.linear_model import LogisticRegression

        w, s = data.index(self.weak_), data.index(self.strong_)
        y = (data.scores[:, s] > data.scores[:, w]).astype(int)
        self.models_ = [self.weak_, self.strong_]
        if self.costs_ is not None:
            self.costs_ = {m: self.costs_[m] for m in self.models_}
        self.coef_, self.intercept_ = np.zeros(V.shape[1]), 0.0
        if 0 < y.sum() < len(y):
            est = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(V, y)
            self.coef_, self.intercept_ = np.ravel(est.coef_), float(est.intercept_[0])
        else:  # one outcome only: a constant
            self.intercept_ = 40.0 if y.mean() > 0.5 else -40.0

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        p = sigmoid(V.astype(np.float64) @ self.coef_ + self.intercept_)
        return np.column_stack([1.0 - p, p])

    def _vector_state(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef_, "intercept": np.asarray(self.intercept_)}

    def _set_vector_state(self, state: dict[str, np.ndarray], saved: Saved) -> None:
        self.coef_, self.intercept_ = state["coef"], float(state["intercept"])
        if len(self.models_) != 2:
            raise ValueError(f"a wins router routes two models, not {len(self.models_)}")
