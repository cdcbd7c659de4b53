"""Similarity-weighted k-nearest-neighbour quality router over a FAISS index.

A prompt's predicted quality for each model is the similarity-weighted mean of that model's
recorded scores on the ``k`` most similar training prompts. Weights are
``exp((sim - max_sim) / temperature)``: a small temperature trusts the closest neighbours, a
large one averages a wide neighbourhood (a topic prior). Examples can be added and removed
without refitting.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import UnknownModelError
from graphroute.index import VectorIndex
from graphroute.routers.base import as_dataset
from graphroute.routers.embedding import EmbeddingRouter


class KNNRouter(EmbeddingRouter):
    """Similarity-weighted kNN over prompt embeddings (RouteLLM's sw_ranking idea, per model).

    Example:
        >>> from graphroute.routers import KNNRouter
        >>> r = KNNRouter(k=2).fit(["add two numbers", "write a sonnet about love", "sum 3 and 4"],
        ...                        [[1, 1], [0, 1], [1, 1]], models=["small", "big"])
        >>> r.route(["compose a poem about the sea"], threshold=0.5)
        ['big']
    """

    name = "knn"

    def __init__(self, k: int = 50, temperature: float = 0.05, encoder: Any = None, index_kind: str = "auto") -> None:
        self.k = k
        self.temperature = temperature
        self.encoder = encoder
        self.index_kind = index_kind

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        self.index_ = VectorIndex(V.shape[1], self.index_kind)
        ids = self.index_.add(V)
        self._labels = np.zeros((0, len(self.models_)))
        self._grow(ids, np.asarray(data.scores, dtype=np.float64))

    def _grow(self, ids: np.ndarray, labels: np.ndarray) -> None:
        need = int(ids.max()) + 1 if len(ids) else 0
        if need > len(self._labels):
            pad = np.full((need - len(self._labels), labels.shape[1]), np.nan)
            self._labels = np.vstack([self._labels, pad])
        self._labels[ids] = labels

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        sims, ids = self.index_.search(V, self.k)
        return self.predict_neighbours(sims, ids)

    def predict_neighbours(self, sims: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Quality from neighbours already found (the first ``k`` columns are used), so routers
        sharing one index search it once."""
        sims, ids = sims[:, : self.k], ids[:, : self.k]
        w = np.exp((sims - sims[:, :1]) / max(self.temperature, 1e-6))
        w[ids < 0] = 0.0
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkm->nm", w, self._labels[np.maximum(ids, 0)])

    # ------------------------------------------------------------------ online updates
    def add_examples(self, X: Any, y: Any = None, *, models: Sequence[str] | None = None) -> np.ndarray:
        """Add labelled prompts (a dataset, or prompts + scores) without refitting; returns their ids."""
        self._check_fitted()
        data = as_dataset(X, y, models or self.models_)
        missing = [m for m in self.models_ if m not in data.models]
        if missing:
            raise UnknownModelError(missing[0], data.models, "add_examples")
        ids = self.index_.add(self.embed(data.prompts))
        self._grow(ids, data.scores[:, [data.index(m) for m in self.models_]])
        return ids

    def remove_examples(self, ids: Sequence[int]) -> int:
        """Remove examples by the ids ``fit``/``add_examples`` gave them (fit assigns 0..n-1)."""
        self._check_fitted()
        return self.index_.remove(np.asarray(ids, dtype=np.int64))

    # ------------------------------------------------------------------ persistence
    def _vector_state(self) -> dict[str, np.ndarray]:
        ids = np.sort(self.index_.ids())
        vecs = np.stack([self.index_._store[int(i)] for i in ids]) if len(ids) else np.zeros((0, 1), np.float32)
        return {"ids": ids, "vectors": vecs, "labels": self._labels}

    def _set_vector_state(self, state: dict[str, np.ndarray]) -> None:
        vecs = np.asarray(state["vectors"], dtype=np.float32)
        self.index_ = VectorIndex(vecs.shape[1], self.index_kind)
        self.index_.add(vecs, state["ids"])
        self._labels = np.asarray(state["labels"], dtype=np.float64)
