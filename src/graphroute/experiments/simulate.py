"""Experiments replayed on recorded outcomes, where every arm's truth is known: the records a
server would log (``experiment`` and ``feedback`` events) for users drawing prompts from a
dataset, and the logs of an epsilon-greedy policy for off-policy evaluation. The benchmarks and
tests prove the report and the estimators against this truth.

Examples:
    >>> import numpy as np
    >>> from graphroute.experiments.simulate import replay_traffic
    >>> outcomes = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])   # 4 prompts x 2 models
    >>> recs = replay_traffic(outcomes, {"weak": np.zeros(4, int), "strong": np.ones(4, int)}, {"weak": 1, "strong": 1},
    ...                       requests=100, users=50, seed=0)
    >>> sorted({r["arm"] for r in recs if r["event"] == "experiment"})
    ['strong', 'weak']
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from graphroute.experiments.assignment import assign


def replay_traffic(outcomes: np.ndarray, choices: Mapping[str, np.ndarray], weights: Mapping[str, float], *,
                   requests: int, users: int, seed: int, costs: np.ndarray | None = None,
                   models: Sequence[str] | None = None, experiment: str = "replay", salt: str | None = None,
                   unit: str = "user") -> list[dict]:
    """``requests`` requests from ``users`` users (each request: a uniformly drawn user and prompt);
    every user keeps the arm a salted hash gives it; each arm serves ``choices[arm][prompt]`` and is
    scored with that model's recorded outcome. ``unit="request"`` draws an arm per request."""
    rng = np.random.default_rng(seed)
    salt = salt if salt is not None else f"{experiment}-{seed}"
    models = list(models) if models is not None else [str(j) for j in range(outcomes.shape[1])]
    total = float(sum(weights.values()))
    shares = {a: w / total for a, w in weights.items()}
    user_ids = rng.integers(0, users, requests)
    prompt_ids = rng.integers(0, outcomes.shape[0], requests)
    arm_of_user: dict[int, str] = {}
    out: list[dict] = []
    for i, (u, q) in enumerate(zip(user_ids.tolist(), prompt_ids.tolist())):
        if unit == "request":
            arm = assign(f"req{i}", weights, salt)
        else:
            arm = arm_of_user.get(u) or arm_of_user.setdefault(u, assign(f"user{u}", weights, salt))
        j = int(choices[arm][q])
        decisions = {a: models[int(c[q])] for a, c in choices.items()}
        served = models[j]
        rid = f"{experiment}-{seed}-{i}"
        out.append({"event": "experiment", "experiment": experiment, "run_id": rid, "unit": None if unit == "request" else f"user{u}",
                    "arm": arm, "weights": shares, "arm_probability": shares[arm],
                    "decisions": {a: {"model": m, "probability": 1.0} for a, m in decisions.items()}, "model": served,
                    "propensity": sum(shares[a] for a, m in decisions.items() if m == served),
                    "cost": None if costs is None else float(costs[q, j]), "latency_ms": None, "prompt_index": q})
        out.append({"event": "feedback", "run_id": rid, "score": float(outcomes[q, j])})
    return out


def replay_logged(outcomes: np.ndarray, greedy: np.ndarray, epsilon: float, *, requests: int, seed: int,
                  costs: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Logs of an epsilon-greedy policy over ``greedy[prompt]`` (a uniformly random model with chance
    ``epsilon``): ``prompt``, ``action``, ``propensity``, ``reward`` and ``cost`` per request."""
    rng = np.random.default_rng(seed)
    k = outcomes.shape[1]
    q = rng.integers(0, outcomes.shape[0], requests)
    g = np.asarray(greedy)[q]
    explore = rng.random(requests) < epsilon
    a = np.where(explore, rng.integers(0, k, requests), g)
    p = epsilon / k + (1 - epsilon) * (a == g)
    return {"prompt": q, "action": a, "propensity": p, "reward": outcomes[q, a].astype(np.float64),
            "cost": np.zeros(requests) if costs is None else costs[q, a].astype(np.float64)}
