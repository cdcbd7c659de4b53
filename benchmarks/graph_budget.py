"""One budget across the steps of a workflow, on the 9 LLMRouter models' recorded outcomes.

Workflows of ``--steps`` steps are composed from the 500 test prompts of ``llmrouter-9-test``: each
step a prompt of a different task (``--runs`` workflows, seed 0); a run succeeds when every step
does (a step's recorded score >= 0.5). A ``logistic`` router is fitted on 80 % of ``llmrouter-9``
and its lambda calibrated on the other 20 % to spend ``B / steps`` per prompt (``cost_per_query``);
dollars are graphroute's labelled estimates (prompt tokens counted, output tokens assumed per task).
Each step calls ``router.decide([prompt], max_cost=...)``, the call a compiled graph's ``llm`` node
makes with the run's ``budget_remaining`` (:mod:`graphroute.graphs.compiler`); if the chosen
model's recorded cost is over what is left, the cheapest model is used instead.

* **shared budget** (the graph): one budget ``B`` per run; each step may spend what is left, less
  the cheapest model's expected cost for each step still to come;
* **per-step budgets**: each step gets ``B / steps`` on its own (``max_cost = B / steps``);
* **best single model**: the most accurate model (on the training data) whose runs cost at most
  ``B`` on average, every step.

Swept over budgets from the cheapest model's run cost to the most expensive one's.

Run: python benchmarks/graph_budget.py [--steps 3] [--runs 2000]
The last line reads ``budget=… shared=… per_step=… best_single=… shared_spend=… per_step_spend=…``
at the middle budget of the sweep (success rates; mean dollars per run).
"""

from __future__ import annotations

import argparse

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.routers import CostPolicy, make_router


def compose(test, steps: int, runs: int, seed: int = 0) -> np.ndarray:
    """(runs, steps) row indices of test prompts, each step from a different task."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(test.groups)
    tasks = sorted(set(groups))
    by_task = {t: np.flatnonzero(groups == t) for t in tasks}
    out = np.empty((runs, steps), dtype=int)
    for r in range(runs):
        for s, t in enumerate(rng.choice(tasks, steps, replace=False)):
            out[r, s] = rng.choice(by_task[t])
    return out


def run(router, test, flows: np.ndarray, budget: float, shared: bool, q: np.ndarray) -> tuple[float, float]:
    """Success rate and mean spend of the workflows under one budget rule."""
    steps = flows.shape[1]
    cols = np.array([test.index(m) for m in router.models_])
    floor = min(router.costs_.values())
    wins, spend = 0, 0.0
    for flow in flows:
        left, ok, spent = budget, True, 0.0
        for s, i in enumerate(flow):
            cap = left - floor * (steps - s - 1) if shared else budget / steps
            model, _ = router.policy_.choose(q[i], router.models_, router.weak_, router.strong_, max(cap, 0.0))
            j = cols[router.models_.index(model)]
            cost = test.costs[i, j]
            if cost > (left if shared else budget / steps):  # over what is left: the cheapest model
                j = cols[int(np.argmin(test.costs[i, cols]))]
                cost = test.costs[i, j]
            spent += cost
            left -= cost
            ok = ok and test.scores[i, j] >= 0.5
        wins += ok
        spend += spent
    return wins / len(flows), spend / len(flows)


def best_lam(router, data, flows, q, budget: float, shared: bool, grid: np.ndarray) -> float:
    """The lambda whose workflows on ``data`` succeed most while spending at most ``budget`` on average."""
    best, best_success = float(grid[-1]), -1.0
    for lam in grid:
        router.set_policy(CostPolicy(costs=router.costs_, lam=float(lam)))
        success, spend = run(router, data, flows, budget, shared, q)
        if spend <= budget and success > best_success:
            best, best_success = float(lam), success
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--router", default="logistic")
    ap.add_argument("--budgets", type=int, default=7)
    args = ap.parse_args()
    train, test = load_dataset("llmrouter-9"), load_dataset("llmrouter-9-test")
    order = np.random.default_rng(0).permutation(len(train))
    cut = int(0.8 * len(train))
    fit_on, cal_on = train.subset(np.sort(order[:cut])), train.subset(np.sort(order[cut:]))
    router = make_router(args.router).fit(fit_on)
    q_test, q_cal = router.quality_dataset(test), router.quality_dataset(cal_on)
    flows, cal_flows = compose(test, args.steps, args.runs), compose(cal_on, args.steps, args.runs, seed=1)

    def runs_of(data, fl):
        cols = [data.index(m) for m in router.models_]
        return ({m: float(np.mean(data.costs[fl, c].sum(axis=1))) for m, c in zip(router.models_, cols)},
                {m: float(np.mean((data.scores[fl, c] >= 0.5).all(axis=1))) for m, c in zip(router.models_, cols)})

    cost_cal, win_cal = runs_of(cal_on, cal_flows)
    cost_test, win_test = runs_of(test, flows)
    lo, hi = min(cost_cal.values()), max(cost_cal.values())
    grid = np.concatenate([[0.0], np.geomspace(1.0, 1e5, 41)])
    print(f"{len(flows)} test workflows of {args.steps} steps (different tasks); {args.router} router; lambda of each "
          f"rule and the single model chosen on {len(cal_flows)} workflows of held-out training prompts; est. dollars")
    print(f"{'budget/run':>11s} {'shared':>8s} {'spend':>10s} {'per-step':>9s} {'spend':>10s} {'best single':>12s} "
          f"{'spend':>10s}  model")
    rows = []
    for b in np.geomspace(lo * 1.05, hi, args.budgets):
        out = []
        for shared in (True, False):
            lam = best_lam(router, cal_on, cal_flows, q_cal, b, shared, grid)
            router.set_policy(CostPolicy(costs=router.costs_, lam=lam))
            out.append(run(router, test, flows, b, shared, q_test))
        affordable = [m for m in router.models_ if cost_cal[m] <= b] or [min(cost_cal, key=cost_cal.get)]
        best = max(affordable, key=lambda m: win_cal[m])
        rows.append((b, *out[0], *out[1], win_test[best], cost_test[best]))
        print(f"{b:11.6f} {out[0][0]:8.4f} {out[0][1]:10.6f} {out[1][0]:9.4f} {out[1][1]:10.6f} {win_test[best]:12.4f} "
              f"{cost_test[best]:10.6f}  {best}")
    b, shared_s, s_spend, step_s, p_spend, best_s, _ = rows[len(rows) // 2]
    wins = sum(r[1] > r[3] for r in rows)
    print(f"shared budget ahead of per-step budgets at {wins} of {len(rows)} budgets")
    print(f"budget={b:.6f} shared={shared_s:.4f} per_step={step_s:.4f} best_single={best_s:.4f} "
          f"shared_spend={s_spend:.6f} per_step_spend={p_spend:.6f}")


if __name__ == "__main__":
    main()
