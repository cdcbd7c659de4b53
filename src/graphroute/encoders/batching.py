"""Shared by the backends that run a mean-pooling transformer themselves (ONNX Runtime, fp32 and int8).

The model's own ``tokenizer.json`` (Rust ``tokenizers``) tokenises unpadded and truncated at the
model's ``max_seq_length``; texts are sorted by token count and padded per batch, so a batch pads
little; the token vectors are mean-pooled over the attention mask, as in the sentence-transformers
pipeline of these models.

Multi-layer pooling (``layers=(1, ..., 6)``): each listed transformer layer's token vectors are
mean-pooled and L2-normalised, and the blocks are concatenated and scaled by ``1/sqrt(len(layers))``
(so the whole vector has norm 1 and a dot product is the mean of the per-layer cosines). The last
block of ``layers`` ending at the top layer is the model's usual sentence embedding. Lower layers
keep the wording and syntax that the top layer's topic vector blurs (the docs' benchmarks page has
what that is worth to a router).
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


def padded_groups(lengths: Sequence[int], batch_size: int, max_padding: float = 0.25) -> list[np.ndarray]:
    """Indices of ``lengths`` sorted by length and cut into batches of at most ``batch_size`` whose
    padded size (count x longest) stays within ``1 + max_padding`` times their real token count.

    A call with a few prompts of very different lengths (a random batch of 8 MMLU prompts spans
    about 30-250 tokens) would otherwise pad them all to the longest and run slower than encoding
    them one by one; a large call's neighbours in length order are close, so its batches stay full.
    """
    order = np.argsort(np.asarray(lengths), kind="stable")
    groups, start, real = [], 0, 0
    for pos, i in enumerate(order):
        n, width = pos - start + 1, lengths[i]  # sorted: this prompt is the batch's longest
        if pos > start and (n > batch_size or n * width > (1.0 + max_padding) * (real + width)):
            groups.append(order[start:pos])
            start, real = pos, 0
        real += lengths[i]
    groups.append(order[start:])
    return groups


def sorted_batches(tok, texts: Sequence[str], batch_size: int,
                   max_padding: float = 0.25) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(rows, input_ids, attention_mask)`` for length-sorted batches of ``texts``
    (see ``padded_groups``)."""
    encs = tok.encode_batch(list(texts)) if len(texts) > 1 else [tok.encode(texts[0])]
    for rows in padded_groups([len(e.ids) for e in encs], batch_size, max_padding):
        width = max(len(encs[i].ids) for i in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for j, i in enumerate(rows):
            n = len(encs[i].ids)
            ids[j, :n] = encs[i].ids
            mask[j, :n] = 1
        yield rows, ids, mask


def encode_sorted(tok, texts: Sequence[str], batch_size: int, forward, layers: Sequence[int] | None) -> np.ndarray:
    """Run ``forward(input_ids, attention_mask)`` over length-sorted batches of ``texts`` and pool.

    ``forward`` returns the top layer's token vectors (batch, seq, dim), mean-pooled here, or with
    ``layers`` the layers already mean-pooled and concatenated (batch, len(layers)*dim), whose blocks
    are normalised here. Rows come back in the order of ``texts``.
    """
    out = None
    for rows, ids, mask in sorted_batches(tok, texts, batch_size):
        hidden = forward(ids, mask)
        vecs = normalise_blocks(hidden, len(layers)) if layers else mean_pool(hidden, mask)
        if out is None:
            out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
        out[rows] = vecs
    return out if out is not None else np.empty((0, 0), dtype=np.float32)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average of the token vectors ``hidden`` (batch, seq, dim) where ``mask`` is 1."""
    m = mask[..., None].astype(np.float32)
    return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


def layers_tag(layers: Sequence[int] | None) -> str:
    """The encoder-id suffix of a multi-layer pooling (``+layers1-6``; ``""`` for the usual top layer)."""
    if not layers:
        return ""
    ls = list(layers)
    if ls == list(range(ls[0], ls[-1] + 1)) and len(ls) > 1:
        return f"+layers{ls[0]}-{ls[-1]}"
    return "+layers" + ",".join(map(str, ls))


def check_layers(layers: Sequence[int] | None, n_layers: int | None = None) -> tuple[int, ...] | None:
    """Validate a layer list: increasing hidden-state indices (0 = token embeddings), at most ``n_layers``."""
    if layers is None:
        return None
    ls = tuple(int(x) for x in layers)
    if not ls or any(b <= a for a, b in zip(ls, ls[1:])) or ls[0] < 0 or (n_layers is not None and ls[-1] > n_layers):
        top = f"0..{n_layers}" if n_layers is not None else "0.."
        raise EncoderError(f"layers must be increasing hidden-state indices in {top}, got {list(layers)}")
    return ls


def pool_layers(hidden_states, attention_mask, layers: Sequence[int]):
    """Torch: each listed layer of ``hidden_states`` mean-pooled over ``attention_mask``, concatenated
    (batch, len(layers)*dim), in fp32. Used by the ONNX export (the graph pools the layers itself)."""
    import torch

    m = attention_mask.unsqueeze(-1).float()
    n = m.sum(dim=1).clamp(min=1e-9)
    return torch.cat([(hidden_states[i].float() * m).sum(dim=1) / n for i in layers], dim=-1)


def normalise_blocks(pooled: np.ndarray, n_blocks: int) -> np.ndarray:
    """L2-normalise each of the ``n_blocks`` equal blocks of every row and scale by 1/sqrt(n_blocks)."""
    if n_blocks <= 1:
        return pooled
    b = pooled.reshape(len(pooled), n_blocks, -1)
    b = b / np.maximum(np.linalg.norm(b, axis=2, keepdims=True), 1e-12)
    return (b / np.sqrt(n_blocks)).reshape(len(pooled), -1).astype(np.float32)
