"""Similarity-weighted k-nearest-neighbour quality router over FAISS.

A prompt's predicted quality for each model is the similarity-weighted mean of that model's
recorded scores on the ``k`` most similar training prompts (cosine similarity of normalised
embeddings, exact inner-product search). Weights are ``exp((sim - max_sim) / temperature)``,
so a small temperature trusts the closest neighbours most.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import PersistenceError
from graphroute.routers.base import Router, check_prompts


def resolve_encoder(encoder: Any):
    """``None`` -> the cached offline MiniLM; a string -> that sentence-transformers model (cached);
    an object with ``encode`` -> itself."""
    from graphroute.encoders import default_encoder

    if encoder is None or isinstance(encoder, str):
        return default_encoder(encoder)
    if not hasattr(encoder, "encode") or not hasattr(encoder, "id"):
        raise TypeError(f"encoder must be None, a model path, or an Encoder; got {type(encoder).__name__}")
    return encoder


class KNNRouter(Router):
    """Similarity-weighted kNN over prompt embeddings (RouteLLM's sw_ranking idea, per model).

    Example:
        >>> from graphroute.routers import KNNRouter
        >>> r = KNNRouter(k=2).fit(["add two numbers", "write a sonnet about love", "sum 3 and 4"],
        ...                        [[1, 1], [0, 1], [1, 1]], models=["small", "big"])
        >>> r.route(["compose a poem about the sea"], threshold=0.5)
        ['big']
    """

    name = "knn"

    def __init__(self, k: int = 50, temperature: float = 0.05, encoder: Any = None) -> None:
        self.k = k
        self.temperature = temperature
        self.encoder = encoder

    # the encoder object is built lazily and shared by fit and predict
    @property
    def encoder_(self):
        if getattr(self, "_encoder", None) is None:
            self._encoder = resolve_encoder(self.encoder)
        return self._encoder

    def _build_index(self) -> None:
        import faiss

        self._index = faiss.IndexFlatIP(self._vectors.shape[1])
        self._index.add(self._vectors)

    def _fit(self, data: RoutingDataset) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        self._vectors = np.ascontiguousarray(self.encoder_.encode(check_prompts(data.prompts)), dtype=np.float32)
        self._labels = np.asarray(data.scores, dtype=np.float64)
        self.encoder_id_ = self.encoder_.id
        self._build_index()

    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        q = np.ascontiguousarray(self.encoder_.encode(check_prompts(X)), dtype=np.float32)
        k = min(self.k, len(self._labels))
        sims, idx = self._index.search(q, k)
        w = np.exp((sims - sims[:, :1]) / max(self.temperature, 1e-6))
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkm->nm", w, self._labels[idx])

    def _json_params(self) -> dict[str, Any]:
        params = self.get_params()
        if not (params["encoder"] is None or isinstance(params["encoder"], str)):
            params["encoder"] = None  # an encoder object must be passed again to load()
        return params

    def _state(self) -> dict[str, np.ndarray]:
        return {"vectors": self._vectors, "labels": self._labels, "encoder_id": np.asarray(self.encoder_id_)}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        saved_id = str(state["encoder_id"])
        if self.encoder_.id != saved_id:
            raise PersistenceError(f"router was fitted with encoder {saved_id!r} but is loaded with {self.encoder_.id!r}")
        self._vectors = np.ascontiguousarray(state["vectors"], dtype=np.float32)
        self._labels = state["labels"]
        self.encoder_id_ = saved_id
        self._build_index()
