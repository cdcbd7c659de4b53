"""Side by side with LLMRouter's own routers, on the same split and the same MiniLM prompt vectors.

Makes a virtual environment (``--venv``, default ``~/.cache/graphroute/llmrouter-venv``) with
``torch==2.13.0`` (the CPU build) and ``llmrouter-lib`` from PyPI. Inside it,
``benchmarks/llmrouter_worker.py`` trains LLMRouter's knn, svm, mlp, mf and graph routers with
their own trainer classes on ``llmrouter-9`` (5,489 prompts x 9 models). The hyper-parameters
are those of their training configs; mf's text dimension is 384. Each router then routes the 500
prompts of ``llmrouter-9-test``.
Both libraries read graphroute's MiniLM vectors of the same prompts. LLMRouter's routers call
Longformer on the query text, and the worker swaps that call for a lookup. The graph router's
model features are the MiniLM vectors of the model names.

Routers of LLMRouter that are not run: the ones that call an LLM or need a GPU. Those are
causallm, router_r1, automix, hybrid_llm and the multi-round and personalized routers; this
machine has no GPU and no provider keys. Routers that need other data are not run either: elo and
dc need pairwise or contrastive training sets, and this file holds only per-model scores.

For each router the script reports:

* accuracy at maximum quality and the estimated dollars per query (graphroute's labelled
  estimates);
* LLMRouter's knn, svm, mlp and mf learn one label per prompt, the best model. Where several
  models share the best outcome, pandas' ``idxmax`` picks the first row, so the row order decides
  the label. ``--ties file`` keeps the file's order (alphabetical, cheap models first); ``--ties
  strongest`` puts the models most accurate on the training data first;
* for LLMRouter's routers, which pick one model per prompt and have no price knob, graphroute's
  ``logistic`` and ``mf`` accuracy at the same dollars, read off their quality-cost frontiers
  (λ swept).

Run: python benchmarks/llmrouter_side_by_side.py [--routers knn,svm,mlp,mf,graph]
The last line reads ``<router>=accuracy ...`` for theirs and ours at maximum quality.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.evaluation.many import frontier
from graphroute.metrics.pareto import hull_quality
from graphroute.routers import make_router

HERE = Path(__file__).resolve().parent


def venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "llmrouter-lib==0.4.0"], check=True)
    return python


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--routers", default="knn,svm,mlp,mf,graph")
    ap.add_argument("--ties", choices=("file", "strongest"), default="file",
                    help="the order of each prompt's model rows, so the model LLMRouter's label takes when several "
                         "models share the best outcome (pandas idxmax takes the first): the file's, or the most "
                         "accurate on the training data first")
    ap.add_argument("--venv", default=str(Path.home() / ".cache" / "graphroute" / "llmrouter-venv"))
    args = ap.parse_args()
    python = venv(Path(args.venv))
    train, test = load_dataset("llmrouter-9"), load_dataset("llmrouter-9-test")
    ours = {name: make_router(name).fit(train) for name in ("logistic", "mf")}
    encoder = ours["logistic"]
    work = Path(tempfile.mkdtemp(prefix="llmrouter-"))
    vectors = np.vstack([encoder.embed(train.prompts), encoder.embed(test.prompts)])
    np.save(work / "vectors.npy", vectors)
    np.save(work / "models.npy", encoder.embed(train.models, store=False))
    order = list(train.models) if args.ties == "file" else sorted(train.models, key=lambda m: -train.means()[m])
    cols = [train.index(m) for m in order]
    scores = [[None if np.isnan(v) else float(v) for v in row] for row in train.scores[:, cols]]
    (work / "data.json").write_text(json.dumps({"train": train.prompts, "test": test.prompts, "models": order,
                                                "scores": scores, "groups": [str(g) for g in train.groups]}))
    t0 = time.perf_counter()
    subprocess.run([str(python), str(HERE / "llmrouter_worker.py"), str(work), args.routers], check=True)
    print(f"LLMRouter's routers trained and routed in {time.perf_counter() - t0:.0f} s (work folder {work})")
    rows = np.arange(len(test))
    cost = test.costs

    def point(picks: list[str]) -> tuple[float, float]:
        cols = np.array([test.index(m) for m in picks])
        return float(np.nanmean(test.scores[rows, cols])), float(np.mean(cost[rows, cols]))

    frontiers = {}
    for name, router in ours.items():  # the frontier as lambda sweeps (the predictions keyed by the test's models)
        q = router.quality_dataset(test)[:, [router.models_.index(m) for m in test.models]]
        f = frontier(q, test.scores, cost)
        frontiers[name] = (np.asarray(f["cost_per_query"]), np.asarray(f["accuracy"]))
    print(f"\n{'router':24s} {'accuracy':>9s} {'est. $/query':>13s}   at that cost: logistic      mf")
    last = []
    for name in args.routers.split(","):
        out = json.loads((work / f"picks-{name}.json").read_text())
        acc, dollars = point(out["picks"])
        at = {k: float(hull_quality(c, q, [dollars])[0]) for k, (c, q) in frontiers.items()}
        print(f"LLMRouter {name:14s} {acc:9.4f} {dollars:13.6f}   {at['logistic']:21.4f} {at['mf']:7.4f}"
              f"   (fit {out['fit_s']:.0f} s, route {out['route_s']:.0f} s)")
        last.append(f"llmrouter_{name}={acc:.4f}")
    for name, router in ours.items():
        picks = [router.models_[j] for j in np.argmax(router.quality_dataset(test), axis=1)]
        acc, dollars = point(picks)
        print(f"graphroute {name:13s} {acc:9.4f} {dollars:13.6f}")
        last.append(f"graphroute_{name}={acc:.4f}")
    best = max(train.models, key=lambda m: train.means()[m])
    print(f"best single ({best}): {test.accuracy(best):.4f}; oracle {float(np.nanmax(test.scores, axis=1).mean()):.4f}")
    print(" ".join(last))


if __name__ == "__main__":
    main()
