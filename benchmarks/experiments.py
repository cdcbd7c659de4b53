"""Experiments proven on known truth: traffic replayed from the built-in recorded MMLU outcomes of
gpt-4-1106-preview and Mixtral-8x7B, where every arm's true quality is the mean recorded outcome
of its choices over the prompt pool.

Routers are fitted on 10,000 MMLU prompts (seed-0 permutation); the other 4,042 are the pool that
users draw prompts from, uniformly, with replacement. Then:

* **A/A**: 200 experiments of the classifier against itself (2 x 2,500 requests from 2,000 users,
  sticky by user, a new salt each); the false-positive rate of the report's verdict at alpha 0.05
  (feedback alone, and feedback + cost under Holm's correction).
* **A/B**: knn against the classifier, both calibrated to send 50 % of prompts to GPT-4 (same cost,
  so quality alone tells them apart), ``min_effect`` 0.0125 on feedback (their true difference is 0.0142); traffic grows until the
  power calculation's size is reached: the verdict at 1/4, 1/2 and 3/4 of that size (it must say
  "not enough data") and at it (it should name the known better arm about ``power`` of the time).
* **Off-policy**: logs of an epsilon-greedy classifier (epsilon 0.1 and 0.2, 2,000 requests, 50 seeds)
  and several candidate routers' IPS / SNIPS / DR estimates against each candidate's true quality:
  bias, RMSE and coverage of the 95 % intervals.
* **Sticky**: 10,000 users, the share that changes arm when 50/50 becomes 60/40 (ideal 10 %), and
  when one of three arms goes from 1/3 to 1/2 (ideal 1/6), averaged over 20 salts.

Run: python benchmarks/experiments.py [--aa 200] [--ab-seeds 40] [--ope-seeds 50]
The last line reads: ``aa_fpr=F ab_verdict_correct=V ope_coverage=C ope_rmse=R sticky_moved=S``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from graphroute.costs import CostModel
from graphroute.datasets import load_dataset
from graphroute.experiments import ExperimentBlock, assign, report
from graphroute.experiments.ope import candidate_matrix, estimate
from graphroute.experiments.simulate import replay_logged, replay_traffic
from graphroute.routers import make_router


def block(metrics: list[str], min_effect: dict[str, float]) -> ExperimentBlock:
    return ExperimentBlock.model_validate({"arms": {"A": {"target": "x"}, "B": {"target": "y"}}, "metrics": metrics,
                                           "min_effect": min_effect})


def choices_of(router, prompts: list[str], models: list[str]) -> tuple[np.ndarray, np.ndarray]:
    d = router.decide(prompts)
    idx = np.array([models.index(x.model) for x in d])
    q = np.array([[x.scores.get(m, 0.0) for m in models] for x in d])
    return idx, q


def aa(outcomes, costs, clf, n: int) -> tuple[float, float]:
    one = two = 0
    for s in range(n):
        recs = replay_traffic(outcomes, {"A": clf, "B": clf}, {"A": 1, "B": 1}, requests=5000, users=2000, seed=1000 + s,
                              costs=costs, experiment="aa")
        r1 = report(recs, "aa", block(["feedback"], {"feedback": 0.05}), n_resamples=500)
        r2 = report(recs, "aa", block(["feedback", "cost"], {"feedback": 0.05}), n_resamples=500)
        assert not r1.verdict.startswith("not enough"), r1.verdict
        one += r1.comparison("B", "feedback").verdict in ("better", "worse")
        two += any(c.verdict in ("better", "worse") for c in r2.comparisons)
    return one / n, two / n


def ab(outcomes, knn, clf, truth: dict[str, float], seeds: int, min_effect: float) -> tuple[float, float, float, int]:
    better = "B" if truth["B"] > truth["A"] else "A"
    cfg = block(["feedback"], {"feedback": min_effect})
    early_ok = correct = wrong = 0
    needs = []
    for s in range(seeds):
        recs = replay_traffic(outcomes, {"A": knn, "B": clf}, {"A": 1, "B": 1}, requests=60_000, users=30_000,
                              seed=5000 + s, experiment="ab")
        # the size the power calculation asks for, read off the first 2,000 requests' control rate
        need = report(recs[:4000], "ab", cfg, n_resamples=200).comparison("B", "feedback").needed
        needs.append(need)
        cut = {f: int(2 * need * f) * 2 for f in (0.25, 0.5, 0.75, 1.0)}  # requests (x2: experiment + feedback)
        early = [report(recs[:cut[f]], "ab", cfg, n_resamples=200).verdict for f in (0.25, 0.5, 0.75)]
        # the report's own size (from the control rate so far, per arm) decides when the verdict is earned:
        # read it at the first 1 % step from the planned size on where it no longer says "not enough data"
        step = 0
        while True:
            at = report(recs[:int(cut[1.0] * (1 + 0.01 * step))], "ab", cfg, n_resamples=200)
            if at.verdict != "not enough data" or step >= 40:
                break
            step += 1
        early_ok += all(v == "not enough data" for v in early)
        verdict = at.verdict
        correct += verdict == (f"{better} is better on feedback" if better == "B" else "A (control) is better on feedback")
        wrong += ("is better" in verdict) and better not in verdict
        print(f"  A/B seed {s}: need {need} per arm; at 1/4..3/4: {early}; at it (+{step} %): {verdict}")
    return early_ok / seeds, correct / seeds, wrong / seeds, int(np.median(needs))


def ope(outcomes, logger, cands: dict[str, tuple[np.ndarray, np.ndarray]], seeds: int) -> dict[str, dict[str, float]]:
    k = outcomes.shape[1]
    stats: dict[str, list[tuple[float, bool]]] = {"ips": [], "snips": [], "dr": []}
    for eps in (0.1, 0.2):
        for name, (choice, q) in cands.items():
            true = float(outcomes[np.arange(len(choice)), choice].mean())
            per = {e: [] for e in stats}
            for s in range(seeds):
                log = replay_logged(outcomes, logger, eps, requests=2000, seed=9000 + s)
                pi = candidate_matrix(choice[log["prompt"]], k)
                est = estimate(log["action"], log["propensity"], log["reward"], pi, q[log["prompt"]])
                for e, v in est.items():
                    per[e].append((v["value"] - true, v["low"] <= true <= v["high"]))
                    stats[e].append(per[e][-1])
            print(f"  eps {eps} candidate {name:18s} true {true:.4f}  " + "  ".join(
                f"{e}: bias {np.mean([b for b, _ in v]):+.4f} rmse {np.sqrt(np.mean([b * b for b, _ in v])):.4f} "
                f"cover {np.mean([c for _, c in v]):.0%}" for e, v in per.items()))
    return {e: {"bias": float(np.mean([b for b, _ in v])), "rmse": float(np.sqrt(np.mean([b * b for b, _ in v]))),
                "coverage": float(np.mean([c for _, c in v]))} for e, v in stats.items()}


def sticky(salts: int = 20) -> tuple[list[float], list[float]]:
    users = [f"user-{i}" for i in range(10_000)]
    two, three = [], []
    for s in range(salts):
        a = [assign(u, {"A": 50, "B": 50}, f"sticky-{s}") for u in users]
        b = [assign(u, {"A": 60, "B": 40}, f"sticky-{s}") for u in users]
        c = [assign(u, {"A": 1, "B": 1, "C": 1}, f"sticky-{s}") for u in users]
        d = [assign(u, {"A": 2, "B": 1, "C": 1}, f"sticky-{s}") for u in users]
        two.append(float(np.mean([x != y for x, y in zip(a, b)])))
        three.append(float(np.mean([x != y for x, y in zip(c, d)])))
    return two, three


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aa", type=int, default=200)
    ap.add_argument("--ab-seeds", type=int, default=40)
    ap.add_argument("--ope-seeds", type=int, default=50)
    ap.add_argument("--min-effect", type=float, default=0.0125, help="the A/B's configured minimum effect on feedback")
    args = ap.parse_args()
    t0 = time.perf_counter()
    mmlu = load_dataset("routellm-mmlu")
    order = np.random.default_rng(0).permutation(len(mmlu))
    train, pool = mmlu.subset(order[:10_000]), mmlu.subset(order[10_000:])
    models = list(mmlu.models)
    outcomes, costs = pool.scores, CostModel.default().dataset_costs(pool)
    clf = make_router("classifier").fit(train)
    knn = make_router("knn").fit(train)
    logistic = make_router("logistic").fit(train)
    default_clf, q_clf = choices_of(clf, pool.prompts, models)
    for r in (clf, knn):  # the share only needs the routers' scores on the pool, not its outcomes
        r.calibrate(pool, strong_share=0.5)
    half_clf, q_half = choices_of(clf, pool.prompts, models)
    half_knn, q_knn = choices_of(knn, pool.prompts, models)
    log_choice, q_log = choices_of(logistic, pool.prompts, models)
    strong = models.index(mmlu.strong)
    truth = {"A": float(outcomes[np.arange(len(pool)), half_knn].mean()),
             "B": float(outcomes[np.arange(len(pool)), half_clf].mean())}
    print(f"{len(train):,} training prompts, pool {len(pool):,}; fitted in {time.perf_counter() - t0:.0f} s")
    print(f"truth on the pool: knn@50% {truth['A']:.4f} (GPT-4 share {np.mean(half_knn == strong):.1%}), "
          f"classifier@50% {truth['B']:.4f} (GPT-4 share {np.mean(half_clf == strong):.1%}), "
          f"classifier default {outcomes[np.arange(len(pool)), default_clf].mean():.4f}")
    t = time.perf_counter()
    fpr, fwer = aa(outcomes, costs, default_clf, args.aa)
    print(f"A/A: {args.aa} experiments x 5,000 requests: false-positive rate {fpr:.1%} (feedback), "
          f"{fwer:.1%} (feedback + cost, Holm) [{time.perf_counter() - t:.0f} s]")
    t = time.perf_counter()
    early, correct, wrong, need = ab(outcomes, half_knn, half_clf, truth, args.ab_seeds, args.min_effect)
    print(f"A/B knn vs classifier (true difference {truth['B'] - truth['A']:+.4f}, min_effect {args.min_effect:g}, "
          f"power 0.8): "
          f"median size {need} per arm; 'not enough data' before it in {early:.0%} of runs; at it the known better arm "
          f"in {correct:.0%}, the wrong arm in {wrong:.0%} [{time.perf_counter() - t:.0f} s]")
    t = time.perf_counter()
    always = np.full(len(pool), strong)
    cands = {"knn@50%": (half_knn, q_knn), "classifier@50%": (half_clf, q_half), "logistic": (log_choice, q_log),
             "always-gpt-4": (always, np.tile(mmlu.scores[order[:10_000]].mean(axis=0), (len(pool), 1)))}
    o = ope(outcomes, default_clf, cands, args.ope_seeds)
    for e, v in o.items():
        print(f"OPE {e}: bias {v['bias']:+.4f}, RMSE {v['rmse']:.4f}, 95 % coverage {v['coverage']:.1%}")
    print(f"  [{time.perf_counter() - t:.0f} s]")
    two, three = sticky()
    moved = float(np.mean(two))
    print(f"sticky (10,000 users, 20 salts): 50/50 -> 60/40 moved {moved:.2%} on average (one salt: {min(two):.2%} to "
          f"{max(two):.2%}; ideal 10 %); 1/3 each -> 1/2, 1/4, 1/4 moved {np.mean(three):.2%} ({min(three):.2%} to "
          f"{max(three):.2%}; ideal 16.67 %)")
    print(f"aa_fpr={fpr:.3f} ab_verdict_correct={correct:.3f} ope_coverage={o['dr']['coverage']:.3f} "
          f"ope_rmse={o['dr']['rmse']:.4f} sticky_moved={moved:.4f}")


if __name__ == "__main__":
    main()
