"""A simulated team environment with known ground truth, to test and benchmark the allocator.

Four task types (arithmetic, coding, writing, trivia) with varied task texts; eight roles; six
models from cheap to frontier with a true skill per task type; five modes whose true benefit
depends on the task type. A plan's true utility has the allocator's additive form (mode offset +
weighted role-model utilities); an observed outcome adds Gaussian noise. Everything is seeded.

Example:
    >>> from allocator_world import TeamWorld
    >>> world = TeamWorld(seed=0)
    >>> runs = world.logs(5)
    >>> len(runs), sorted(runs[0])
    (5, ['assignments', 'mode', 'rounds', 'score', 'task', 'task_type'])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphroute.allocator.catalogue import Catalogue, ModelSpec, Role
from graphroute.allocator.optimize import best_plan
from graphroute.types import Plan

TYPES = ["arithmetic", "coding", "writing", "trivia"]
_TEMPLATES = {
    "arithmetic": ["A shop sells {a} apples at {b} cents each and {c} pears. What is the total cost in dollars?",
                   "Solve for x: {a}x + {b} = {c}. Show your work.",
                   "A train travels {a} km in {b} hours, then {c} km more. What is its average speed?",
                   "What is {a}% of {b}, plus {c}?"],
    "coding": ["Write a Python function that returns the {a}th Fibonacci number modulo {b}.",
               "Fix the bug in this loop that sums {a} numbers and skips every {b}th element.",
               "Implement a class for a queue with capacity {a} and a method to drain {b} items.",
               "Write a SQL query returning the top {a} customers by revenue in the last {b} days."],
    "writing": ["Write a {a}-line poem about the sea at dawn, in the style of a sonnet.",
                "Draft a friendly email to {a} colleagues announcing a team lunch on day {b}.",
                "Summarise a {a}-page report on urban gardening for a general audience in {b} sentences.",
                "Write a short story opening of about {a} words featuring a lighthouse keeper."],
    "trivia": ["Which country hosted the Olympic Games in {y}?",
               "Who wrote the novel that was published in {y} and won a major prize?",
               "What is the capital of the country with the {a}th largest population?",
               "In which year did the event happen that is {a} years before {y}?"],
}
# true skill of each model per task type (columns: TYPES)
MODELS = [  # id, $/1M in, $/1M out, skill per type, tags
    ("tiny-1b", 0.05, 0.10, [0.35, 0.30, 0.45, 0.30], ["local"]),
    ("small-8b", 0.15, 0.60, [0.50, 0.45, 0.62, 0.45], ["local"]),
    ("code-22b", 0.40, 1.20, [0.58, 0.80, 0.55, 0.50], []),
    ("mid-70b", 0.80, 2.40, [0.70, 0.65, 0.75, 0.68], []),
    ("large", 2.50, 10.0, [0.82, 0.80, 0.82, 0.80], []),
    ("frontier", 10.0, 30.0, [0.88, 0.86, 0.84, 0.86], []),
]
# role: kind, fit per task type (how much the role's contribution counts)
ROLES = [
    ("generalist", "solver", [1.00, 0.95, 1.00, 1.00]),
    ("mathematician", "solver", [1.10, 0.85, 0.80, 0.85]),
    ("programmer", "solver", [0.85, 1.12, 0.80, 0.85]),
    ("author", "solver", [0.80, 0.80, 1.12, 0.90]),
    ("planner", "planner", [1.00, 1.00, 0.95, 0.85]),
    ("critic", "critic", [1.00, 1.00, 0.90, 0.90]),
    ("fact_checker", "critic", [0.95, 0.90, 0.85, 1.08]),
    ("judge", "judge", [1.00, 1.00, 0.95, 1.00]),
]
# true mode offsets per task type, keyed (mode, rounds)
MODE_EFFECT = {
    ("single", 1): [0.00, 0.00, 0.00, 0.00],
    ("chain", 1): [0.04, 0.08, 0.03, 0.00],
    ("reflection", 1): [0.06, 0.07, 0.05, 0.02],
    ("reflection", 2): [0.08, 0.09, 0.05, 0.02],
    ("debate", 1): [0.07, 0.03, 0.00, 0.06],
    ("debate", 2): [0.09, 0.04, 0.00, 0.07],
    ("vote", 1): [0.05, 0.02, -0.02, 0.05],
}


class TeamWorld:
    """The environment. ``lam`` prices dollars in utility units for the oracle and the allocator."""

    def __init__(self, seed: int = 0, noise: float = 0.05) -> None:
        self.rng = np.random.default_rng(seed)
        self.noise = noise
        self.catalogue = Catalogue(
            roles=[Role(name=n, kind=k, system_prompt=f"You are the team's {n}.") for n, k, _ in ROLES],
            models=[ModelSpec(id=i, input_price=pi, output_price=po, tags=t, quality=0.6) for i, pi, po, _, t in MODELS])
        self.skill = np.array([s for *_, s, _ in MODELS])  # (models, types)
        self.fit = np.array([f for *_, f in ROLES])  # (roles, types)

    def task(self) -> tuple[str, int]:
        t = int(self.rng.integers(len(TYPES)))
        tpl = _TEMPLATES[TYPES[t]][int(self.rng.integers(4))]
        a, b, c = (int(x) for x in self.rng.integers(2, 99, size=3))
        return tpl.format(a=a, b=b, c=c, y=int(self.rng.integers(1900, 2020))), t

    def truth(self, t: int) -> tuple[np.ndarray, dict[tuple[str, int], float]]:
        """True (roles x models) utilities and mode offsets for task type ``t``."""
        return np.outer(self.fit[:, t], self.skill[:, t]), {k: v[t] for k, v in MODE_EFFECT.items()}

    def true_utility(self, plan: Plan | dict[str, Any], t: int) -> float:
        """True utility of a plan (or a run-style dict) on a task of type ``t``."""
        if isinstance(plan, Plan):
            mode_name, rounds, triples = plan.mode, plan.rounds, [(a.slot, a.role, a.model) for a in plan.assignments]
        else:
            mode_name, rounds = plan["mode"], plan["rounds"]
            triples = [(a["slot"], a["role"], a["model"]) for a in plan["assignments"]]
        u, bonus = self.truth(t)
        mode = next(m for m in self.catalogue.modes if m.name == mode_name)
        total_w = sum(s.weight for s in mode.slots)
        weights = {s.name: s.weight / total_w for s in mode.slots}
        roles = {r.name: i for i, r in enumerate(self.catalogue.roles)}
        models = {m.id: j for j, m in enumerate(self.catalogue.models)}
        return bonus[(mode_name, rounds)] + sum(weights[s] * u[roles[r], models[m]] for s, r, m in triples)

    def random_plan(self) -> dict[str, Any]:
        cat = self.catalogue
        mode = cat.modes[int(self.rng.integers(len(cat.modes)))]
        rounds = int(self.rng.choice(mode.rounds))
        out = []
        for s in mode.slots:
            roles = cat.slot_roles(s)
            role = roles[int(self.rng.integers(len(roles)))]
            model = cat.models[int(self.rng.integers(len(cat.models)))]
            out.append({"slot": s.name, "role": role.name, "model": model.id})
        return {"mode": mode.name, "rounds": rounds, "assignments": out}

    def logs(self, n: int) -> list[dict[str, Any]]:
        """``n`` logged runs: random tasks, random plans, noisy observed scores."""
        runs = []
        for _ in range(n):
            text, t = self.task()
            plan = self.random_plan()
            score = self.true_utility(plan, t) + self.noise * float(self.rng.standard_normal())
            runs.append({"task": text, "task_type": TYPES[t], **plan, "score": score})
        return runs

    def oracle(self, t: int, lam: float, budget: float | None = None) -> Plan:
        u, bonus = self.truth(t)
        plan = best_plan(self.catalogue, u, bonus, lam=lam, budget=budget)
        assert plan is not None
        return plan

    def strongest(self, t: int) -> Plan:
        """Best plan (true utility) when every slot must use the most expensive model."""
        u, bonus = self.truth(t)
        top = max(range(len(self.catalogue.models)), key=lambda j: self.catalogue.call_cost(self.catalogue.models[j].id))
        mask = np.full_like(u, -1e9)
        mask[:, top] = u[:, top]
        plan = best_plan(self.catalogue, mask, bonus, lam=0.0)
        assert plan is not None
        return plan
