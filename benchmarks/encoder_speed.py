"""Encoder backends on MMLU prompts, one prompt per call (2 cores): p50/p99 latency, batch throughput
and the cosine of each backend's vectors to sentence-transformers'. The multi-layer rows (layers 1-6
mean-pooled, the classifier's default) compare their top-layer block with it.

Run: python benchmarks/encoder_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.encoders import (DEFAULT_LAYERS, OnnxEncoder, SentenceTransformerEncoder, StaticEncoder,
                                 TorchBf16Encoder)


def main() -> None:
    prompts = load_dataset("routellm-mmlu").prompts[:300]
    ref = SentenceTransformerEncoder()
    ref_vecs = ref.encode(prompts[:100])
    backends = [("sentence-transformers", ref), ("onnx fp32", OnnxEncoder()), ("onnx int8", OnnxEncoder(quantize=True)),
                ("onnx fp32 layers 1-6", OnnxEncoder(layers=DEFAULT_LAYERS)),
                ("onnx int8 layers 1-6", OnnxEncoder(quantize=True, layers=DEFAULT_LAYERS)),
                ("torch bf16 (opt-in)", TorchBf16Encoder()),
                ("torch bf16 layers 1-6 (opt-in)", TorchBf16Encoder(layers=DEFAULT_LAYERS)),
                ("static (distilled table)", StaticEncoder())]
    for name, enc in backends:
        enc.encode(prompts[:10])
        lat = []
        for p in prompts:
            t = time.perf_counter()
            enc.encode([p])
            lat.append((time.perf_counter() - t) * 1000)
        v = enc.encode(prompts[:100])
        blocks = len(getattr(enc, "layers", None) or (0,))
        cos = np.sum(v[:, -ref_vecs.shape[1]:] * np.sqrt(blocks) * ref_vecs, axis=1)
        t = time.perf_counter()
        enc.encode(prompts)
        per_s = len(prompts) / (time.perf_counter() - t)
        print(f"{name:38s} p50 {np.percentile(lat, 50):5.1f} ms  p99 {np.percentile(lat, 99):5.1f} ms  "
              f"batch {per_s:5.0f} prompts/s  cosine to sentence-transformers min {cos.min():.4f} mean {cos.mean():.4f}")


if __name__ == "__main__":
    main()
