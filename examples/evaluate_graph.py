"""Evaluating a YAML graph offline on recorded outcomes.

Runs every GSM8K question of the built-in data through ``graphs/qa_cascade.yaml`` with replay
chat models (each answers with its recorded response), 5-fold: the cascade's learned scorer and
its threshold are fitted on the training folds only. Prints quality, cost per query and model mix
next to each model alone. Same as ``graphroute eval graphs/qa_cascade.yaml --data routellm-gsm8k``.

    python examples/evaluate_graph.py [--cv 5] [--n 1307]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from graphroute.datasets import load_dataset  # noqa: E402
from graphroute.graphs.crossval import evaluate_graph  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--cv", type=int, default=5)
    ap.add_argument("--n", type=int, default=None, help="only the first N questions (quick look)")
    args = ap.parse_args()
    data = load_dataset("routellm-gsm8k")
    if args.n:
        data = data.subset(range(args.n))
    r = evaluate_graph(ROOT / "graphs" / "qa_cascade.yaml", data, cv=args.cv)
    print(f"{r['graph']} on {r['dataset']} (n={r['n']}, {r['cv']}-fold): quality {r['quality']:.4f}, "
          f"${r['cost_per_query']:.6f} per query, model mix {r['model_mix']}")
    print("each model alone:", {m: round(q, 4) for m, q in r["model_quality"].items()}, "outcomes:", r["outcomes"])
