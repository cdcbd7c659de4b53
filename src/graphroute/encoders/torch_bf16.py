"""An opt-in CPU backend for bulk embedding: the model in bfloat16 under PyTorch (``torch-bf16``).

On a CPU with native bfloat16 units (AVX512-BF16 / AMX) PyTorch's oneDNN kernels run the
transformer in bf16 several times faster than fp32 on large batches. The forward is the model's own
(``transformers.AutoModel``); graphroute only tokenises, length-sorts and pools (in fp32), with the
same helpers as the ONNX backend. The vectors depend on the CPU's bf16 kernels and differ a little
from fp32 (cosine 0.9999 on MMLU prompts), so the backend has its own id (``.../torch-bf16``), is
never chosen by default, and serves a router fitted on fp32 vectors through
``with_query_encoder``. On a CPU without bf16
units it is slower than ``onnx``. Figures: the docs' benchmarks page.
"""

from __future__ import annotations

import os
import threading
from typing import Sequence

import numpy as np

from graphroute.encoders.base import normalise
from graphroute.encoders.batching import (check_layers, encode_sorted, layers_tag, load_tokenizer, mean_pooling_dir,
                                          pool_layers)
from graphroute.encoders.sentence_transformers import model_id, model_name, quiet_transformers
from graphroute.errors import EncoderError


class TorchBf16Encoder:
    """A mean-pooling sentence-transformers folder run in bfloat16 by PyTorch (default: offline MiniLM).

    Examples:
        >>> from graphroute.encoders import TorchBf16Encoder
        >>> enc = TorchBf16Encoder(layers=range(1, 7))
        >>> enc.encode(["route me", "to the best model"]).shape, enc.id
        ((2, 2304), 'sentence-transformers/all-MiniLM-L6-v2@seqdefault+layers1-6/torch-bf16')
    """

    def __init__(self, model: str | None = None, *, batch_size: int = 64, layers=None, name: str | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self.layers = check_layers(layers)
        self._name = name or model_name(model)
        self._hf = None
        self._tok = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return model_id(self._name) + layers_tag(self.layers) + "/torch-bf16"

    def _load(self):
        with self._lock:
            if self._hf is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                import torch
                from transformers import AutoModel

                quiet_transformers()
                mdir = mean_pooling_dir(self.model)
                try:
                    hf = AutoModel.from_pretrained(str(mdir), dtype=torch.bfloat16)
                except Exception as exc:  # transformers raises many kinds
                    raise EncoderError(f"could not load {mdir} with transformers: {exc}") from exc
                check_layers(self.layers, int(hf.config.num_hidden_layers))
                self._tok = load_tokenizer(mdir)
                self._hf = hf.eval()
        return self._hf

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        texts = list(texts)
        hf = self._load()
        if not texts:
            return np.zeros((0, 384 * len(self.layers or (0,))), dtype=np.float32)

        def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)
            res = hf(input_ids=t_ids, attention_mask=t_mask, token_type_ids=torch.zeros_like(t_ids),
                     output_hidden_states=self.layers is not None)
            if self.layers:
                return pool_layers(res.hidden_states, t_mask, self.layers).numpy()
            return res.last_hidden_state.float().numpy()

        with torch.inference_mode():
            out = encode_sorted(self._tok, texts, self.batch_size, forward, self.layers)
        return normalise(out, len(texts), self.id)
