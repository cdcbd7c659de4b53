"""Choosing a plan: mode, rounds, and a (role, model) per slot maximising
``utility - lam * cost`` subject to ``cost <= budget``.

A plan's predicted utility is ``bonus[mode, rounds] + sum_s w_s * u[role_s, model_s]`` (``w_s`` the
slot's normalised weight) and its cost ``sum_s calls_s(rounds) * cost[model_s]``. For a fixed
(mode, rounds) the slots separate except for the budget: a multiple-choice knapsack. ``exact``
solves it with dominance pruning and depth-first branch and bound (bound: the remaining slots'
best values ignoring the budget; feasibility: their cheapest costs) — proven optimal, and equal
to ``brute`` force on every case in the tests.

Examples:
    >>> import numpy as np
    >>> from graphroute.allocator import Catalogue, ModelSpec, Role, best_plan
    >>> cat = Catalogue(roles=[Role(name="solver")], models=[ModelSpec(id="small", input_price=0.1, output_price=0.1),
    ...                                                      ModelSpec(id="big", input_price=10, output_price=30)])
    >>> u = np.array([[0.6, 0.9]])  # solver x (small, big)
    >>> best_plan(cat, u, {}, lam=0.0).assignments[0].model, best_plan(cat, u, {}, lam=100.0).assignments[0].model
    ('big', 'small')
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphroute.allocator.catalogue import Catalogue, Mode
from graphroute.types import Assignment, Plan


@dataclass
class _Option:
    role: int
    model: int
    value: float
    cost: float
    utility: float


def slot_options(cat: Catalogue, mode: Mode, rounds: int, u: np.ndarray, costs: np.ndarray, lam: float) -> list[list[_Option]]:
    """Every (role, model) option of every slot of ``mode`` at ``rounds``."""
    total_w = sum(s.weight for s in mode.slots)
    out = []
    role_index = {r.name: i for i, r in enumerate(cat.roles)}
    for slot in mode.slots:
        calls = slot.calls + slot.calls_per_round * rounds
        w = slot.weight / total_w
        opts = []
        for role in cat.slot_roles(slot):
            i = role_index[role.name]
            for j, m in enumerate(cat.models):
                if cat.allowed(role, m):
                    util = w * float(u[i, j])
                    cost = calls * float(costs[j])
                    opts.append(_Option(i, j, util - lam * cost, cost, util))
        out.append(opts)
    return out


def _prune(opts: list[_Option]) -> list[_Option]:
    """Drop options another option beats on both cost and value (keeps the Pareto set)."""
    keep: list[_Option] = []
    for o in sorted(opts, key=lambda o: (o.cost, -o.value)):
        if not keep or o.value > keep[-1].value:
            keep.append(o)
    return keep


def _search_exact(options: list[list[_Option]], budget: float) -> tuple[float, list[_Option]] | None:
    options = [_prune(o) for o in options]
    if any(not o for o in options):
        return None
    # most valuable options first: good incumbents early, tighter pruning
    options = [sorted(o, key=lambda x: -x.value) for o in options]
    n = len(options)
    best_rest = np.r_[np.cumsum([max(x.value for x in o) for o in options][::-1])[::-1], 0.0]
    min_rest = np.r_[np.cumsum([min(x.cost for x in o) for o in options][::-1])[::-1], 0.0]
    if min_rest[0] > budget + 1e-15:
        return None
    best: list[Any] = [-math.inf, None]
    chosen: list[_Option] = []

    def dfs(k: int, value: float, cost: float) -> None:
        if k == n:
            if value > best[0]:
                best[0], best[1] = value, list(chosen)
            return
        if value + best_rest[k] <= best[0]:
            return
        for o in options[k]:
            if cost + o.cost + min_rest[k + 1] > budget + 1e-15:
                continue
            chosen.append(o)
            dfs(k + 1, value + o.value, cost + o.cost)
            chosen.pop()

    dfs(0, 0.0, 0.0)
    return None if best[1] is None else (best[0], best[1])


def _search_brute(options: list[list[_Option]], budget: float) -> tuple[float, list[_Option]] | None:
    best: tuple[float, list[_Option]] | None = None
    for combo in itertools.product(*options):
        if sum(o.cost for o in combo) <= budget + 1e-15:
            v = sum(o.value for o in combo)
            if best is None or v > best[0]:
                best = (v, list(combo))
    return best


def best_plan(cat: Catalogue, u: np.ndarray, bonus: dict[tuple[str, int], float], *, lam: float = 0.0,
              budget: float | None = None, method: str = "exact", modes: list[str] | None = None) -> Plan | None:
    """The plan maximising predicted ``utility - lam * cost`` within ``budget`` (None when nothing fits).

    ``u``: (roles, models) predicted utility of each role played by each model; ``bonus``:
    (mode name, rounds) -> predicted utility offset of that mode.
    """
    if method not in ("exact", "brute"):
        raise ValueError(f"method must be 'exact' or 'brute', got {method!r}")
    costs = np.array([cat.call_cost(m.id) for m in cat.models])
    limit = math.inf if budget is None else float(budget)
    search = _search_exact if method == "exact" else _search_brute
    best: Plan | None = None
    considered = 0
    for mode in cat.modes:
        if modes is not None and mode.name not in modes:
            continue
        for r in mode.rounds:
            considered += 1
            found = search(slot_options(cat, mode, r, u, costs, lam), limit)
            if found is None:
                continue
            b = float(bonus.get((mode.name, r), 0.0))
            value, opts = found
            util = b + sum(o.utility for o in opts)
            cost = sum(o.cost for o in opts)
            obj = value + b
            if best is None or obj > best.objective + 1e-12:
                best = Plan(mode=mode.name, kind=mode.kind, rounds=r,
                            assignments=[Assignment(slot=s.name, role=cat.roles[o.role].name, model=cat.models[o.model].id,
                                                    calls=s.calls + s.calls_per_round * r)
                                         for s, o in zip(mode.slots, opts)],
                            utility=util, cost=cost, objective=obj)
    return dataclasses.replace(best, alternatives=considered) if best is not None else None
