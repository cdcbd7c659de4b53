"""Speed of the embedding classifier on 2 cores.

Fits the recommended router (``classifier``) on 10,000 MMLU prompts (their embeddings come from
the embedding cache: the shipped one for the top-layer encoder; the classifier's multi-layer
encoder fills the user cache on its first run, about two minutes), then measures with an
*uncached* encoder of the same pooling:

* route decision for one MMLU prompt, embedding included (p50 / p99 over 300 prompts not seen in
  training);
* everything beyond the encoder forward (index search, heads, features, policy, Decision) at
  10k examples;
* batch routing throughput (prompts/s, batches of 256, median of three passes over 512 prompts;
  also in calls of 8, 16 and 32, the sizes of a graph's fan-out),
  and how it splits between the (fp32) encoder and the rest; with the ONNX backend, batches run
  on its bulk path (the bf16 variant where the CPU has native bf16, see ``encoders/onnx.py``) and
  the fp32 figure is printed beside it;
* ``import graphroute``, and a cold process that loads the saved router and routes one prompt.

With ``--backend static`` the router is fitted *and* queried with the distilled static encoder
(another encoder: its training prompts are embedded by it, not read from the MiniLM cache).

With ``--backend onnx-int8`` or ``bf16`` the router is fitted on the fp32 vectors and only
queries go through that variant (``with_query_encoder``).

Run: python benchmarks/classifier_speed.py [--backend onnx|onnx-int8|bf16|sentence-transformers|static]
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


def pct(xs, q):
    return float(np.percentile(np.asarray(xs) * 1000, q))


def use_encoder(router, enc) -> None:
    if enc.id == router.encoder_.id:  # same model, uncached: measure real forwards
        router._encoder = enc
        for m in getattr(router, "_members", []):
            m._encoder = enc
    else:  # onnx-int8: queries embedded by the quantised variant of the fitted encoder
        router.with_query_encoder(enc)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="onnx")
    ap.add_argument("--router", default="classifier")
    args = ap.parse_args()

    from graphroute.datasets import load_dataset
    from graphroute.encoders import make_encoder
    from graphroute.routers import make_router

    data = load_dataset("routellm-mmlu")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    train, test = data.subset(order[:10_000]), data.subset(order[10_000:10_300])
    name = "classifier-static" if args.backend == "static" and args.router == "classifier" else args.router
    router = make_router(name)
    if args.backend == "static":
        router.encoder = "static"  # a string, so the saved router rebuilds its encoder on load
    t = time.perf_counter()
    router.fit(train)
    print(f"fit {name} on {len(train)} prompts: {time.perf_counter() - t:.1f} s")
    if args.backend != "static":
        enc = make_encoder(None, args.backend, layers=getattr(router.encoder_, "layers", None))
        enc.encode(["warm up"])
        use_encoder(router, enc)
    router.decide(test.prompts[:5])
    lat, enc_only = [], []
    for p in test.prompts:
        t0 = time.perf_counter()
        router.decide([p])
        lat.append(time.perf_counter() - t0)
    V = router.embed(test.prompts)
    for i, p in enumerate(test.prompts):
        t0 = time.perf_counter()
        q = router._predict_vectors(V[i:i + 1], [p])
        router.policy_ = router.policy_  # the policy step below is what decide() adds
        from graphroute.routers.policy import ThresholdPolicy

        ThresholdPolicy(1e-9).choose(q[0], router.models_, router.weak_, router.strong_)
        enc_only.append(time.perf_counter() - t0)
    print(f"route one MMLU prompt, embedding included ({args.backend}): p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms")
    print(f"beyond the encoder at {len(train)} examples: p50 {pct(enc_only, 50):.2f} ms, p99 {pct(enc_only, 99):.2f} ms")

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

    bulk = getattr(router.encoder_, "bulk_encoder", lambda: None)()
    if bulk is not None:
        router.decide(batch[:32])  # loads the bulk variant (imports torch) outside the timing
        per_s = batch_rate()
        small = {c: batch_rate(c) for c in (8, 16, 32)}
        print(f"routing in calls of 8 / 16 / 32 prompts (bulk_min={router.encoder_.bulk_min}): "
              + " / ".join(f"{v:.0f}" for v in small.values()) + " prompts/s")
        router.encoder_.bulk = None
        print(f"batch routing on the bulk path ({bulk.id}): {per_s:.0f} prompts/s; fp32: {batch_rate():.0f} prompts/s "
              "(medians of three passes)")
    else:
        per_s = batch_rate()
    t0 = time.perf_counter()
    Vb = router.encoder_.encode(batch)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    router._predict_vectors(Vb, batch)
    t_rest = time.perf_counter() - t0
    print(f"batch routing: {per_s:.0f} prompts/s (same {len(batch)} prompts: fp32 encoder alone {len(batch) / t_enc:.0f} prompts/s, "
          f"everything after it {t_rest * 1000:.0f} ms)")

    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import graphroute"], check=True)
        times.append(time.perf_counter() - t0)
    base = []
    for _ in range(5):
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
    print(f"route_p50_ms={pct(lat, 50):.1f} route_p99_ms={pct(lat, 99):.1f} overhead_p50_ms={pct(enc_only, 50):.2f} "
          f"batch_per_s={per_s:.0f} import_s={imp:.3f} cold_first_route_s={cold_s:.2f}")


if __name__ == "__main__":
    main()
