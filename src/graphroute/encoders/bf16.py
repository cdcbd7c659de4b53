"""Batch-throughput CPU backend: the transformer run by PyTorch under bfloat16 autocast.

On CPUs with native bfloat16 dot products (AVX512-BF16 or AMX; ``torch`` reports them through
``torch.ops.mkldnn._is_mkldnn_bf16_supported``) the matrix products run at about twice the fp32
rate, while the vectors stay within cosine 0.99997 of fp32 (mean pooling and normalisation are
done in fp32). Measured here (2 cores, AMD EPYC with AVX512-BF16, a noisy shared machine), batches
of 8 over 512 MMLU prompts: 150-201 prompts/s over repeated runs against 108-142 for ONNX fp32
and 74 for PyTorch fp32; ``benchmarks/encoder_speed.py`` (first 300 MMLU prompts): 281 prompts/s
against 214 for ONNX fp32 and 418 for ONNX int8 (whose vectors are only cosine ~0.95 to fp32).
One prompt at a time it is slower than ONNX fp32 (p50 7.2 against 5.5 ms there), and loading
imports torch: use it for bulk routing, keep ONNX for single-request latency (``OnnxEncoder`` does
this by itself: its ``encode_queries`` hands batches of 32 or more prompts to this backend).

Its vectors are not bit-identical to fp32, so it has its own ``id`` (``…/bf16``): a router fitted
with the default encoder takes it for queries through
:meth:`~graphroute.routers.embedding.EmbeddingRouter.with_query_encoder`.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Sequence

import numpy as np

from graphroute.encoders.base import normalise
from graphroute.encoders.batching import (check_layers, layers_tag, load_tokenizer, mean_pool, mean_pooling_dir,
                                          normalise_blocks, pool_layers, sorted_batches)
from graphroute.encoders.sentence_transformers import model_id, model_name, quiet_transformers
from graphroute.errors import EncoderError


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bfloat16 matrix instructions (else autocast emulates them, slowly)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - torch builds without oneDNN
        return False


class TorchBf16Encoder:
    """Mean-pooling sentence-transformers model (default: offline MiniLM) in PyTorch bfloat16 autocast.

    Example:
        >>> from graphroute.encoders import TorchBf16Encoder
        >>> enc = TorchBf16Encoder()
        >>> enc.encode(["route me", "to the best model"]).shape, enc.id
        ((2, 384), 'sentence-transformers/all-MiniLM-L6-v2@seqdefault/bf16')
    """

    def __init__(self, model: str | None = None, *, batch_size: int = 8, name: str | None = None, layers=None) -> None:
        self.model = model
        self.layers = check_layers(layers)
        self.batch_size = batch_size
        self._name = name or model_name(model)
        self._model = None
        self._tok = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return model_id(self._name) + layers_tag(self.layers) + "/bf16"

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                mdir = mean_pooling_dir(self.model)
                from transformers import AutoModel

                quiet_transformers()
                try:
                    model = AutoModel.from_pretrained(str(mdir)).eval()
                except Exception as exc:  # the library raises many kinds
                    raise EncoderError(f"{mdir}: could not load the transformer ({exc})") from exc
                check_layers(self.layers, int(model.config.num_hidden_layers))
                if not cpu_has_bf16():
                    warnings.warn("this CPU has no native bfloat16 instructions: the bf16 encoder will be slower "
                                  "than the onnx backend", RuntimeWarning, stacklevel=3)
                self._tok = load_tokenizer(mdir)
                self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        model = self._load()
        import torch

        blocks = len(self.layers or (0,))
        out = np.empty((len(texts), int(model.config.hidden_size) * blocks), dtype=np.float32)
        if not texts:
            return out
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            for rows, ids, mask in sorted_batches(self._tok, texts, self.batch_size):
                ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
                res = model(input_ids=ids_t, attention_mask=mask_t, token_type_ids=torch.zeros_like(ids_t),
                            output_hidden_states=self.layers is not None)
                if self.layers is None:
                    out[rows] = mean_pool(res.last_hidden_state.float().numpy(), mask)
                else:  # pooled in torch: the layers' token tensors never become numpy arrays
                    out[rows] = normalise_blocks(pool_layers(res.hidden_states, mask_t, self.layers).numpy(), blocks)
        return normalise(out, len(texts), self.id)
