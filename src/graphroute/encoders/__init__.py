"""Encoders: texts in, L2-normalised vectors out. The offline MiniLM (ONNX Runtime or
sentence-transformers; PyTorch bf16 as an opt-in), a static token table distilled from it, any LangChain ``Embeddings``, and
an on-disk cache that holds the built-in datasets' vectors. Heavy libraries load on first ``encode``.

Examples:
    >>> from graphroute.encoders import resolve_encoder
    >>> resolve_encoder(None).id
    'sentence-transformers/all-MiniLM-L6-v2@seqdefault'
"""

from graphroute.encoders.base import Encoder, normalise
from graphroute.encoders.disk_cache import CachedEncoder, default_cache_dir, encode_queries, text_key
from graphroute.encoders.langchain import LangChainEncoder
from graphroute.encoders.mixin import EncoderMixin
from graphroute.encoders.onnx import OnnxEncoder
from graphroute.encoders.select import (BACKENDS, DEFAULT_LAYERS, SPECS, builtin_embeddings_dir, default_encoder,
                                        make_encoder, resolve_encoder)
from graphroute.encoders.sentence_transformers import SentenceTransformerEncoder, default_model_path
from graphroute.encoders.static import StaticEncoder
from graphroute.encoders.torch_bf16 import TorchBf16Encoder

__all__ = [
    "BACKENDS",
    "DEFAULT_LAYERS",
    "SPECS",
    "CachedEncoder",
    "Encoder",
    "EncoderMixin",
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
    "make_encoder",
    "normalise",
    "resolve_encoder",
    "text_key",
]
