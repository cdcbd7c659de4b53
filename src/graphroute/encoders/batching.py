"""Shared by the backends that run a mean-pooling transformer themselves (ONNX, bf16 torch).

The model's own ``tokenizer.json`` (Rust ``tokenizers``) tokenises unpadded and truncated at the
model's ``max_seq_length``; texts are sorted by token count and padded per batch, so a batch pads
little; the token vectors are mean-pooled over the attention mask, as in the sentence-transformers
pipeline of these models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from graphroute.encoders.sentence_transformers import default_model_path
from graphroute.errors import EncoderError


def mean_pooling_dir(model: str | None) -> Path:
    """The local model folder (default: the offline MiniLM); it must be a mean-pooling model."""
    path = Path(model if model is not None else default_model_path())
    if not (path / "tokenizer.json").is_file():
        raise EncoderError(f"{path}: no tokenizer.json; this backend needs a local sentence-transformers folder")
    pooling = path / "1_Pooling" / "config.json"
    if pooling.is_file() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", False):
        raise EncoderError(f"{path}: this backend implements mean pooling only")
    return path


def load_tokenizer(model_dir: Path):
    """The folder's ``tokenizer.json``, unpadded, truncated at its ``max_seq_length`` (256 if unset)."""
    from tokenizers import Tokenizer

    max_len = 256
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.is_file():
        max_len = int(json.loads(cfg.read_text()).get("max_seq_length", max_len))
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_len)
    return tok


def sorted_batches(tok, texts: Sequence[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(rows, input_ids, attention_mask)`` for length-sorted batches of ``texts``."""
    encs = tok.encode_batch(list(texts)) if len(texts) > 1 else [tok.encode(texts[0])]
    order = np.argsort([len(e.ids) for e in encs], kind="stable")
    for start in range(0, len(encs), batch_size):
        rows = order[start:start + batch_size]
        width = max(len(encs[i].ids) for i in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for j, i in enumerate(rows):
            n = len(encs[i].ids)
            ids[j, :n] = encs[i].ids
            mask[j, :n] = 1
        yield rows, ids, mask


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of the token vectors ``hidden`` (batch, seq, dim) where ``mask`` is 1."""
    m = mask[..., None].astype(np.float32)
    return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
