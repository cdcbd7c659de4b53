"""A static-embedding encoder distilled from a sentence-transformers model (the model2vec idea).

Every token of the model's vocabulary is run once through the transformer on its own
(``[CLS] token [SEP]``, mean-pooled, as the model would embed that one-token text); a text's
vector is then the mean of its tokens' vectors: a table lookup instead of a forward pass. It loses
word order and context, so it is a different encoder with its own ``id`` (routers fitted with it
must be queried with it), and it is what makes batch routing fast on a CPU: thousands of prompts
per second instead of tens.

The distilled table is built once (ONNX Runtime on the exported model, about 20-40 s on 2 cores
for MiniLM's 30,522 tokens) and kept in ``$GRAPHROUTE_MODEL_CACHE`` (default
``~/.cache/graphroute``) as ``static/<model>.npy`` (float16, written atomically); a corrupt
table is removed and rebuilt. model2vec's own ``distill`` would do the same job, but its
``distill`` extra pins ``transformers<5.4``, below what sentence-transformers 6 needs here.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np

from graphroute.encoders.base import normalise
from graphroute.encoders.onnx import OnnxEncoder, onnx_dir
from graphroute.errors import EncoderError

DISTILL_BATCH = 1024
ENCODE_CHUNK = 256


class StaticEncoder:
    """Token-table encoder distilled from a mean-pooling sentence-transformers model (default MiniLM).

    Examples:
        >>> from graphroute.encoders import StaticEncoder
        >>> enc = StaticEncoder()
        >>> v = enc.encode(["route me to a cheap model", "route me to a small model", "a poem about rain"])
        >>> v.shape, enc.id, bool(v[0] @ v[1] > v[0] @ v[2])
        ((3, 384), 'static/all-MiniLM-L6-v2', True)
    """

    def __init__(self, model: str | None = None, *, name: str | None = None) -> None:
        self.model = model
        self._source = OnnxEncoder(model, name=name)
        self._name = self._source._name
        self._table: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return f"static/{self._name}"

    def _table_file(self) -> Path:
        return onnx_dir().parent / "static" / f"{self._name}.npy"

    def distill(self) -> np.ndarray:
        """(vocab, dim) float32: each vocabulary token embedded alone by the source model."""
        session = self._source._load()
        tok = self._source._tokenizer()
        vocab = tok.get_vocab_size()
        cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise EncoderError(f"{self._source._model_dir()}: static distillation needs a BERT-style tokenizer ([CLS]/[SEP])")
        rows = []
        for start in range(0, vocab, DISTILL_BATCH):
            ids = np.arange(start, min(start + DISTILL_BATCH, vocab), dtype=np.int64)
            x = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], axis=1)
            out = session.run(None, {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)})[0]
            rows.append(out.mean(axis=1))
        return np.concatenate(rows).astype(np.float32)

    def _load(self) -> np.ndarray:
        with self._lock:
            if self._table is None:
                path = self._table_file()
                table = None
                if path.is_file():
                    try:
                        table = np.load(path, allow_pickle=False)
                    except (ValueError, OSError):
                        table = None
                    if table is None or table.ndim != 2 or not np.all(np.isfinite(table)):
                        path.unlink(missing_ok=True)  # corrupt: rebuild below
                        table = None
                if table is None:
                    table = self.distill().astype(np.float16)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.npy")
                    try:
                        np.save(tmp, table)
                        os.replace(tmp, path)
                    finally:
                        tmp.unlink(missing_ok=True)
                self._table = np.asarray(table, dtype=np.float32)
        return self._table

    @property
    def dim(self) -> int:
        return int(self._load().shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        table = self._load()
        if not texts:
            return np.zeros((0, table.shape[1]), dtype=np.float32)
        tok = self._source._tokenizer()
        out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for start in range(0, len(texts), ENCODE_CHUNK):  # bounds the (tokens, dim) gather
            chunk = texts[start:start + ENCODE_CHUNK]
            encs = tok.encode_batch(chunk, add_special_tokens=False) if len(chunk) > 1 else [tok.encode(chunk[0], add_special_tokens=False)]
            lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
            flat = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
            full = np.flatnonzero(lengths > 0)
            if len(full):
                starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[full]
                out[start + full] = np.add.reduceat(table[flat], starts, axis=0) / lengths[full, None]
        return normalise(out, len(texts), self.id)
