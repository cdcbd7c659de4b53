"""Encoders: sentence-transformers (offline MiniLM by default), any LangChain ``Embeddings``, and
an on-disk cache. Heavy libraries load on first ``encode``.

Example:
    >>> from graphroute.encoders import default_encoder
    >>> default_encoder().id
    'sentence-transformers/all-MiniLM-L6-v2@seqdefault'
"""

from __future__ import annotations

from pathlib import Path

from graphroute.encoders.base import Encoder, normalise
from graphroute.encoders.cache import CachedEncoder, default_cache_dir, text_key
from graphroute.encoders.langchain import LangChainEncoder
from graphroute.encoders.sentence_transformers import SentenceTransformerEncoder, default_model_path

__all__ = [
    "CachedEncoder",
    "Encoder",
    "LangChainEncoder",
    "SentenceTransformerEncoder",
    "builtin_embeddings_dir",
    "default_cache_dir",
    "default_encoder",
    "default_model_path",
    "normalise",
    "text_key",
]


def builtin_embeddings_dir() -> Path:
    """Precomputed embeddings of the built-in datasets' prompts (read-only cache layer)."""
    from graphroute.datasets import builtin_path

    return builtin_path("embeddings")


def default_encoder(model: str | None = None, *, cache: bool = True, cache_dir: str | Path | None = None):
    """The offline MiniLM (or ``model``), wrapped in the disk cache with the shipped embeddings."""
    enc = SentenceTransformerEncoder(model)
    if not cache:
        return enc
    return CachedEncoder(enc, cache_dir, read_only_dirs=[builtin_embeddings_dir()])
