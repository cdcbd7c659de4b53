"""Stacked ensemble: several routers' quality predictions combined by weights learned out of fold.

``fit`` embeds the prompts once, gets every member's out-of-fold predictions by an inner grouped
K-fold (identical prompts kept together), and learns, with non-negative weights, the mean
quality over models and each model's deviation from it, each as ``sum_k w_k pred_k + b``
(``scipy.optimize.lsq_linear``); then it refits every member on all the data. Members share the
ensemble's encoder, so a query is embedded once, and kNN members over the same examples share one
index, searched once.

Members are router specs, ``[name, params]`` with registered names (``knn``, ``logistic``,
``ridge``, ``features``, ``text``, ...). The default encoder pools MiniLM's layers 1-6
(``encoder="layers"``; the built-in datasets' vectors ship with the package): a member's
``"vectors": "last-layer"`` hands it only the top layer's block (the usual sentence embedding), and
the default members include a logistic head on all six layers. With a one-layer encoder
(``encoder=None``) both views are the same vector and that member is left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.persist import Saved
from graphroute.routers.base import ROUTERS, Router
from graphroute.routers.embedding import EmbeddingRouter, PromptOnlyRouter, fit_member
from graphroute.routers.knn import KNNRouter

#: The recommended configuration (``classifier``): a wide kNN neighbourhood (a topic prior) and a
#: close one, both on the top 64 principal components; a logistic head; boosted trees on the
#: prompt's form and its answer options; a ridge head with word-problem features; and ridge on
#: TF-IDF word n-grams. The benchmarks page of the docs has the figures.
DEFAULT_MEMBERS: list[list[Any]] = [
    ["knn", {"k": 400, "temperature": 0.2, "dims": 64, "vectors": "last-layer"}],
    ["knn", {"k": 50, "temperature": 0.05, "dims": 64, "vectors": "last-layer"}],
    ["logistic", {"C": 0.3, "vectors": "last-layer"}],
    ["features", {"features": "form+options"}],
    ["ridge", {"alpha": 30.0, "prompt_features": "math", "vectors": "last-layer"}],
    ["text", {"alpha": 3.0}],
]
#: Added to the default members when the encoder pools several layers: a logistic head on all of them.
LAYERS_MEMBER: list[Any] = ["logistic", {"C": 0.3}]
VECTORS = ("all", "last-layer")


@ROUTERS.register("classifier", "The recommended router: out-of-fold stacking of kNN, heads, trees and text members")
class StackedRouter(EmbeddingRouter):
    """Out-of-fold stacking of embedding routers.

    Examples:
        >>> from graphroute.routers import StackedRouter
        >>> easy = [f"What is {i} plus {i}?" for i in range(20)]
        >>> hard = [f"Write a sonnet about autumn, number {i}." for i in range(20)]
        >>> r = StackedRouter(members=[["knn", {"k": 5}], ["logistic", {"C": 1.0}]], folds=2)
        >>> r = r.fit(easy + hard, [[1, 1]] * 20 + [[0, 1]] * 20, models=["small", "big"])
        >>> r.route(["What is 3 plus 3?", "Write a sonnet about winter."], threshold=0.5)
        ['small', 'big']
    """

    slow = True

    def __init__(self, members: list[list[Any]] | None = None, folds: int = 5, seed: int = 0,
                 encoder: Any = "layers") -> None:
        self.members = members
        self.folds = folds
        self.seed = seed
        self.encoder = encoder

    @property
    def member_specs(self) -> list[list[Any]]:
        """The member specs in use: ``members``, or the default ones for this encoder."""
        if self.members is not None:
            return self.members
        layered = len(getattr(self.encoder_, "layers", None) or ()) > 1
        return [list(m) for m in DEFAULT_MEMBERS] + ([list(LAYERS_MEMBER)] if layered else [])

    @staticmethod
    def _vectors(spec: Sequence[Any]) -> str:
        return spec[1].get("vectors", "all") if len(spec) > 1 else "all"

    def _views(self, V: np.ndarray) -> dict[str, np.ndarray]:
        """The whole vector, and the top layer's block renormalised (see the module docstring)."""
        blocks = len(getattr(self.encoder_, "layers", None) or (0,))
        if blocks <= 1 or not any(self._vectors(s) == "last-layer" for s in self.member_specs):
            return {"all": V, "last-layer": V}
        top = V[:, V.shape[1] - V.shape[1] // blocks:] * np.float32(np.sqrt(blocks))
        return {"all": V, "last-layer": np.ascontiguousarray(top, dtype=np.float32)}

    def _make(self, spec: Sequence[Any]) -> EmbeddingRouter:
        name, params = spec[0], dict(spec[1]) if len(spec) > 1 else {}
        params.pop("vectors", None)  # the stack's business (checked in _fit_vectors)
        member = ROUTERS.make((name, params))
        if not isinstance(member, EmbeddingRouter):
            raise ValueError(f"ensemble member {name!r} is a {type(member).__name__}, not an embedding router")
        member.use_encoder(self.encoder_)
        return member

    def _fit_member(self, spec, V: np.ndarray, data: RoutingDataset) -> EmbeddingRouter:
        return fit_member(self._make(spec), self.encoder_, V, data, getattr(self, "costs_", None))

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        from scipy.optimize import lsq_linear
        from sklearn.model_selection import GroupKFold

        for spec in self.member_specs:  # bad specs fail before any fitting
            if self._vectors(spec) not in VECTORS:
                raise ValueError(f"ensemble member {spec[0]!r}: vectors must be one of {', '.join(VECTORS)}")
        n, k = len(data), len(self.member_specs)
        oof = np.zeros((k, n, len(data.models)))
        groups = data.prompt_groups()
        folds = min(self.folds, len(np.unique(groups)))
        views = self._views(V)
        for train, test in GroupKFold(n_splits=folds, shuffle=True, random_state=self.seed).split(V, groups=groups):
            part = data.subset(train)
            prompts = [data.prompts[i] for i in test]
            for i, spec in enumerate(self.member_specs):
                X = views[self._vectors(spec)]
                oof[i, test] = self._fit_member(spec, X[train], part)._predict_vectors(X[test], prompts)
        # Two fits: the mean quality over models, and each model's deviation from that mean. The
        # deviations are what routing ranks on (for two models they are +-gain/2), so they get
        # their own weights instead of inheriting those that best fit the absolute levels.
        lower, upper = np.r_[np.zeros(k), -np.inf], np.full(k + 1, np.inf)
        mean_pred, mean_y = oof.mean(axis=2), data.scores.mean(axis=1)
        W = np.zeros((len(data.models) + 1, k + 1))
        W[-1] = lsq_linear(np.column_stack([mean_pred.T, np.ones(n)]), mean_y, bounds=(lower, upper)).x
        for j in range(len(data.models)):
            A = np.column_stack([(oof[:, :, j] - mean_pred).T, np.ones(n)])
            W[j] = lsq_linear(A, data.scores[:, j] - mean_y, bounds=(lower, upper)).x
        self._weights = W
        self._members = [self._fit_member(spec, views[self._vectors(spec)], data) for spec in self.member_specs]
        self._share_indexes()

    def _share_indexes(self) -> None:
        """kNN members over the same examples share one index (searched once per query)."""
        knn = [m for m in self._members if isinstance(m, KNNRouter)]
        for i, m in enumerate(knn):
            for prev in knn[:i]:
                a, b = m.index_, prev.index_
                if a is not b and len(a) == len(b) and a.kind == b.kind and np.array_equal(a.ids(), b.ids()) \
                        and np.array_equal(a.vectors(), b.vectors()):
                    m.index_ = b
                    break

    def _member_predictions(self, V: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
        """Every member's predictions (k, n, models)."""
        views = self._views(V)
        inputs = [views[self._vectors(spec)] for spec in self.member_specs]
        found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        knn = [(m, X) for m, X in zip(self._members, inputs) if isinstance(m, KNNRouter)]
        for m, X in knn:
            key = id(m.index_)
            if key not in found:
                found[key] = m.search(X, max(x.k for x, _ in knn if x.index_ is m.index_))
        return np.stack([m.predict_neighbours(*found[id(m.index_)]) if isinstance(m, KNNRouter)
                         else m._predict_vectors(X, prompts) for m, X in zip(self._members, inputs)])

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        P = self._member_predictions(V, prompts)  # (k, n, models)
        W = self._weights
        mean = P.mean(axis=2)  # (k, n)
        level = mean.T @ W[-1, :-1] + W[-1, -1]
        dev = np.einsum("knj,jk->nj", P - mean[:, :, None], W[:-1, :-1]) + W[:-1, -1]
        return level[:, None] + dev

    def weights(self) -> dict[str, dict[str, float]]:
        """Learned stacking weights per model: member label -> weight, plus the intercept."""
        labels = [f"{i}:{spec[0]}" for i, spec in enumerate(self.member_specs)] + ["intercept"]
        names = [f"{m} (deviation)" for m in self.models_] + ["mean quality"]
        return {m: dict(zip(labels, map(float, row))) for m, row in zip(names, self._weights)}

    # ------------------------------------------------------------------ persistence
    def _vector_state(self) -> dict[str, np.ndarray]:
        return {"weights": self._weights}

    def _set_vector_state(self, state: dict[str, np.ndarray], saved: Saved) -> None:
        self._weights = state["weights"]
        self._members = []
        for i, spec in enumerate(self.member_specs):
            factory = ROUTERS.entry(spec[0]).factory
            texts_only = isinstance(factory, type) and issubclass(factory, PromptOnlyRouter)
            m: Any = Router.load(saved.path / f"member{i}", **({} if texts_only else {"encoder": self.encoder}))
            m.use_encoder(self.encoder_)
            self._members.append(m)
        self._share_indexes()

    def _save_files(self, folder: Path) -> None:
        for i, m in enumerate(self._members):
            m.save(folder / f"member{i}")
