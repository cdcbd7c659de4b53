"""Speed of the embedding classifier on 2 cores.

Fits the recommended router (``classifier``) on 10,000 MMLU prompts (their vectors ship with the
package), then measures with an *uncached* encoder of the same pooling:

* route decision for one MMLU prompt, embedding included (p50 / p99 over 300 prompts not seen in
  training);
* everything beyond the encoder forward (index search, heads, trees, text member, familiarity,
  policy, Decision) at 10k examples;
* the trees member's prediction for one prompt: the flat-array walk it uses against scikit-learn's
  own ``predict`` on the same fitted models (why the flat walk is kept);
* batch routing throughput (prompts/s, calls of 256, median of three passes over 512 prompts; also
  in calls of 8, 16 and 32, the sizes of a graph's fan-out), and how it splits between the encoder
  and the rest;
* ``import graphroute``, and a cold process that loads the saved router and routes one prompt.

``--backend onnx-int8`` / ``torch-bf16`` query the router (fitted on fp32 vectors) through the int8
ONNX / bfloat16 PyTorch variant of its encoder, the documented opt-ins for speed
(``with_query_encoder``); ``--backend static`` fits *and*
queries the stack on the distilled static encoder (``classifier:encoder=static``).

Run: python benchmarks/classifier_speed.py [--backend onnx|onnx-int8|torch-bf16|static] [--router SPEC]
The last line reads: ``route_p50_ms=… route_p99_ms=… overhead_p50_ms=… batch_per_s=… import_s=… cold_first_route_s=…``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.encoders import make_encoder
from graphroute.routers import FeatureRouter, make_router
from graphroute.routers.trees import feature_matrix


def pct(xs, q):
    return float(np.percentile(np.asarray(xs) * 1000, q))


def trees_member_times(router, train, prompts) -> tuple[float, float] | None:
    """The trees member's flat walk against scikit-learn's own predict on the same models (refitted here)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    trees = next((m for m in getattr(router, "_members", []) if isinstance(m, FeatureRouter)), None)
    if trees is None:
        return None
    F = feature_matrix(trees.features, train.prompts)
    models = [HistGradientBoostingRegressor(max_iter=trees.max_iter, learning_rate=trees.learning_rate,
                                            min_samples_leaf=trees.min_samples_leaf, random_state=trees.seed).fit(F, y)
              for y in train.scores.T]
    flat, sk = [], []
    for p in prompts:
        t0 = time.perf_counter()
        trees._predict_vectors(None, [p])
        flat.append(time.perf_counter() - t0)
        row = feature_matrix(trees.features, [p])
        t0 = time.perf_counter()
        for m in models:
            m.predict(row)
        sk.append(time.perf_counter() - t0)
    return pct(flat, 50), pct(sk, 50)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="onnx", choices=["onnx", "onnx-int8", "torch-bf16", "static"])
    ap.add_argument("--router", default="classifier")
    args = ap.parse_args()

    data = load_dataset("routellm-mmlu")
    order = np.random.default_rng(0).permutation(len(data))
    train, test = data.subset(order[:10_000]), data.subset(order[10_000:10_300])
    router = make_router(args.router + (":encoder=static" if args.backend == "static" else ""))
    t = time.perf_counter()
    router.fit(train)
    print(f"fit {args.router} on {len(train)} prompts: {time.perf_counter() - t:.1f} s")
    layers = getattr(router.encoder_, "layers", None)
    if args.backend == "onnx":  # the same encoder, uncached: every query is a real forward
        enc = make_encoder(None, "onnx", layers=layers)
        enc.encode(["warm up"])
        router.use_encoder(enc)
    elif args.backend in ("onnx-int8", "torch-bf16"):
        enc = make_encoder(None, args.backend, layers=layers)
        enc.encode(["warm up"])
        router.with_query_encoder(enc)
    router.decide(test.prompts[:5])
    lat, rest = [], []
    for p in test.prompts:
        t0 = time.perf_counter()
        router.decide([p])
        lat.append(time.perf_counter() - t0)
    V = router.embed(test.prompts)
    policy = router.policy_ or router.default_policy()
    for i, p in enumerate(test.prompts):
        t0 = time.perf_counter()
        q = router._predict_vectors(V[i:i + 1], [p])
        router.familiarity_.score(V[i:i + 1])
        policy.choose(q[0], router.models_, router.weak_, router.strong_)
        rest.append(time.perf_counter() - t0)
    print(f"route one MMLU prompt, embedding included ({args.backend}): p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms")
    print(f"beyond the encoder at {len(train)} examples: p50 {pct(rest, 50):.2f} ms, p99 {pct(rest, 99):.2f} ms")
    trees = trees_member_times(router, train, test.prompts)
    if trees:
        print(f"trees member, one prompt: flat walk p50 {trees[0]:.3f} ms, scikit-learn predict p50 {trees[1]:.3f} ms")

    batch = (test.prompts * 2)[:512]

    def batch_rate(call: int = 256) -> float:
        """Median of three passes over the 512 prompts in calls of ``call`` prompts; prints all three."""
        rates = []
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, len(batch), call):
                router.decide(batch[i:i + call])
            rates.append(len(batch) / (time.perf_counter() - t0))
        print(f"  passes, calls of {call}: {' / '.join(f'{r:.0f}' for r in rates)} prompts/s")
        return statistics.median(rates)

    per_s = batch_rate()
    small = {c: batch_rate(c) for c in (8, 16, 32)}
    print("routing in calls of 8 / 16 / 32 prompts: " + " / ".join(f"{v:.0f}" for v in small.values()) + " prompts/s")
    t0 = time.perf_counter()
    Vb = router.encoder_.encode(batch)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    router._predict_vectors(Vb, batch)
    t_rest = time.perf_counter() - t0
    print(f"batch routing: {per_s:.0f} prompts/s (same {len(batch)} prompts: encoder alone {len(batch) / t_enc:.0f} prompts/s, "
          f"everything after it {t_rest * 1000:.0f} ms)")

    times, base = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import graphroute"], check=True)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t0)
    imp = statistics.median(times) - statistics.median(base)
    print(f"import graphroute: {imp * 1000:.0f} ms above a bare interpreter")

    with tempfile.TemporaryDirectory() as d:
        router.save(f"{d}/r")
        code = ("import time; t=time.perf_counter(); from graphroute.routers import Router; "
                f"r=Router.load({d + '/r'!r}); r.decide(['Which of these is a prime number?\\nA. 4\\nB. 6\\nC. 7\\nD. 9']); "
                "print(time.perf_counter()-t)")
        cold = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            cold.append(time.perf_counter() - t0)
    cold_s = statistics.median(cold)
    print(f"cold process: load saved router + route first prompt: {cold_s:.2f} s (median of 3, interpreter start included)")
    print(f"route_p50_ms={pct(lat, 50):.1f} route_p99_ms={pct(lat, 99):.1f} overhead_p50_ms={pct(rest, 50):.2f} "
          f"batch_per_s={per_s:.0f} import_s={imp:.3f} cold_first_route_s={cold_s:.2f}")


if __name__ == "__main__":
    main()
