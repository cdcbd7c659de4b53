"""Evaluate routers on the built-in data and on your own wide CSV, from Python.

Run: python examples/evaluate_routers.py
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from graphroute.datasets import load_dataset
from graphroute.evaluation import evaluate
from graphroute.routers import KNNRouter

# 1. The built-in GSM8K outcomes (GPT-4 vs Mixtral), 5-fold grouped cross-validation.
gsm8k = load_dataset("routellm-gsm8k")
for r in evaluate(["random", "knn", "knn:k=400,temperature=0.2", "oracle"], gsm8k, cv=5):  # router specs
    s = r.summary["routellm"]
    print(f"{r.router:26s} APGR {s['apgr']:.3f}  CPT(50%) {s['cpt50']:5.1f}%  "
          f"$/query at CPT(80%) {r.summary['tie_safe']['cost_per_query_at_cpt80']:.5f}")

# 2. Your own data: a prompt column and one score column per model (any number of models).
path = Path(tempfile.mkdtemp()) / "my_runs.csv"
with path.open("w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["prompt", "small", "large", "small|cost", "large|cost"])
    for i in range(40):
        w.writerow([f"Add {i} and {i + 1}.", True, True, 0.0001, 0.002])
        w.writerow([f"Write a {i}-line poem about the sea.", False, True, 0.0001, 0.002])
mine = load_dataset(path)

# 3. Fit a router, save it, route new prompts.
router = KNNRouter(k=10).fit(mine)
router.save(Path(tempfile.mkdtemp()) / "knn-router")
print(router.route(["Add 5 and 7.", "Write a poem about autumn leaves."], threshold=0.5))
