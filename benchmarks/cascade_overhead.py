"""Added latency of the cascade machinery per stage, excluding model calls and scorers.

Runs a 3-stage cascade of LangChain fake chat models (zero-latency providers) on GSM8K questions
with recorded Mixtral answers; every query escalates through all stages. For each query:

    machinery = wall time of Cascade.invoke - time inside the models' invoke - time inside scorers

divided by the number of stages. Scorer time is reported per scorer separately (a learned
scorer with embeddings pays one MiniLM forward per answer). Usage:

    python benchmarks/cascade_overhead.py [--n 300]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q))


def main() -> None:
    from langchain_core.language_models import FakeListChatModel

    from graphroute.cascade import Cascade, Stage
    from graphroute.datasets import load_dataset
    from graphroute.scorers import ArithmeticScorer, FormatScorer, LearnedScorer
    from graphroute.types import Answer

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    data = load_dataset("routellm-gsm8k")
    answers = data.responses[data.weak]
    qs = data.prompts[: args.n]

    def cascade():  # thresholds above 1: every query goes through every stage
        return Cascade([
            Stage(FakeListChatModel(responses=answers[: args.n]), name="gpt-4o-mini", scorer=FormatScorer(kind="integer"), threshold=2),
            Stage(FakeListChatModel(responses=answers[: args.n]), name=data.weak, scorer=ArithmeticScorer(), threshold=2),
            Stage(FakeListChatModel(responses=answers[: args.n]), name=data.strong),
        ])

    c = cascade()
    for q in qs[:20]:  # warm-up (imports, token tables)
        c.invoke(q)
    c = cascade()
    machinery, wall = [], []
    for q in qs:
        t0 = time.perf_counter()
        r = c.invoke(q)
        total = (time.perf_counter() - t0) * 1000
        inside = sum(call.latency_ms for a in r.attempts for call in a.calls) + sum(a.scorer_ms for a in r.attempts)
        machinery.append((total - inside) / len(r.attempts))
        wall.append(total)
    print(f"cascade machinery per stage (3 stages, {len(qs)} queries): p50 {pct(machinery, 50):.3f} ms  "
          f"p99 {pct(machinery, 99):.3f} ms   (whole invoke incl. fake models p50 {pct(wall, 50):.2f} ms)")

    # scorers, one (prompt, answer) at a time
    train = np.arange(300, 1300)
    P, A = [data.prompts[i] for i in train], [answers[i] for i in train]
    yw, ys = data.scores[train, data.index(data.weak)], data.scores[train, data.index(data.strong)]
    learned = {
        "learned (features)": LearnedScorer(embeddings=False).fit(P, A, yw),
        "learned gain (features)": LearnedScorer(embeddings=False).fit(P, A, yw, y_next=ys),
        "learned gain (features + MiniLM)": LearnedScorer().fit(P, A, yw, y_next=ys),
    }
    scorers = {"format": FormatScorer(kind="integer"), "arithmetic": ArithmeticScorer(), **learned}
    run = uuid.uuid4().hex[:8]  # unseen texts on every run: no embedding-cache hits (the cache is on disk)
    fresh = [f"{q} (variant {run}-{i})" for i, q in enumerate(qs[:100])]
    fresh_answers = [f"{a} (run {run})" for a in answers[:100]]
    for name, s in scorers.items():
        times = []
        for q, a in zip(fresh, fresh_answers):
            t0 = time.perf_counter()
            s.score(q, Answer(a + " "))
            times.append((time.perf_counter() - t0) * 1000)
        print(f"scorer {name:28s} p50 {pct(times, 50):7.3f} ms  p99 {pct(times, 99):7.3f} ms")
    print(f"overhead_per_stage_p50_ms={pct(machinery, 50):.3f} overhead_per_stage_p99_ms={pct(machinery, 99):.3f}")


if __name__ == "__main__":
    main()
