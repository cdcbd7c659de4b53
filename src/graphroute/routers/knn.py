"""Similarity-weighted k-nearest-neighbour quality router over a FAISS index.

A prompt's predicted quality for each model is the similarity-weighted mean of that model's
recorded scores on the ``k`` most similar training prompts. Weights are
``exp((sim - max_sim) / temperature)``: a small temperature trusts the closest neighbours, a
large one averages a wide neighbourhood (a topic prior). Examples can be added and removed
without refitting.

``dims``: search the training embeddings' top principal components instead of the raw vectors
(centred, projected, re-normalised; the projection is saved with the router and applied to
queries and added examples). Centring removes the direction all prompts share, which sharpens
the neighbourhoods, and a 64-d index is a sixth of the bytes to scan per query.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import UnknownModelError
from graphroute.index import VectorIndex
from graphroute.persist import Saved
from graphroute.routers.base import ROUTERS, as_dataset
from graphroute.routers.embedding import EmbeddingRouter


@ROUTERS.register("knn", k=50)
class KNNRouter(EmbeddingRouter):
    """Similarity-weighted kNN over prompt embeddings (RouteLLM's sw_ranking idea, per model).

    Examples:
        >>> from graphroute.routers import KNNRouter
        >>> r = KNNRouter(k=2).fit(["add two numbers", "write a sonnet about love", "sum 3 and 4"],
        ...                        [[1, 1], [0, 1], [1, 1]], models=["small", "big"])
        >>> r.route(["compose a poem about the sea"], threshold=0.5)
        ['big']
    """

    def __init__(self, k: int = 50, temperature: float = 0.05, encoder: Any = None, index_kind: Literal["auto", "flat", "ivf"] = "auto",
                 dims: int | None = None) -> None:
        self.k = k
        self.temperature = temperature
        self.encoder = encoder
        self.index_kind = index_kind
        self.dims = dims

    def project(self, V: np.ndarray) -> np.ndarray:
        """Vectors as the index holds them: centred, projected on the training set's top ``dims``
        principal components and re-normalised (unchanged when ``dims`` is None)."""
        if getattr(self, "_proj", None) is None:
            return V
        Z = (V - self._proj_mean) @ self._proj
        Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(Z, dtype=np.float32)

    def search(self, V: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids) of the ``k`` nearest stored examples to embeddings ``V``."""
        return self.index_.search(self.project(V), k)

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.dims is not None and self.dims < 1:
            raise ValueError(f"dims must be None or >= 1, got {self.dims}")
        self._proj = None
        if self.dims is not None and self.dims < V.shape[1]:
            self._proj_mean = V.mean(axis=0)
            self._proj = np.ascontiguousarray(np.linalg.svd(V - self._proj_mean, full_matrices=False)[2][: self.dims].T,
                                              dtype=np.float32)
        V = self.project(V)
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
        return self.predict_neighbours(*self.search(V, self.k))


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
        ids = self.index_.add(self.project(self.embed(data.prompts)))
        self._grow(ids, data.scores[:, [data.index(m) for m in self.models_]])
        return ids

    def remove_examples(self, ids: Sequence[int]) -> int:
        """Remove examples by the ids ``fit``/``add_examples`` gave them (fit assigns 0..n-1)."""
        self._check_fitted()
        return self.index_.remove(np.asarray(ids, dtype=np.int64))

    # ------------------------------------------------------------------ persistence
    def _vector_state(self) -> dict[str, np.ndarray]:
        proj = {} if self._proj is None else {"proj": self._proj, "proj_mean": self._proj_mean}
        return {"ids": self.index_.ids(), "vectors": self.index_.vectors(), "labels": self._labels, **proj}

    def _set_vector_state(self, state: dict[str, np.ndarray], saved: Saved) -> None:
        vecs = np.asarray(state["vectors"], dtype=np.float32)
        self.index_ = VectorIndex(vecs.shape[1], self.index_kind)
        self.index_.add(vecs, state["ids"])
        self._labels = np.asarray(state["labels"], dtype=np.float64)
        self._proj = state.get("proj")
        if self._proj is not None:
            self._proj, self._proj_mean = np.asarray(self._proj, np.float32), np.asarray(state["proj_mean"], np.float32)
