"""Trained heads on prompt embeddings: logistic, ridge or a small MLP (scikit-learn), one output per model.

Scores are first scaled to 0-1 by the dataset's score range. Binary outcomes get a logistic
regression per model (predicted probability of success); graded ones a ridge regression. The MLP
is one multi-output regressor. Fitted weights are stored as plain arrays, so saving and loading
needs no pickle and prediction needs no scikit-learn.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.routers.embedding import EmbeddingRouter

HEADS = ("logistic", "ridge", "mlp")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class HeadRouter(EmbeddingRouter):
    """A scikit-learn head on MiniLM embeddings predicting each model's quality.

    ``C`` is the inverse regularisation of the logistic head, ``alpha`` the ridge/MLP penalty.

    Example:
        >>> from graphroute.routers import HeadRouter
        >>> r = HeadRouter("logistic", C=10).fit(
        ...     ["add 1 and 2", "sum 5 and 6", "write a sonnet", "compose a haiku"],
        ...     [[1, 1], [1, 1], [0, 1], [0, 1]], models=["small", "big"])
        >>> r.route(["a poem about rain"], threshold=0.5)
        ['big']
    """

    name = "head"

    def __init__(self, head: str = "logistic", C: float = 0.3, alpha: float = 10.0, hidden: int = 64,
                 max_iter: int = 300, seed: int = 0, encoder: Any = None, prompt_features: str = "none",
                 feature_scale: float = 0.1) -> None:
        self.head = head
        self.prompt_features = prompt_features
        self.feature_scale = feature_scale
        self.C = C
        self.alpha = alpha
        self.hidden = hidden
        self.max_iter = max_iter
        self.seed = seed
        self.encoder = encoder

    def _with_features(self, V: np.ndarray, prompts: Sequence[str], fit: bool = False) -> np.ndarray:
        """Embeddings, plus standardised word-problem features of the prompts when asked."""
        if self.prompt_features == "none":
            return V
        from graphroute.routers.features import math_prompt_features

        F = math_prompt_features(list(prompts))
        if fit:
            self._fmean, self._fstd = F.mean(axis=0), F.std(axis=0)
            self._fstd[self._fstd == 0] = 1.0
        return np.hstack([V, (F - self._fmean) / self._fstd * self.feature_scale])

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.prompt_features not in ("none", "math"):
            raise ValueError(f"prompt_features must be 'none' or 'math', got {self.prompt_features!r}")
        V = self._with_features(V, data.prompts, fit=True)
        lo, hi = data.score_range
        self._range = np.array([lo, hi], dtype=np.float64)
        Y = (data.scores - lo) / ((hi - lo) or 1.0)
        binary = bool(np.isin(Y, (0.0, 1.0)).all())
        self._layers: list[np.ndarray] = []
        if self.head == "mlp":
            from sklearn.neural_network import MLPRegressor

            m = MLPRegressor(hidden_layer_sizes=(self.hidden,), alpha=self.alpha / len(Y), max_iter=self.max_iter,
                             early_stopping=len(Y) >= 200, random_state=self.seed).fit(V, Y)
            for W, b in zip(m.coefs_, m.intercepts_):
                self._layers += [W, b]
            self._link = "mlp"
            return
        W = np.zeros((V.shape[1], Y.shape[1]))
        b = np.zeros(Y.shape[1])
        for j in range(Y.shape[1]):
            y = Y[:, j]
            if self.head == "logistic" and binary and 0 < y.sum() < len(y):
                from sklearn.linear_model import LogisticRegression

                m = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(V, y.astype(int))
                W[:, j], b[j] = m.coef_[0], m.intercept_[0]
            elif self.head == "logistic" and binary:  # one class only: a constant
                b[j] = 40.0 if y.mean() > 0.5 else -40.0
            else:
                from sklearn.linear_model import Ridge

                m = Ridge(alpha=self.alpha).fit(V, y)
                W[:, j], b[j] = m.coef_, m.intercept_
        self._layers = [W, b]
        self._link = "sigmoid" if self.head == "logistic" and binary else "identity"

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        V = self._with_features(V, prompts)
        if self._link == "mlp":
            h = V.astype(np.float64)
            for i in range(0, len(self._layers), 2):
                h = h @ self._layers[i] + self._layers[i + 1]
                if i + 2 < len(self._layers):
                    h = np.maximum(h, 0.0)
            q = np.clip(h, 0.0, 1.0)
        else:
            z = V.astype(np.float64) @ self._layers[0] + self._layers[1]
            q = _sigmoid(z) if self._link == "sigmoid" else np.clip(z, 0.0, 1.0)
        lo, hi = self._range
        return lo + q * (hi - lo)

    def _vector_state(self) -> dict[str, np.ndarray]:
        out = {"range": self._range, "link": np.asarray(self._link)}
        if self.prompt_features != "none":
            out.update({"fmean": self._fmean, "fstd": self._fstd})
        out.update({f"layer{i}": a for i, a in enumerate(self._layers)})
        return out

    def _set_vector_state(self, state: dict[str, np.ndarray]) -> None:
        self._range, self._link = state["range"], str(state["link"])
        if self.prompt_features != "none":
            from graphroute.routers.features import MATH_FEATURE_NAMES

            self._fmean, self._fstd = state["fmean"], state["fstd"]
            if len(self._fmean) != len(MATH_FEATURE_NAMES):
                raise ValueError(f"saved with {len(self._fmean)} word-problem features, this version computes "
                                 f"{len(MATH_FEATURE_NAMES)}: fit the router again")
        n = sum(1 for k in state if k.startswith("layer"))
        self._layers = [state[f"layer{i}"] for i in range(n)]
