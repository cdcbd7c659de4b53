"""A router per source of records, each prompt routed by the ones whose records it resembles.

Pooling records of different datasets into one model has a price: what one dataset teaches can
overrule another's signal (the 9-model tasks hold maths prompts the weaker model nearly always
fails, so a router pooled over them stops ranking GSM8K questions against each other;
``benchmarks/transfer.py``). ``DomainRouter`` keeps each source's signal and still covers
them all: it fits one expert router per part of a concatenated dataset
(``parts``) and a similarity-weighted kNN gate over all the
training prompts; a prompt's predicted quality is its experts' predictions weighted by the share of
its nearest training prompts each part holds. Familiarity is measured against every part's prompts.

Fitted on ``roles`` of several datasets it routes any
(weak, strong) pair (``Router.for_pair``) as the shipped general router does
(``graphroute fit`` or a YAML ``fit: {data: [...], roles: true, router: domains}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.persist import Saved
from graphroute.routers.base import ROUTERS, Router
from graphroute.routers.embedding import EmbeddingRouter, fit_member
from graphroute.routers.knn import KNNRouter

#: Experts' gate weights below this are not evaluated (their share of the mixture is negligible).
MIN_WEIGHT = 1e-3


@ROUTERS.register("domains", "An expert router per dataset, mixed by a kNN gate over the training prompts")
class DomainRouter(EmbeddingRouter):
    """An expert per part of the training data, mixed per prompt by a kNN gate.

    Examples:
        >>> from graphroute.datasets import RoutingDataset
        >>> from graphroute.routers import DomainRouter
        >>> sums = RoutingDataset(name="sums", prompts=[f"What is {i} plus {i}?" for i in range(8)],
        ...                       models=["small", "big"], scores=[[1, 1]] * 8)
        >>> poems = RoutingDataset(name="poems", prompts=[f"Write a sonnet about thing {i}." for i in range(8)],
        ...                        models=["small", "big"], scores=[[0, 1]] * 8)
        >>> r = DomainRouter(expert="knn:k=3", k=3).fit(RoutingDataset.concat([sums, poems]))
        >>> r.parts_
        ['sums', 'poems']
        >>> r.route(["What is 9 plus 9?", "Write a sonnet about rain."], threshold=0.5)
        ['small', 'big']
    """

    def __init__(self, expert: Any = "classifier", k: int = 20, temperature: float = 0.05,
                 encoder: Any = "layers", gate_dims: int | None = 64) -> None:
        self.expert = expert
        self.k = k
        self.temperature = temperature
        self.encoder = encoder
        self.gate_dims = gate_dims  # the gate's neighbours on this many principal components (None: all)

    @property
    def slow(self) -> bool:  # type: ignore[override]
        return bool(ROUTERS.make(self.expert).slow)

    def _make_expert(self) -> EmbeddingRouter:
        expert = ROUTERS.make(self.expert)
        if not isinstance(expert, EmbeddingRouter):
            raise ValueError(f"domains: the expert {self.expert!r} is a {type(expert).__name__}, not an embedding router")
        return expert

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        part = data.parts()
        self.parts_ = list(dict.fromkeys(part.tolist()))
        costs = getattr(self, "costs_", None)
        self._experts = []
        for name in self.parts_:
            rows = np.flatnonzero(part == name)
            self._experts.append(fit_member(self._make_expert(), self.encoder_, V[rows], data.subset(rows), costs))
        onehot = (part[:, None] == np.array(self.parts_, dtype=object)[None, :]).astype(np.float64)
        gate = RoutingDataset(name="parts", prompts=data.prompts, models=list(self.parts_), scores=onehot)
        self._gate = fit_member(KNNRouter(k=self.k, temperature=self.temperature, dims=self.gate_dims),
                                self.encoder_, V, gate, None)
        self._members = [*self._experts, self._gate]  # use_encoder reaches them all

    def gate(self, V: np.ndarray) -> np.ndarray:
        """(n, parts) weight of each part's expert for prompts embedded as ``V`` (rows sum to 1)."""
        if len(self.parts_) == 1:
            return np.ones((len(V), 1))
        return self._gate._predict_vectors(V, ())

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        W = self.gate(V)
        keep = W >= MIN_WEIGHT
        keep[np.arange(len(W)), W.argmax(axis=1)] = True  # a row's strongest expert always counts
        W = np.where(keep, W, 0.0)
        W /= W.sum(axis=1, keepdims=True)
        out = np.zeros((len(V), len(self.models_)))
        for d, expert in enumerate(self._experts):
            rows = np.flatnonzero(W[:, d] > 0)
            if len(rows):
                texts = [prompts[int(i)] for i in rows] if len(prompts) else []
                out[rows] += W[rows, d:d + 1] * expert._predict_vectors(V[rows], texts)
        return out

    # ------------------------------------------------------------------ persistence
    def _set_vector_state(self, state: dict[str, np.ndarray], saved: Saved) -> None:
        self._gate = Router.load(saved.path / "gate", encoder=self.encoder)  # type: ignore[assignment]
        self.parts_ = list(self._gate.models_)
        self._experts = [Router.load(saved.path / f"expert{i}", encoder=self.encoder)  # type: ignore[misc]
                         for i in range(len(self.parts_))]
        self._members = [*self._experts, self._gate]
        self.use_encoder(self.encoder_)

    def _save_files(self, folder: Path) -> None:
        self._gate.save(folder / "gate")
        for i, m in enumerate(self._experts):
            m.save(folder / f"expert{i}")
