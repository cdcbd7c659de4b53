"""A faster CPU backend: the sentence-transformers model exported to ONNX, run by onnxruntime.

The transformer is exported once with ``torch.onnx.export`` into the cache folder
(``$GRAPHROUTE_CACHE/onnx``), optionally quantised to dynamic int8 with onnxruntime's
``quantize_dynamic``; later processes load the file without importing torch. Tokenisation uses
the model's own ``tokenizer.json`` (Rust ``tokenizers``), unpadded for one text and padded per
length-sorted batch otherwise; mean pooling and L2 normalisation follow, as in the model's
sentence-transformers pipeline.

fp32 gives the same vectors as sentence-transformers (cosine 1.0000 on MMLU prompts), so it
shares its encoder ``id`` and its caches; int8 vectors differ (cosine about 0.95) and get their
own ``id`` (an explicit opt-in for faster queries: see
``with_query_encoder``). Texts are sorted by
length and batched (at most 8) only while padding stays within 25 % of their tokens
(``encoders/batching.py``). Speed figures: the benchmarks page of the docs.
"""

from __future__ import annotations

import os
import threading
import uuid
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from graphroute.encoders.base import normalise
from graphroute.encoders.batching import (check_layers, encode_sorted, layers_tag, load_tokenizer, mean_pooling_dir,
                                          pool_layers)
from graphroute.encoders.sentence_transformers import model_id, model_name, quiet_transformers
from graphroute.errors import EncoderError


def onnx_dir() -> Path:
    """``$GRAPHROUTE_MODEL_CACHE`` or ``~/.cache/graphroute/onnx``: where exported models live."""
    root = os.environ.get("GRAPHROUTE_MODEL_CACHE")
    return Path(root) if root else Path(os.path.expanduser("~")) / ".cache" / "graphroute" / "onnx"


class _Wrapper:  # built lazily so that torch is imported only for the one-off export
    @staticmethod
    def make(model, layers: tuple[int, ...] | None = None):
        import torch

        class Hidden(torch.nn.Module):
            """The top layer's token vectors; with ``layers``, each listed layer's tokens mean-pooled
            over the mask in the graph (the token tensors never leave it), concatenated."""

            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                out = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                             output_hidden_states=layers is not None)
                if layers is None:
                    return out.last_hidden_state
                return pool_layers(out.hidden_states, attention_mask, layers)

        return Hidden(model).eval()


def export_onnx(model_dir: str, out: Path, quantize: bool, layers: tuple[int, ...] | None = None) -> Path:
    """Export ``model_dir``'s transformer to ``out`` (atomically); quantise to int8 if asked; with
    ``layers``, the output is those layers mean-pooled and concatenated, (batch, len(layers)*dim)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}-{uuid.uuid4().hex}.onnx")
    quiet_transformers()
    hf = AutoModel.from_pretrained(model_dir)
    check_layers(layers, int(hf.config.num_hidden_layers))
    model = _Wrapper.make(hf, layers)
    x = torch.ones((1, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {k: {0: "batch", 1: "seq"} for k in names}
    axes["hidden"] = {0: "batch", 1: "seq"} if layers is None else {0: "batch"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about constant shapes; checked by tests
            torch.onnx.export(model, (x, torch.ones_like(x), torch.zeros_like(x)), str(tmp), opset_version=17,
                              input_names=names, output_names=["hidden"], dynamic_axes=axes, dynamo=False)
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            q = tmp.with_name(tmp.stem + "-int8.onnx")
            quantize_dynamic(str(tmp), str(q), weight_type=QuantType.QInt8)
            os.replace(q, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


class OnnxEncoder:
    """ONNX Runtime encoder for mean-pooling sentence-transformers models (default: offline MiniLM).

    Examples:
        >>> from graphroute.encoders import OnnxEncoder
        >>> enc = OnnxEncoder()
        >>> enc.encode(["route me"]).shape, enc.id
        ((1, 384), 'sentence-transformers/all-MiniLM-L6-v2@seqdefault')
        >>> OnnxEncoder(layers=range(1, 7)).encode(["route me"]).shape  # layers 1-6 mean-pooled
        (1, 2304)
    """

    def __init__(self, model: str | None = None, *, quantize: bool = False, threads: int | None = None,
                 batch_size: int = 8, name: str | None = None, layers=None) -> None:
        self.model = model
        self.quantize = quantize
        self.layers = check_layers(layers)
        self.threads = threads
        self.batch_size = batch_size
        self._name = name or model_name(model)
        self._session = None
        self._tok = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        base = model_id(self._name) + layers_tag(self.layers)
        return base + "/onnx-int8" if self.quantize else base

    def _model_dir(self) -> Path:
        return mean_pooling_dir(self.model)

    def _tokenizer(self):
        if self._tok is None:
            self._tok = load_tokenizer(self._model_dir())
        return self._tok

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                mdir = self._model_dir()
                tag = "int8" if self.quantize else "fp32"
                pooled = "-pooled" if self.layers else ""  # the graph pools the layers itself
                onnx_file = onnx_dir() / f"{self._name}-{tag}{layers_tag(self.layers)}{pooled}.onnx"
                if not onnx_file.is_file():
                    export_onnx(str(mdir), onnx_file, self.quantize, self.layers)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self.threads or min(os.cpu_count() or 1, 4)
                opts.inter_op_num_threads = 1
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                # ONNX Runtime's threads spin after each run by default, holding the cores that the
                # router's own products need right after the forward; turned off for this session
                # only (no process-wide setting changes): with spinning, route p50 was about 60 ms
                # instead of 31 ms on a 2-core AVX2 machine (benchmarks/classifier_speed.py).
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                try:
                    self._session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
                except Exception as exc:  # corrupt export: remove it so the next load re-exports
                    onnx_file.unlink(missing_ok=True)
                    raise EncoderError(f"{onnx_file}: could not load the ONNX model ({exc}); it was removed") from exc
                self._tokenizer()
        return self._session

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        session = self._load()
        if not texts:
            return np.zeros((0, 384 * len(self.layers or (0,))), dtype=np.float32)
        out = encode_sorted(self._tok, texts, self.batch_size, lambda ids, mask: session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0], self.layers)
        return normalise(out, len(texts), self.id)
