"""Batch-throughput CPU backend: the transformer's matrix products in bfloat16, run by PyTorch.

On CPUs with native bfloat16 dot products (AVX512-BF16 or AMX; ``torch`` reports them through
``torch.ops.mkldnn._is_mkldnn_bf16_supported``) the matrix products run at about twice the fp32
rate, while the vectors stay within cosine 0.99997 of fp32 (residual stream, layer norms, softmax,
mean pooling and normalisation are fp32). BERT models (MiniLM) run on a fused forward pass
(``bf16_bert.py``: one query/key/value product, attention as two batched products); other
architectures, or ``fused=False``, run ``transformers``' own model under ``torch.autocast``.
Measured here (2 cores, AMD EPYC with AVX512-BF16, a noisy shared machine), layers 1-6 pooled,
``benchmarks/encoder_speed.py`` (first 300 MMLU prompts), two runs: 358 / 295 prompts/s fused,
223 / 237 with ``transformers``' forward, 224 / 180 for ONNX fp32; 512 later MMLU prompts in
batches of 8: 185-232 prompts/s fused against 163-192. In the classifier (``benchmarks/
classifier_speed.py``) batch routing went from 137-157 to 143-164 prompts/s over repeated runs
(fp32 alone 95-115); later runs, medians of three passes each: 153-176. The linear layers run
at about 770 GFLOP/s there, near the two cores' bf16 peak: what is left is softmax and memory
traffic. One prompt at a time it is about as fast as ONNX fp32 (p50 5.5-6.0 against 5.3-7.5 ms),
but loading imports torch: use it for bulk routing, keep ONNX for single requests (``OnnxEncoder``
does this by itself: its ``encode_queries`` hands batches of 8 or more prompts to this backend).

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
from graphroute.encoders.bf16_bert import fast_bert
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

    def __init__(self, model: str | None = None, *, batch_size: int = 8, name: str | None = None, layers=None,
                 fused: bool = True) -> None:
        self.model = model
        self.layers = check_layers(layers)
        self.batch_size = batch_size
        self.fused = fused
        self._name = name or model_name(model)
        self._model = None
        self._fast = None
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
                self._fast = fast_bert(model) if self.fused else None
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
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._fast is None):
            for rows, ids, mask in sorted_batches(self._tok, texts, self.batch_size):
                ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
                states = self._states(model, ids_t, mask_t)
                if self.layers is None:
                    out[rows] = mean_pool(states[-1].float().numpy(), mask)
                else:  # pooled in torch: the layers' token tensors never become numpy arrays
                    out[rows] = normalise_blocks(pool_layers(states, mask_t, self.layers).numpy(), blocks)
        return normalise(out, len(texts), self.id)

    def _states(self, model, ids_t, mask_t):
        """Every layer's token states: the fused forward (``bf16_bert.py``) or ``transformers``' own."""
        if self._fast is not None:
            return self._fast(ids_t, mask_t)
        import torch

        res = model(input_ids=ids_t, attention_mask=mask_t, token_type_ids=torch.zeros_like(ids_t),
                    output_hidden_states=True)
        return res.hidden_states
