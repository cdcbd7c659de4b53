"""Choosing an encoder: backends by name (one registry), the cached default, and encoder specs.

An *encoder spec* is what estimators take as ``encoder=`` and save with themselves, so that a
loaded router rebuilds the same encoder:

* ``None`` — the offline all-MiniLM-L6-v2 (ONNX Runtime when installed), wrapped in the on-disk
  embedding cache that holds the built-in datasets' vectors;
* ``"layers"`` — the same model with layers 1-6 mean-pooled into one vector (``DEFAULT_LAYERS``);
* ``"static"`` — a token table distilled from MiniLM (far faster, somewhat less accurate);
* ``"<name>:<model folder>"`` — that backend on another local sentence-transformers folder;
* any other string — a sentence-transformers model folder (default backend, cached);
* an object with ``encode`` and ``id`` (an ``Encoder``) — itself.

Examples:
    >>> from graphroute.encoders import resolve_encoder
    >>> resolve_encoder(None).id, resolve_encoder("layers").id
    ('sentence-transformers/all-MiniLM-L6-v2@seqdefault', 'sentence-transformers/all-MiniLM-L6-v2@seqdefault+layers1-6')
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from graphroute.datasets import builtin_path
from graphroute.encoders.disk_cache import CachedEncoder
from graphroute.encoders.ends import EndsEncoder
from graphroute.encoders.onnx import OnnxEncoder
from graphroute.encoders.sentence_transformers import SentenceTransformerEncoder
from graphroute.encoders.static import StaticEncoder
from graphroute.encoders.torch_bf16 import TorchBf16Encoder
from graphroute.errors import EncoderError
from graphroute.registry import Registry

#: The hidden states the multi-layer encoder pools (MiniLM: 6 layers; 0 would be the token
#: embeddings): see ``encoders/batching.py``.
DEFAULT_LAYERS = (1, 2, 3, 4, 5, 6)
BACKENDS = Registry("encoder backend")
BACKENDS.add("onnx", lambda model=None, layers=None: OnnxEncoder(model, layers=layers),
             "ONNX Runtime, fp32: the same vectors as sentence-transformers, about twice as fast on a CPU")
BACKENDS.add("onnx-int8", lambda model=None, layers=None: OnnxEncoder(model, quantize=True, layers=layers),
             "ONNX Runtime with dynamic int8 weights: faster, cosine about 0.95 to fp32 (its own id)")
BACKENDS.add("sentence-transformers", lambda model=None: SentenceTransformerEncoder(model),
             "the sentence-transformers library itself (any model it loads)")
BACKENDS.add("torch-bf16", lambda model=None, layers=None: TorchBf16Encoder(model, layers=layers),
             "PyTorch in bfloat16 (opt-in): about twice fp32 in bulk on CPUs with bf16 units; its own id")
BACKENDS.add("static", lambda model=None: StaticEncoder(model), "a token table distilled from the model")


def builtin_embeddings_dir() -> Path:
    """Precomputed embeddings of the built-in datasets' prompts (read-only cache layer)."""
    return builtin_path("embeddings")


def make_encoder(model: str | None = None, backend: str = "auto", *, layers=None):
    """An uncached encoder for a sentence-transformers model folder (default: the offline MiniLM).

    ``auto`` is ONNX Runtime fp32 when onnxruntime is installed and the model is a local
    mean-pooling folder, else sentence-transformers. ``layers`` pools several transformer layers
    into one vector (the ONNX and torch-bf16 backends).
    """
    if backend == "auto":
        if importlib.util.find_spec("onnxruntime") is not None:
            enc = OnnxEncoder(model, layers=layers)
            try:
                enc._model_dir()
                return enc
            except EncoderError:
                if layers is not None:
                    raise
        backend = "sentence-transformers"
    if layers is not None and backend not in ("onnx", "onnx-int8", "torch-bf16"):
        raise EncoderError(f"multi-layer pooling needs the onnx, onnx-int8 or torch-bf16 backend, not {backend!r}")
    return BACKENDS.make(backend, model=model, **({"layers": layers} if layers is not None else {}))


def default_encoder(model: str | None = None, *, cache: bool = True, cache_dir: str | Path | None = None,
                    backend: str = "auto", layers=None):
    """The offline MiniLM (or ``model``), wrapped in the disk cache with the shipped embeddings."""
    enc = make_encoder(model, backend, layers=layers)
    if not cache:
        return enc
    return CachedEncoder(enc, cache_dir, read_only_dirs=[builtin_embeddings_dir()])


SPECS = Registry("encoder")
SPECS.add("default", lambda model=None: default_encoder(model), "the offline MiniLM, cached")
SPECS.add("layers", lambda model=None: default_encoder(model, layers=DEFAULT_LAYERS),
          "MiniLM's layers 1-6, each mean-pooled, concatenated (cached)")
SPECS.add("ends", lambda model=None: CachedEncoder(EndsEncoder(make_encoder(model), model=model), None,
                                                  read_only_dirs=[builtin_embeddings_dir()]),
          "the offline MiniLM on a long prompt's first 64 and last 190 tokens (few-shot prompts), cached")
SPECS.add("static", lambda model=None: StaticEncoder(model), "the static token table distilled from MiniLM")


def resolve_encoder(spec: Any):
    """The encoder an estimator's ``encoder=`` parameter names (see the module docstring)."""
    if spec is None:
        return default_encoder()
    if isinstance(spec, str):
        name, _, model = spec.partition(":")
        if name in SPECS:
            return SPECS.make(name, model=model or None)
        return default_encoder(spec)
    if not hasattr(spec, "encode") or not hasattr(spec, "id"):
        raise TypeError(f"encoder must be None, a spec string or an Encoder (with encode and id); "
                        f"got {type(spec).__name__}")
    return spec
