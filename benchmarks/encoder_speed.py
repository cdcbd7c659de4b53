"""Encoder backends on MMLU prompts, one prompt per call (2 cores): p50/p99 latency and the cosine
of each backend's vectors to sentence-transformers'.

Run: python benchmarks/encoder_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.encoders import OnnxEncoder, SentenceTransformerEncoder, TorchBf16Encoder


def main() -> None:
    prompts = load_dataset("routellm-mmlu").prompts[:300]
    ref = SentenceTransformerEncoder()
    ref_vecs = ref.encode(prompts[:100])
    backends = [("sentence-transformers", ref), ("onnx fp32", OnnxEncoder()), ("onnx int8", OnnxEncoder(quantize=True)),
                ("torch bf16 autocast", TorchBf16Encoder())]
    for name, enc in backends:
        enc.encode(prompts[:10])
        lat = []
        for p in prompts:
            t = time.perf_counter()
            enc.encode([p])
            lat.append((time.perf_counter() - t) * 1000)
        cos = np.sum(enc.encode(prompts[:100]) * ref_vecs, axis=1)
        t = time.perf_counter()
        enc.encode(prompts)
        per_s = len(prompts) / (time.perf_counter() - t)
        print(f"{name:22s} p50 {np.percentile(lat, 50):5.1f} ms  p99 {np.percentile(lat, 99):5.1f} ms  "
              f"batch {per_s:5.0f} prompts/s  cosine to sentence-transformers min {cos.min():.4f} mean {cos.mean():.4f}")


if __name__ == "__main__":
    main()
