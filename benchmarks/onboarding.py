"""Onboarding a new model from a few probes, leave-one-model-out over the 9 LLMRouter models.

For each of the 9 models of ``llmrouter-9``: an ``mf`` router (:class:`graphroute.routers.FactorRouter`)
is fitted on the 5,489 training prompts with the other 8 models' outcomes only; then
``add_model`` places the held-out model from ``k`` probe prompts of the training set (its outcomes
only, drawn at random, ``--seeds`` draws per ``k``). On the 500 test prompts of ``llmrouter-9-test``:

* accuracy of the router's choice among all 9 at maximum predicted quality;
* AUC of the newcomer's predicted quality against its own test outcomes (how well the router
  ranks the prompts it will get right);
* the newcomer's mean 90 % interval width (how sure the router says it is);

each compared with the same router fitted on all 9 models' full records (the reference). Means
over the 9 held-out models (and seeds).

Run: python benchmarks/onboarding.py [--probes 25,50,100,200] [--seeds 3]
The last line reads ``probes=50 acc_gap=… auc_gap=… reference_acc=… reference_auc=…`` (gaps:
reference minus onboarded, at 50 probes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from graphroute.datasets import load_dataset
from graphroute.routers import Router, make_router


def auc(scores: np.ndarray, outcomes: np.ndarray) -> float:
    known = ~np.isnan(outcomes)
    y = outcomes[known] > 0.5
    return float(roc_auc_score(y, scores[known])) if 0 < y.sum() < len(y) else float("nan")


def accuracy(q: np.ndarray, models: list[str], test) -> float:
    cols = [test.index(m) for m in models]
    picked = np.asarray(cols)[np.argmax(q, axis=1)]
    return float(np.nanmean(test.scores[np.arange(len(test)), picked]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--probes", default="25,50,100,200")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--router", default="mf")
    args = ap.parse_args()
    sizes = [int(x) for x in args.probes.split(",")]
    train, test = load_dataset("llmrouter-9"), load_dataset("llmrouter-9-test")
    t0 = time.perf_counter()
    full = make_router(args.router).fit(train)
    q_full = full.quality_dataset(test)
    rows: dict[int, list[tuple[float, float, float]]] = {k: [] for k in sizes}
    ref: list[tuple[float, float]] = []
    print(f"reference ({args.router}, all 9 models' records): accuracy {accuracy(q_full, full.models_, test):.4f}")
    print(f"{'held out':34s} {'ref acc':>8s} {'ref AUC':>8s}  " + "  ".join(f"{'k=' + str(k):>21s}" for k in sizes))
    tmp = tempfile.mkdtemp(prefix="onboarding-")
    for name in train.models:
        others = [m for m in train.models if m != name]
        j_ref = full.models_.index(name)
        ref_auc = auc(q_full[:, j_ref], test.scores[:, test.index(name)])
        ref_acc = accuracy(q_full, full.models_, test)
        ref.append((ref_acc, ref_auc))
        saved = make_router(args.router).fit(train.select_models(others)).save(Path(tmp) / name)
        cells = []
        for k in sizes:
            accs, aucs, widths = [], [], []
            for seed in range(args.seeds):
                probes = train.subset(np.sort(np.random.default_rng(seed).choice(len(train), k, replace=False)))
                r = Router.load(saved)  # a fresh copy of the 8-model router
                r.add_model(name, probes.select_models([name]))
                q = r.quality_dataset(test)
                accs.append(accuracy(q, r.models_, test))
                aucs.append(auc(q[:, r.models_.index(name)], test.scores[:, test.index(name)]))
                lo, hi = r.predict_interval(test.prompts)
                widths.append(float(np.mean(hi[:, -1] - lo[:, -1])))
            rows[k].append((float(np.mean(accs)), float(np.nanmean(aucs)), float(np.mean(widths))))
            cells.append(f"{np.mean(accs):.4f}/{np.nanmean(aucs):.3f}/±{np.mean(widths) / 2:.3f}")
        print(f"{name:34s} {ref_acc:8.4f} {ref_auc:8.3f}  " + "  ".join(f"{c:>21s}" for c in cells))
    ref_acc, ref_auc = (float(np.nanmean([r[i] for r in ref])) for i in (0, 1))
    print(f"\nmeans over the 9 held-out models (accuracy / AUC / half-width of the 90 % interval), "
          f"{time.perf_counter() - t0:.0f} s:")
    print(f"  reference: accuracy {ref_acc:.4f}, AUC {ref_auc:.3f}")
    for k in sizes:
        a, u, w = (float(np.nanmean([r[i] for r in rows[k]])) for i in (0, 1, 2))
        print(f"  {k:4d} probes: accuracy {a:.4f} (gap {ref_acc - a:+.4f}), AUC {u:.3f} (gap {ref_auc - u:+.3f}), "
              f"interval ±{w / 2:.3f}")
    k = 50 if 50 in sizes else sizes[0]
    a, u = (float(np.nanmean([r[i] for r in rows[k]])) for i in (0, 1))
    print(f"probes={k} acc_gap={ref_acc - a:.4f} auc_gap={ref_auc - u:.4f} reference_acc={ref_acc:.4f} "
          f"reference_auc={ref_auc:.4f}")


if __name__ == "__main__":
    main()
