"""Exact (flat) vs IVF search on 2 cores, one query at a time, k=50, for the auto threshold.

Run: python benchmarks/index_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from graphroute.index import VectorIndex


def main() -> None:
    rng = np.random.default_rng(0)
    for n in (2_000, 10_000, 20_000, 50_000, 100_000):
        V = rng.normal(size=(n, 384)).astype(np.float32)
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        Q = V[rng.choice(n, 200, replace=False)] + 0.05 * rng.normal(size=(200, 384)).astype(np.float32)
        Q /= np.linalg.norm(Q, axis=1, keepdims=True)
        row = [f"n={n:>7,}"]
        truth = None
        for kind in ("flat", "ivf"):
            idx = VectorIndex(384, kind)
            t = time.perf_counter()
            idx.add(V)
            build = time.perf_counter() - t
            lat = []
            found = []
            for q in Q:
                t = time.perf_counter()
                found.append(idx.search(q[None], 50)[1][0])
                lat.append((time.perf_counter() - t) * 1000)
            if truth is None:
                truth = found
            recall = np.mean([len(set(a) & set(b)) / 50 for a, b in zip(found, truth)])
            row.append(f"{kind}: build {build:5.2f} s  p50 {np.percentile(lat, 50):6.2f} ms  recall@50 {recall:.3f}")
        print("  ".join(row))


if __name__ == "__main__":
    main()
