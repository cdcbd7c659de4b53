"""What the shipped default router does: ``auto`` of graphs/serve.yaml, built as the server builds it.

The router block of ``graphs/serve.yaml`` is compiled by the same code ``graphroute serve`` runs
(``graphroute.serve.compose.config_runtime``; the fit is cached), then asked to decide 1,000
MMLU prompts (seed 0; most of them were in its training data, as they would be for a user trying
it on MMLU) and all 1,307 GSM8K questions, plus a few requests of other kinds. Printed: the share
sent to GPT-4, the quality of the choices on the recorded outcomes, and each alone.

Run: python benchmarks/default_router.py [--config graphs/serve.yaml] [--router classifier]
The last line reads ``mmlu_strong_share=… mmlu_quality=… gsm8k_strong_share=… gsm8k_quality=…``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.serve.compose import config_runtime
from graphroute.serve.settings import load_serve_config

ROOT = Path(__file__).resolve().parents[1]
OTHER = ["Write a haiku about autumn.", "Fix this python bug: for i in range(10) print(i)",
         "Tell me a joke about cats.", "Summarise this email: the meeting moved to 3pm.",
         "Translate 'good morning' into French.", "Plan a three-day trip to Rome on a budget."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(ROOT / "graphs" / "serve.yaml"))
    ap.add_argument("--router", default="classifier")
    args = ap.parse_args()
    cfg = load_serve_config(args.config)
    t0 = time.perf_counter()
    spec, rt = config_runtime(cfg, load_dataset("routellm-mmlu"))  # what graphroute serve builds (replayed models)
    router = rt.routers[args.router]
    print(f"{args.router} of {args.config}: built in {time.perf_counter() - t0:.0f} s; policy {router.policy_}")
    out = {}
    for name, data in (("mmlu", load_dataset("routellm-mmlu")), ("gsm8k", load_dataset("routellm-gsm8k"))):
        rows = np.sort(np.random.default_rng(0).choice(len(data), min(1000, len(data)), replace=False)) \
            if name == "mmlu" else np.arange(len(data))
        part = data.subset(rows)
        if router.models_ == ["weak", "strong"]:  # a router fitted on roles (fit: {roles: true})
            part = part.roles()
        picks = [d.model for d in router.decide(part.prompts)]
        j = np.array([part.index(m) for m in picks])
        quality = float(np.mean(part.scores[np.arange(len(part)), j]))
        share = float(np.mean([m == router.strong_ for m in picks]))
        alone = {m: round(part.accuracy(m), 4) for m in (router.weak_, router.strong_)}
        print(f"{name}: {len(part)} prompts, {share:.1%} to {router.strong_}, quality {quality:.4f} (alone: {alone})")
        out[name] = (share, quality)
    for p, d in zip(OTHER, router.decide(OTHER)):
        fam = "" if d.familiarity is None else f" familiarity {d.familiarity:.3f}"
        print(f"  {d.model:40s}{fam}  <- {p!r}")
    print(f"mmlu_strong_share={out['mmlu'][0]:.4f} mmlu_quality={out['mmlu'][1]:.4f} "
          f"gsm8k_strong_share={out['gsm8k'][0]:.4f} gsm8k_quality={out['gsm8k'][1]:.4f}")


if __name__ == "__main__":
    main()
