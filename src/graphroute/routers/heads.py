"""Trained heads on prompt embeddings: logistic, ridge or a small MLP (scikit-learn), one output per model.

Scores are first scaled to 0-1 by the dataset's score range. A model whose outcomes are 0/1 gets a
logistic regression (predicted probability of success), one whose outcomes are graded a ridge
regression: the choice is made per model, so one graded column does not change the others. The MLP
is one multi-output regressor, saved with ``skops.io``. A linear head's fitted state is its
weights, ``coef_`` (features x models) and ``intercept_``, as scikit-learn's linear models expose
them: it predicts with one matrix product and is saved as those arrays, because a saved router
must load in a cold process within seconds and importing ``skops.io`` alone takes longer than that
here (``benchmarks/classifier_speed.py``, the docs' benchmarks page).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.persist import Saved
from graphroute.routers.base import ROUTERS
from graphroute.routers.embedding import EmbeddingRouter
from graphroute.tasks.word_problems import MATH_FEATURE_NAMES, math_prompt_features

HEADS = ("logistic", "ridge", "mlp")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, clipped so that no exp overflows (NumPy only: no SciPy import on a cold start)."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


@ROUTERS.register("logistic", head="logistic", C=0.3)
class HeadRouter(EmbeddingRouter):
    """A scikit-learn head on prompt embeddings predicting each model's quality.

    ``C`` is the inverse regularisation of the logistic head, ``alpha`` the ridge/MLP penalty;
    ``prompt_features="math"`` adds standardised word-problem features
    (``graphroute.tasks.word_problems``), scaled by ``feature_scale``. The linear heads also learn
    from partial labels (NaN where a model's outcome is unknown, as in logged feedback; see
    ``graphroute.datasets.logged``), weighting each row by ``meta["weights"]``.

    Examples:
        >>> from graphroute.routers import HeadRouter
        >>> r = HeadRouter("logistic", C=10).fit(
        ...     ["add 1 and 2", "sum 5 and 6", "write a sonnet", "compose a haiku"],
        ...     [[1, 1], [1, 1], [0, 1], [0, 1]], models=["small", "big"])
        >>> r.route(["a poem about rain"], threshold=0.5)
        ['big']
    """

    learns_partial = True

    def __init__(self, head: str = "logistic", C: float = 0.3, alpha: float = 10.0, hidden: int = 64,
                 max_iter: int = 300, seed: int = 0, encoder: Any = None, prompt_features: str = "none",
                 feature_scale: float = 0.1) -> None:
        self.head = head
        self.C = C
        self.alpha = alpha
        self.hidden = hidden
        self.max_iter = max_iter
        self.seed = seed
        self.encoder = encoder
        self.prompt_features = prompt_features
        self.feature_scale = feature_scale

    @property
    def name(self) -> str:
        """The registered name of this head (``logistic``, ``ridge`` or ``mlp``)."""
        return self.head

    def _with_features(self, V: np.ndarray, prompts: Sequence[str], fit: bool = False) -> np.ndarray:
        """Embeddings, plus standardised word-problem features of the prompts when asked."""
        if self.prompt_features == "none":
            return V
        F = math_prompt_features(list(prompts))
        if fit:
            self._fmean, self._fstd = F.mean(axis=0), F.std(axis=0)
            self._fstd[self._fstd == 0] = 1.0
        return np.hstack([V, (F - self._fmean) / self._fstd * self.feature_scale])

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.neural_network import MLPRegressor

        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.prompt_features not in ("none", "math"):
            raise ValueError(f"prompt_features must be 'none' or 'math', got {self.prompt_features!r}")
        V = self._with_features(V, data.prompts, fit=True)
        lo, hi = data.score_range
        self._range = np.array([lo, hi], dtype=np.float64)
        Y = (data.scores - lo) / ((hi - lo) or 1.0)
        known = ~np.isnan(Y)  # partial labels (logged feedback): only the called model's outcome
        W = data.meta.get("weights") if not known.all() else None
        if not known.all() and self.head == "mlp":
            raise ValueError("the mlp head needs every model's outcome; logistic and ridge learn from partial feedback")
        if self.head == "mlp":
            self._link, self._links = "mlp", np.asarray([])
            self.mlp_ = MLPRegressor(hidden_layer_sizes=(self.hidden,), alpha=self.alpha / len(Y), max_iter=self.max_iter,
                                     early_stopping=len(Y) >= 200, random_state=self.seed).fit(V, Y)
            return
        # the link per model: a logistic regression where that model's outcomes are 0/1, a ridge
        # regression where they are graded (one graded column does not change the others)
        self._link = "linear"
        self._links = np.asarray(["sigmoid" if self.head == "logistic" and np.isin(Y[known[:, j], j], (0.0, 1.0)).all()
                                  else "identity" for j in range(Y.shape[1])])
        self.coef_, self.intercept_ = np.zeros((V.shape[1], Y.shape[1])), np.zeros(Y.shape[1])
        # ridge columns known on every row share one factorisation: one multi-output fit (the same
        # solution per column, a ninth of the time for nine models)
        shared = [j for j in range(Y.shape[1]) if self._links[j] == "identity" and known[:, j].all()] if W is None else []
        if shared:
            est = Ridge(alpha=self.alpha).fit(V, Y[:, shared])
            self.coef_[:, shared], self.intercept_[shared] = np.atleast_2d(est.coef_).T, np.ravel(est.intercept_)
        for j in range(Y.shape[1]):
            if j in shared:
                continue
            rows = known[:, j]
            y, Vj, w = Y[rows, j], V[rows], (None if W is None else W[rows, j])
            if not len(y):  # no feedback for this model yet: an uninformed 0.5
                continue
            binary = self._links[j] == "sigmoid"
            if binary and not 0 < y.sum() < len(y):  # one outcome only: a constant
                self.intercept_[j] = 40.0 if y.mean() > 0.5 else -40.0
                continue
            est = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(Vj, y.astype(int), sample_weight=w) \
                if binary else Ridge(alpha=self.alpha).fit(Vj, y, sample_weight=w)
            self.coef_[:, j], self.intercept_[j] = np.ravel(est.coef_), float(np.ravel(est.intercept_)[0])

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        V = self._with_features(V, prompts)
        if self._link == "mlp":
            q = np.clip(self.mlp_.predict(V).reshape(len(V), -1), 0.0, 1.0)
        else:
            z = V.astype(np.float64) @ self.coef_ + self.intercept_
            q = np.where(self._links == "sigmoid", sigmoid(z), np.clip(z, 0.0, 1.0))
        lo, hi = self._range
        return lo + q * (hi - lo)

    # ------------------------------------------------------------------ persistence
    def _estimators(self) -> dict[str, Any]:
        return {"mlp": self.mlp_} if self._link == "mlp" else {}

    def _vector_state(self) -> dict[str, np.ndarray]:
        out = {"range": self._range, "link": np.asarray(self._link if self._link == "mlp" else self._links)}
        if self._link != "mlp":
            out.update({"coef": self.coef_, "intercept": self.intercept_})
        if self.prompt_features != "none":
            out.update({"fmean": self._fmean, "fstd": self._fstd})
        return out

    def _set_vector_state(self, state: dict[str, np.ndarray], saved: Saved) -> None:
        self._range, link = state["range"], np.asarray(state["link"])
        if link.ndim == 0:  # "mlp", or one link for every model (saved before links were per model)
            self._link = "mlp" if str(link) == "mlp" else "linear"
            self._links = np.full(len(self.models_), str(link))
        else:
            self._link, self._links = "linear", link.astype(str)
        if self.prompt_features != "none":
            self._fmean, self._fstd = state["fmean"], state["fstd"]
            if len(self._fmean) != len(MATH_FEATURE_NAMES):
                raise ValueError(f"saved with {len(self._fmean)} word-problem features, this version computes "
                                 f"{len(MATH_FEATURE_NAMES)}: fit the router again")
        if self._link == "mlp":
            self.mlp_ = saved.estimator("mlp")
        else:
            self.coef_, self.intercept_ = state["coef"], state["intercept"]
            if self.coef_.shape[1:] != (len(self.models_),):
                raise ValueError(f"coefficients {self.coef_.shape} do not match {len(self.models_)} models")


ROUTERS.add("ridge", HeadRouter, "Ridge regressions on prompt embeddings, one per model", head="ridge", alpha=100.0)
ROUTERS.add("mlp", HeadRouter, "A small multi-output MLP on prompt embeddings", head="mlp", alpha=10.0, hidden=64)
