"""A simulated learning loop on the built-in MMLU outcomes: a router that learns from its own traffic.

The seed-0 permutation of MMLU splits 10,000 training prompts from 2,323 held-out ones. A
``logistic`` router starts from 5 % of the training prompts (500, both models' outcomes known).
The other 9,500 arrive as traffic in batches of ``--batch``: the router, calibrated to send
``--strong-share`` of prompts to GPT-4, decides with epsilon-greedy exploration
(``set_policy(explore=...)``), each decision and its probability is logged
(``log_decision``), the recorded outcome of *the model it called* comes back as feedback
(``log_feedback``), and after each batch the router is refitted on the 500 full rows plus the
logged partial rows (``graphroute dataset from-logs`` -> ``load_logged``; ``--clip`` > 1 weighs
them by inverse propensity). Held-out APGR (RouteLLM's threshold sweep) is measured after each batch, beside the
full-label router trained on all 10,000 training prompts with both outcomes.

Run: python benchmarks/feedback_loop.py [--explore 0.2] [--batch 1000] [--plot feedback.png]
The last line reads: ``requests=N apgr_start=A apgr_end=B apgr_full=C``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from graphroute.datasets import RoutingDataset, from_logs, load_dataset, load_logged, write_logged
from graphroute.metrics import routellm_curve
from graphroute.metrics.summary import apgr
from graphroute.routers import make_router
from graphroute.runtime.telemetry import JsonlSink, log_decision, log_feedback


def held_out_apgr(router, test: RoutingDataset) -> float:
    w, s = test.pair()
    yw, ys = test.scores[:, w], test.scores[:, s]
    curve = routellm_curve(router.score(test.prompts), yw, ys)
    return apgr(curve, float(yw.mean()), float(ys.mean()))


def combined(full: RoutingDataset, logged: RoutingDataset) -> RoutingDataset:
    """The full-label seed rows (weight 1) and the logged partial rows in one partial dataset."""
    logged = logged if logged.models == full.models else _reorder(logged, full.models)
    weights = np.vstack([np.ones_like(full.scores), logged.meta["weights"]])
    return RoutingDataset(name="seed+logged", prompts=full.prompts + logged.prompts, models=full.models,
                          scores=np.vstack([full.scores, logged.scores]), score_range=full.score_range,
                          weak_model=full.weak, strong_model=full.strong, meta={"weights": weights, "partial": True})


def _reorder(ds: RoutingDataset, models: list[str]) -> RoutingDataset:
    cols = [ds.models.index(m) if m in ds.models else None for m in models]
    n = len(ds)
    def take(a):
        return np.column_stack([a[:, c] if c is not None else np.full(n, np.nan if a is ds.scores else 0.0)
                                for c in cols])
    return RoutingDataset(name=ds.name, prompts=ds.prompts, models=models, scores=take(ds.scores),
                          meta={"weights": take(ds.meta["weights"])})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--explore", type=float, default=0.2)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--strong-share", type=float, default=0.5,
                    help="the policy between refits: calibrated on the seed prompts to send this share to GPT-4")
    ap.add_argument("--clip", type=float, default=1.0, help="inverse-propensity weights clipped here (1: unweighted)")
    ap.add_argument("--plot", default=None)
    args = ap.parse_args()
    data = load_dataset("routellm-mmlu").select_models(["mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"])
    order = np.random.default_rng(0).permutation(len(data))
    train, test = data.subset(order[:10_000]), data.subset(order[10_000:])
    seed, traffic = train.subset(np.arange(500)), train.subset(np.arange(500, len(train)))
    full = make_router("logistic").fit(train)
    apgr_full = held_out_apgr(full, test)
    router = make_router("logistic").fit(seed)
    points = [(0, held_out_apgr(router, test))]
    print(f"start: fitted on {len(seed)} prompts with both outcomes, held-out APGR {points[0][1]:.3f}; "
          f"full-label router on {len(train)}: {apgr_full:.3f}")
    work = Path(tempfile.mkdtemp())
    sink = JsonlSink(work / "calls.jsonl")
    for start in range(0, len(traffic), args.batch):
        router.calibrate(seed, strong_share=args.strong_share)  # a share needs no labels: any prompts would do
        router.set_policy(explore=args.explore)
        rows = np.arange(start, min(start + args.batch, len(traffic)))
        for i, d in zip(rows, router.decide([traffic.prompts[i] for i in rows])):
            run = f"r{i}"
            log_decision(sink, run, traffic.prompts[i], d)
            log_feedback(sink, run, float(traffic.scores[i, traffic.index(d.model)]))  # the called model's outcome
        logged_rows, counts = from_logs(work / "calls.jsonl")
        write_logged(logged_rows, work / "logged.csv")
        router = make_router("logistic").fit(combined(seed, load_logged(work / "logged.csv", clip=args.clip)))
        points.append((int(rows[-1]) + 1, held_out_apgr(router, test)))
        explored = np.mean([r["propensity"] < 0.5 for r in logged_rows])
        print(f"after {points[-1][0]:5d} requests ({counts['joined']} logged, {explored:.1%} explored): "
              f"held-out APGR {points[-1][1]:.3f}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"learning from feedback (ε={args.explore})")
        ax.axhline(apgr_full, color="gray", linestyle="--", label="full labels, same prompts")
        ax.set_xlabel("requests routed"), ax.set_ylabel("held-out APGR"), ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    print(f"requests={points[-1][0]} apgr_start={points[0][1]:.3f} apgr_end={points[-1][1]:.3f} apgr_full={apgr_full:.3f}")


if __name__ == "__main__":
    main()
