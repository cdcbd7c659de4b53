"""Base of routers that work on prompt embeddings.

Subclasses implement ``_fit_vectors(V, data)`` and ``_predict_vectors(V)`` (V: normalised
embeddings); this class embeds prompts once, checks the encoder on load, and lets an ensemble
hand the same vectors to all its members.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import PersistenceError
from graphroute.routers.base import Router, check_prompts
from graphroute.routers.blas_threads import few_query_blas


def resolve_encoder(encoder: Any):
    """``None`` -> the cached offline MiniLM (ONNX backend when available); ``"layers"`` or
    ``"layers:<model folder>"`` -> the same model with layers 1-6 mean-pooled into one vector
    (``encoders.DEFAULT_LAYERS``; cached); ``"static"`` or ``"static:<model folder>"`` -> the
    token table distilled from MiniLM (or that model); another string -> that sentence-transformers
    model folder or name (cached); an object with ``encode`` -> itself. Strings are saved with a
    router, so ``Router.load`` rebuilds the same encoder."""
    from graphroute.encoders import DEFAULT_LAYERS, StaticEncoder, default_encoder

    if isinstance(encoder, str) and (encoder == "static" or encoder.startswith("static:")):
        return StaticEncoder(encoder.partition(":")[2] or None)
    if isinstance(encoder, str) and (encoder == "layers" or encoder.startswith("layers:")):
        return default_encoder(encoder.partition(":")[2] or None, layers=DEFAULT_LAYERS)
    if encoder is None or isinstance(encoder, str):
        return default_encoder(encoder)
    if not hasattr(encoder, "encode") or not hasattr(encoder, "id"):
        raise TypeError(f"encoder must be None, a model path, or an Encoder; got {type(encoder).__name__}")
    return encoder


class EmbeddingRouter(Router):
    """A router whose predictions are a function of the prompt's embedding."""

    encoder: Any = None

    @property
    def encoder_(self):
        if getattr(self, "_encoder", None) is None:
            self._encoder = resolve_encoder(self.encoder)
        return self._encoder

    def with_query_encoder(self, encoder: Any) -> "EmbeddingRouter":
        """Embed new queries with a faster variant of the fitted encoder (the fitted examples stay).

        Only variants of the same model and pooling are accepted: their id must be the fitted
        encoder's plus ``/<variant>``, as the int8 ONNX export (``make_encoder(backend="onnx-int8")``)
        and the bf16 backend (``backend="bf16"``) give (with the same ``layers``). Measured on MMLU
        (classifier fitted on 10,000 prompts, 2,323 held out): APGR 0.675 with fp32 queries, 0.677
        with int8 ones (mean cosine 0.95); the int8 forward is about a third faster. The top-layer
        stack (``classifier-top-layer``, same split): fp32 0.672, int8 0.675, bf16 0.672 (tie-safe 0.678
        for all three); the multi-layer ``classifier``: fp32 0.685, int8 0.689, bf16 0.685 (tie-safe
        0.691 / 0.692 / 0.691).
        """
        from graphroute.errors import EncoderError

        fitted = getattr(self, "encoder_id_", None) or self.encoder_.id
        if not (str(encoder.id) == fitted or str(encoder.id).startswith(fitted + "/")):
            raise EncoderError(f"query encoder {encoder.id!r} is not a variant of the fitted encoder {fitted!r}")
        self._encoder = encoder
        for m in getattr(self, "_members", []):
            if isinstance(m, EmbeddingRouter):
                m._encoder = encoder
        return self

    def embed(self, X: Sequence[str], *, store: bool = True) -> np.ndarray:
        """Normalised vectors of ``X``; ``store=False`` (queries) reads the embedding cache without
        adding to it, so routing live requests leaves no files behind (``encoders/cache.py``)."""
        return self._encode_checked(check_prompts(X), store)

    def _encode_checked(self, X: list[str], store: bool) -> np.ndarray:
        from graphroute.encoders import encode_queries

        V = self.encoder_.encode(X) if store else encode_queries(self.encoder_, X)
        return np.ascontiguousarray(V, dtype=np.float32)

    def _fit(self, data: RoutingDataset) -> None:
        self.encoder_id_ = self.encoder_.id
        self._fit_vectors(self.embed(data.prompts), data)

    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        X = check_prompts(X)
        V = self._encode_checked(X, store=False)
        with few_query_blas(len(X)):  # see routers/blas_threads.py
            return self._predict_vectors(V, X)

    def quality_dataset(self, data: RoutingDataset) -> np.ndarray:
        """Predicted quality on a dataset's prompts, whose vectors are cached (datasets are scored again)."""
        self._check_fitted()
        return self._predict_vectors(self.embed(data.prompts), data.prompts)

    @abstractmethod
    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        """Learn from the embeddings ``V`` of ``data.prompts``."""

    @abstractmethod
    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
        """(n, models) predicted quality from the prompts' embeddings ``V`` (and texts)."""

    # persistence: params must be JSON; an Encoder object is passed again to load()
    def _json_params(self) -> dict[str, Any]:
        params = self.get_params()
        if not (params.get("encoder") is None or isinstance(params.get("encoder"), str)):
            params["encoder"] = None
        return params

    def _check_encoder(self, saved_id: str) -> None:
        if self.encoder_.id != saved_id:
            raise PersistenceError(f"router was fitted with encoder {saved_id!r} but is loaded with {self.encoder_.id!r}")
        self.encoder_id_ = saved_id

    def _state(self) -> dict[str, np.ndarray]:
        return {"encoder_id": np.asarray(self.encoder_id_), **self._vector_state()}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._check_encoder(str(state["encoder_id"]))
        self._set_vector_state(state)

    def _vector_state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_vector_state(self, state: dict[str, np.ndarray]) -> None:
        pass


class PromptOnlyRouter(EmbeddingRouter):
    """An :class:`EmbeddingRouter` that reads only the prompt texts, never their embeddings.

    It still accepts ``encoder`` so a stack can hand it the shared vectors; alone it skips the
    encoder entirely (saved with encoder id ``"none"``, loadable with any encoder).
    """

    def _encode_checked(self, X: list[str], store: bool) -> np.ndarray:
        return np.zeros((len(X), 0), dtype=np.float32)

    def _fit(self, data: RoutingDataset) -> None:
        self.encoder_id_ = "none"
        self._fit_vectors(self.embed(data.prompts), data)

    def _check_encoder(self, saved_id: str) -> None:
        self.encoder_id_ = saved_id
