"""Use any LangChain ``Embeddings`` as a graphroute encoder."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.encoders.base import normalise


class LangChainEncoder:
    """Wrap a LangChain ``Embeddings`` object (``embed_documents``) as an encoder.

    ``id`` defaults to the class name plus its ``model``/``model_name`` attribute; pass one
    explicitly when that does not identify the vectors.

    Examples:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from graphroute.encoders import LangChainEncoder
        >>> enc = LangChainEncoder(DeterministicFakeEmbedding(size=8))
        >>> enc.encode(["a", "b"]).shape, enc.id
        ((2, 8), 'langchain/DeterministicFakeEmbedding/size8')
    """

    def __init__(self, embeddings: Any, id: str | None = None) -> None:
        if not hasattr(embeddings, "embed_documents"):
            raise TypeError(f"{type(embeddings).__name__} has no embed_documents(); expected a LangChain Embeddings")
        self.embeddings = embeddings
        self._id = id

    @property
    def id(self) -> str:
        if self._id:
            return self._id
        e = self.embeddings
        tag = getattr(e, "model", None) or getattr(e, "model_name", None)
        if tag is None and hasattr(e, "size"):
            tag = f"size{e.size}"
        return f"langchain/{type(e).__name__}/{tag}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return normalise(self.embeddings.embed_documents(texts), len(texts), self.id)
