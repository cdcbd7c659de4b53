"""Allocator benchmark on the simulated team world (8 roles x 6 models x 5 modes, known truth).

1. Exactness: the branch-and-bound optimiser against brute force on random small catalogues and on
   the full world with random budgets -> optimality gap (max objective difference).
2. Learning: fit on N logged runs (random plans, noisy outcomes) from a world seeded differently
   from the one the defaults were chosen on; on held-out tasks report the true utility of the
   allocator's plan over the oracle plan's (same lam), and its cost over the cost of the best plan
   using the strongest model in every role.
3. Planning latency for one task, task embedding included (uncached ONNX MiniLM) and without it.

    python benchmarks/allocator.py [--runs 2000] [--tasks 300] [--lam 5]

Last line: ``optimality_gap=G utility_vs_oracle=U cost_vs_strongest=C plan_p50_ms=L``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def exactness(rng: np.random.Generator, world, cases: int = 200) -> tuple[float, int]:
    from graphroute.allocator import Catalogue, ModelSpec, Role, best_plan

    gap, n = 0.0, 0
    for _ in range(cases):
        n_models = int(rng.integers(1, 5))
        roles = [Role(name="s1"), Role(name="s2"), Role(name="critic", kind="critic"), Role(name="judge", kind="judge"),
                 Role(name="planner", kind="planner")][: int(rng.integers(2, 6))]
        cat = Catalogue(roles=roles, models=[ModelSpec(id=f"m{j}", input_price=float(rng.uniform(0, 10)),
                                                       output_price=float(rng.uniform(0, 30))) for j in range(n_models)])
        u = rng.random((len(roles), n_models))
        bonus = {(m.name, r): float(rng.normal(0, 0.05)) for m in cat.modes for r in m.rounds}
        lam, budget = float(rng.uniform(0, 50)), float(rng.uniform(0.001, 0.05))
        a = best_plan(cat, u, bonus, lam=lam, budget=budget)
        b = best_plan(cat, u, bonus, lam=lam, budget=budget, method="brute")
        assert (a is None) == (b is None)
        if a is not None:
            gap = max(gap, b.objective - a.objective)
            n += 1
    for _ in range(3):  # the full world, budget binding
        u = rng.random((8, 6))
        bonus = {(m.name, r): float(rng.normal(0, 0.05)) for m in world.catalogue.modes for r in m.rounds}
        budget = float(rng.uniform(0.002, 0.02))
        a = best_plan(world.catalogue, u, bonus, lam=2.0, budget=budget)
        b = best_plan(world.catalogue, u, bonus, lam=2.0, budget=budget, method="brute")
        gap = max(gap, b.objective - a.objective)
        n += 1
    return gap, n


def main() -> None:
    from graphroute.allocator import Allocator, UtilityModel, best_plan
    from allocator_world import TeamWorld
    from graphroute.encoders import make_encoder

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--tasks", type=int, default=300)
    ap.add_argument("--lam", type=float, default=5.0)
    args = ap.parse_args()

    world = TeamWorld(seed=1)
    gap, cases = exactness(np.random.default_rng(1), world)
    print(f"exactness: {cases} cases vs brute force, max optimality gap {gap:.3g}")

    enc = make_encoder()  # uncached ONNX MiniLM: every task is embedded for real
    test = [world.task() for _ in range(args.tasks)]
    logs = world.logs(args.runs)
    oracle = {t: world.oracle(t, args.lam) for t in range(4)}
    strongest = {t: world.strongest(t) for t in range(4)}
    curve = []
    print("learning curve (held-out tasks):  runs  utility/oracle  cost/strongest")
    for n in sorted({0, 100, 200, 400, 800, 1600, args.runs}):
        if n > args.runs:
            continue
        um = UtilityModel(world.catalogue, encoder=enc)
        if n:
            um.fit(logs[:n])
        util, cost = [], []
        for text, t in test:
            u, bonus = um.predict(text)
            p = best_plan(world.catalogue, u, bonus, lam=args.lam)
            util.append(world.true_utility(p, t) / world.true_utility(oracle[t], t))
            cost.append(p.cost / strongest[t].cost)
        curve.append((n, float(np.mean(util)), float(np.mean(cost))))
        print(f"{n:>38d}  {curve[-1][1]:14.4f}  {curve[-1][2]:14.4f}")
    print(f"oracle plan: cost/strongest {np.mean([oracle[t].cost / strongest[t].cost for _, t in test]):.4f}")

    alloc = Allocator(world.catalogue, utility=um, lam=args.lam)
    fresh = [f"{text} (case {i})" for i, (text, _) in enumerate(test)]
    for text in fresh[:10]:
        alloc.plan(text)
    full, beyond = [], []
    for text in fresh[10:210]:
        t0 = time.perf_counter()
        alloc.plan(text)
        full.append((time.perf_counter() - t0) * 1000)
        v = enc.encode([text])[0]
        t0 = time.perf_counter()
        w = um.weights_for(text, vector=v)
        n_um = um.n_um
        best_plan(world.catalogue, w[:n_um].reshape(8, 6), {c: float(w[n_um + i]) for i, c in enumerate(um._combos)},
                  lam=args.lam)
        beyond.append((time.perf_counter() - t0) * 1000)
    p50, p99 = float(np.percentile(full, 50)), float(np.percentile(full, 99))
    print(f"plan one task (8 roles x 6 models x 5 modes, {len(um.y_)} logged runs): p50 {p50:.2f} ms, p99 {p99:.2f} ms "
          f"incl. embedding; without embedding p50 {np.percentile(beyond, 50):.2f} ms")
    n, u_ratio, c_ratio = curve[-1]
    print(f"optimality_gap={gap:.3g} utility_vs_oracle={u_ratio:.4f} cost_vs_strongest={c_ratio:.4f} plan_p50_ms={p50:.2f}")


if __name__ == "__main__":
    main()
