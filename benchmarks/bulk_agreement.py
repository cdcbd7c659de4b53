"""Does routing a batch on the bulk path (bf16 where the CPU has it) decide as fp32 does?

Fits ``classifier`` on the first 10,000 prompts of a seed-0 permutation of the MMLU built-in (its
vectors come from the embedding cache), then routes the other 2,323 in batches of 256 twice, with an
uncached ``OnnxEncoder`` of the same pooling: ``bulk="auto"`` and ``bulk=None`` (fp32). Prints the
APGR of both, the largest score difference, and how many decisions differ under the default policy
and at the thresholds that send 20 / 50 / 80 % of prompts to the strong model.

Run: python benchmarks/bulk_agreement.py
"""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    from graphroute.datasets import load_dataset
    from graphroute.encoders import OnnxEncoder
    from graphroute.evaluation.cv import Predictions
    from graphroute.evaluation.evaluate import evaluate_predictions
    from graphroute.routers import make_router

    data = load_dataset("routellm-mmlu")
    order = np.random.default_rng(0).permutation(len(data))
    train, test = data.subset(order[:10_000]), data.subset(order[10_000:])
    router = make_router("classifier").fit(train)
    layers = getattr(router.encoder_, "layers", None)
    out = {}
    for name, bulk in [("fp32", None), ("bulk", "auto")]:
        enc = OnnxEncoder(layers=layers, bulk=bulk)
        router._encoder = enc
        for m in router._members:
            m._encoder = enc
        t = time.perf_counter()
        parts = [test.prompts[i:i + 256] for i in range(0, len(test), 256)]
        scores = np.concatenate([router.score(p) for p in parts]).astype(np.float64)
        dt = time.perf_counter() - t
        decisions = [d.model for p in parts for d in router.decide(p)]
        res = evaluate_predictions(name, test, Predictions(scores, None, np.zeros(len(test), int)), costs=None)
        apgr = {curve: round(v["apgr"], 4) for curve, v in res.summary.items()}
        variant = enc.bulk_encoder().id if bulk and enc.bulk_encoder() is not None else enc.id
        print(f"{name} ({variant}): APGR {apgr}, scoring {len(test) / dt:.0f} prompts/s (first call loads the model)")
        out[name] = (scores, decisions)
    (s0, d0), (s1, d1) = out["fp32"], out["bulk"]
    print(f"max |score difference| {np.abs(s0 - s1).max():.5f}, correlation {np.corrcoef(s0, s1)[0, 1]:.7f}")
    print(f"default-policy decisions that differ: {sum(a != b for a, b in zip(d0, d1))} of {len(d0)}")
    for share in (20, 50, 80):
        t = np.percentile(s0, 100 - share)
        print(f"threshold for {share}% strong calls: {int(((s0 >= t) != (s1 >= t)).sum())} of {len(s0)} differ")


if __name__ == "__main__":
    main()
