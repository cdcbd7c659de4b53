"""Stacked ensemble: several routers' quality predictions combined by weights learned out of fold.

``fit`` embeds the prompts once, gets every member's out-of-fold predictions by an inner grouped
K-fold (identical prompts kept together), and learns, with non-negative weights, the mean
quality over models and each model's deviation from it, each as ``Σ_k w_k·pred_k + b``
(``scipy.optimize.lsq_linear``); then it refits every member on all the data. Members share the ensemble's encoder, so a query is embedded once.

The default encoder pools MiniLM's layers 1-6 (``encoder="layers"``, encoders/batching.py). A
member spec's ``"vectors": "last-layer"`` hands that member only the top layer's block (the usual
sentence embedding); without it a member sees the whole vector. With a one-layer encoder both are
the same vector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.routers.base import Router
from graphroute.routers.embedding import EmbeddingRouter, PromptOnlyRouter
from graphroute.routers.features import FeatureRouter
from graphroute.routers.heads import HeadRouter
from graphroute.routers.knn import KNNRouter
from graphroute.routers.text import TextRouter

MEMBER_TYPES: dict[str, type[EmbeddingRouter]] = {"knn": KNNRouter, "head": HeadRouter, "features": FeatureRouter,
                                                  "text": TextRouter}

#: The recommended configuration (``--router classifier``): a wide kNN neighbourhood (topic prior),
#: a close kNN, a logistic head, boosted trees on prompt-form features, and a ridge head on the
#: embedding plus word-problem features (quantities, percentages, step words, answer-format risks):
#: on GSM8K that member lifts the stack from APGR 0.605 to 0.656 (seed 0; MMLU unchanged).
#: Both kNN members search the top 64 principal components of the training embeddings (centred,
#: re-normalised; one shared 64-d index): MMLU 5-fold APGR 0.670/0.672/0.671 -> 0.679/0.675/0.675
#: (seeds 0/1/2), leave-subjects-out 0.618 -> 0.626, GSM8K unchanged (0.657/0.686/0.673), and the
#: search scans a sixth of the bytes. The sixth member, ridge on TF-IDF word n-grams (routers/text.py),
#: adds lexical cues the embedding blurs: MMLU 0.679 -> 0.685 (seed 0), leave-subjects-out 0.626 ->
#: 0.633, GSM8K unchanged. The trees also read the answer options (routers/choice_features.py: close
#: distractors, numeric options, "all of the above", ...): MMLU 0.685 -> 0.690, leave-subjects-out
#: 0.633 -> 0.641, GSM8K unchanged (no options there). Five inner folds instead of three (members of the
#: out-of-fold step trained on 80 % of the data, closer to the final ones): leave-subjects-out 0.641 -> 0.646
#: (seed 0; 0.613 -> 0.616 at seed 1), MMLU 0.690/0.684/0.681 -> 0.689/0.684/0.678 (seeds 0/1/2), GSM8K
#: 0.657/0.683/0.670 -> 0.663/0.680/0.670; fitting takes about 5/3 as long. The seventh member, a
#: logistic head on MiniLM's layers 1-6 mean-pooled (the other embedding members keep the top layer):
#: alone 0.684 against 0.660 for the top layer; MMLU 0.689/0.684/0.678 -> 0.696/0.694/0.689 (seeds
#: 0/1/2), leave-subjects-out 0.646 -> 0.655, GSM8K 0.663/0.680/0.670 -> 0.665/0.677/0.672. Every
#: embedding member on all six layers instead (an experiment on bf16 vectors, seed 0): 0.695.
DEFAULT_MEMBERS: list[list[Any]] = [
    ["knn", {"k": 400, "temperature": 0.2, "dims": 64, "vectors": "last-layer"}],
    ["knn", {"k": 50, "temperature": 0.05, "dims": 64, "vectors": "last-layer"}],
    ["head", {"head": "logistic", "C": 0.3, "vectors": "last-layer"}],
    ["features", {"features": "form+options"}],
    ["head", {"head": "ridge", "alpha": 30.0, "prompt_features": "math", "vectors": "last-layer"}],
    ["text", {"alpha": 3.0}],
    ["head", {"head": "logistic", "C": 0.3}],
]
VECTORS = ("all", "last-layer")


class StackedRouter(EmbeddingRouter):
    """Out-of-fold stacking of embedding routers.

    Example:
        >>> from graphroute.routers import StackedRouter
        >>> easy = [f"What is {i} plus {i}?" for i in range(20)]
        >>> hard = [f"Write a sonnet about autumn, number {i}." for i in range(20)]
        >>> r = StackedRouter(members=[["knn", {"k": 5}], ["head", {"C": 1.0}]], folds=2)
        >>> r = r.fit(easy + hard, [[1, 1]] * 20 + [[0, 1]] * 20, models=["small", "big"])
        >>> r.route(["What is 3 plus 3?", "Write a sonnet about winter."], threshold=0.5)
        ['small', 'big']
    """

    name = "stacked"

    def __init__(self, members: list[list[Any]] | None = None, folds: int = 5, seed: int = 0,
                 encoder: Any = "layers") -> None:
        self.members = members if members is not None else [list(m) for m in DEFAULT_MEMBERS]
        self.folds = folds
        self.seed = seed
        self.encoder = encoder

    @staticmethod
    def _vectors(spec: Sequence[Any]) -> str:
        return spec[1].get("vectors", "all") if len(spec) > 1 else "all"

    def _views(self, V: np.ndarray) -> dict[str, np.ndarray]:
        """The whole vector, and the top layer's block renormalised (see the module docstring)."""
        blocks = len(getattr(self.encoder_, "layers", None) or (0,))
        if blocks <= 1 or not any(self._vectors(s) == "last-layer" for s in self.members):
            return {"all": V, "last-layer": V}
        top = V[:, V.shape[1] - V.shape[1] // blocks:] * np.float32(np.sqrt(blocks))
        return {"all": V, "last-layer": np.ascontiguousarray(top, dtype=np.float32)}

    def _make(self, spec: Sequence[Any]) -> EmbeddingRouter:
        kind, params = spec[0], dict(spec[1]) if len(spec) > 1 else {}
        params.pop("vectors", None)  # the stack's business (checked in _fit_vectors)
        if kind not in MEMBER_TYPES:
            raise ValueError(f"unknown ensemble member {kind!r}; choose from {', '.join(MEMBER_TYPES)}")
        member = MEMBER_TYPES[kind](**params)
        member._encoder = self.encoder_
        return member

    def _fit_member(self, spec, V: np.ndarray, data: RoutingDataset) -> EmbeddingRouter:
        m = self._make(spec)
        m.models_, m.weak_, m.strong_ = list(data.models), data.weak, data.strong
        m.encoder_id_ = self.encoder_.id if not isinstance(m, PromptOnlyRouter) else "none"
        m._fit_vectors(V, data)
        return m

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        from scipy.optimize import lsq_linear
        from sklearn.model_selection import GroupKFold

        for spec in self.members:  # bad specs fail before any fitting
            if self._vectors(spec) not in VECTORS:
                raise ValueError(f"ensemble member {spec[0]!r}: vectors must be one of {', '.join(VECTORS)}")
        n, k = len(data), len(self.members)
        oof = np.zeros((k, n, len(data.models)))
        groups = data.prompt_groups()
        folds = min(self.folds, len(np.unique(groups)))
        views = self._views(V)
        for train, test in GroupKFold(n_splits=folds, shuffle=True, random_state=self.seed).split(V, groups=groups):
            part = data.subset(train)
            prompts = [data.prompts[i] for i in test]
            for i, spec in enumerate(self.members):
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
        self._members = [self._fit_member(spec, views[self._vectors(spec)], data) for spec in self.members]
        self._share_indexes()

    def _share_indexes(self) -> None:
        """kNN members over the same examples share one index (searched once per query)."""
        knn = [m for m in self._members if isinstance(m, KNNRouter)]
        for i, m in enumerate(knn):
            for prev in knn[:i]:
                a, b = m.index_, prev.index_
                if a is not b and len(a) == len(b) and a.kind == b.kind and np.array_equal(np.sort(a.ids()), np.sort(b.ids())) \
                        and all(np.array_equal(a._store[int(j)], b._store[int(j)]) for j in a.ids()):
                    m.index_ = b
                    break

    def _member_predictions(self, V: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
        views = self._views(V)
        inputs = [views[self._vectors(spec)] for spec in self.members]
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
        labels = [f"{i}:{spec[0]}" for i, spec in enumerate(self.members)] + ["intercept"]
        names = [f"{m} (deviation)" for m in self.models_] + ["mean quality"]
        return {m: dict(zip(labels, map(float, row))) for m, row in zip(names, self._weights)}

    # ------------------------------------------------------------------ persistence
    def _vector_state(self) -> dict[str, np.ndarray]:
        return {"weights": self._weights}

    def _set_vector_state(self, state: dict[str, np.ndarray]) -> None:
        self._weights = state["weights"]

    def _save_files(self, folder: Path) -> None:
        for i, m in enumerate(self._members):
            m.save(folder / f"member{i}")

    def _load_files(self, folder: Path) -> None:
        self._members = []
        for i, spec in enumerate(self.members):
            texts_only = issubclass(MEMBER_TYPES.get(spec[0], EmbeddingRouter), PromptOnlyRouter)
            m = Router.load(folder / f"member{i}", **({} if texts_only else {"encoder": self.encoder}))
            m._encoder = self.encoder_
            self._members.append(m)
        self._share_indexes()
