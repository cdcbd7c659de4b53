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
from graphroute.encoders.bf16 import TorchBf16Encoder
from graphroute.encoders.cache import CachedEncoder, default_cache_dir, encode_queries, text_key
from graphroute.encoders.langchain import LangChainEncoder
from graphroute.encoders.onnx import OnnxEncoder
from graphroute.encoders.sentence_transformers import SentenceTransformerEncoder, default_model_path
from graphroute.encoders.static import StaticEncoder

__all__ = [
    "DEFAULT_LAYERS",
    "CachedEncoder",
    "Encoder",
    "LangChainEncoder",
    "OnnxEncoder",
    "SentenceTransformerEncoder",
    "StaticEncoder",
    "TorchBf16Encoder",
    "builtin_embeddings_dir",
    "default_cache_dir",
    "default_encoder",
    "default_model_path",
    "encode_queries",
    "normalise",
    "text_key",
]


def builtin_embeddings_dir() -> Path:
    """Precomputed embeddings of the built-in datasets' prompts (read-only cache layer)."""
    from graphroute.datasets import builtin_path

    return builtin_path("embeddings")


BACKENDS = ("auto", "onnx", "onnx-int8", "bf16", "sentence-transformers", "static")
#: The hidden states the classifier's multi-layer encoder pools (MiniLM: 6 layers; 0 would be the
#: token embeddings): see the module docstring of ``encoders/batching.py``.
DEFAULT_LAYERS = (1, 2, 3, 4, 5, 6)


def make_encoder(model: str | None = None, backend: str = "auto", *, layers=None):
    """An encoder for a sentence-transformers model folder (default: the offline MiniLM).

    ``auto`` picks the ONNX Runtime backend (same vectors, about twice as fast on CPU) when
    onnxruntime is installed and the model is a local mean-pooling folder, else
    sentence-transformers; ``onnx-int8`` trades a little accuracy (cosine ~0.95) for speed;
    ``static`` is a token table distilled from the model (:class:`StaticEncoder`): another
    encoder, far faster, somewhat less accurate routing. ``layers`` (e.g. :data:`DEFAULT_LAYERS`)
    pools several transformer layers into one vector (ONNX and bf16 backends only).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if layers is not None and backend in ("sentence-transformers", "static"):
        raise ValueError(f"multi-layer pooling needs the onnx, onnx-int8 or bf16 backend, not {backend!r}")
    if backend == "sentence-transformers":
        return SentenceTransformerEncoder(model)
    if backend == "static":
        return StaticEncoder(model)
    if backend == "bf16":
        return TorchBf16Encoder(model, layers=layers)
    if backend in ("onnx", "onnx-int8"):
        return OnnxEncoder(model, quantize=backend == "onnx-int8", layers=layers)
    import importlib.util

    if layers is not None:  # only our own backends pool several layers: no silent fallback
        backend = "onnx" if importlib.util.find_spec("onnxruntime") is not None else "bf16"
        return make_encoder(model, backend, layers=layers)
    try:
        if importlib.util.find_spec("onnxruntime") is None:
            return SentenceTransformerEncoder(model)
        enc = OnnxEncoder(model)
        enc._model_dir()
        return enc
    except Exception:  # not a local mean-pooling folder: let sentence-transformers handle it
        return SentenceTransformerEncoder(model)


def default_encoder(model: str | None = None, *, cache: bool = True, cache_dir: str | Path | None = None,
                    backend: str = "auto", layers=None):
    """The offline MiniLM (or ``model``), wrapped in the disk cache with the shipped embeddings."""
    enc = make_encoder(model, backend, layers=layers)
    if not cache:
        return enc
    return CachedEncoder(enc, cache_dir, read_only_dirs=[builtin_embeddings_dir()])
