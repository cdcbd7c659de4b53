"""Assigning a batch of tasks to a pool of agents with capacities and current load.

Exact: each agent's free capacity becomes that many columns, the k-th costing
``load_penalty * (load + k)`` more (a convex load cost), and the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``) solves the resulting assignment — the same optimum as
the min-cost flow.

Examples:
    >>> import numpy as np
    >>> from graphroute.allocator.assign import assign_matrix
    >>> values = np.array([[0.9, 0.5], [0.8, 0.6], [0.7, 0.4]])  # 3 tasks x 2 agents
    >>> assign_matrix(values, capacity=[1, 2]).agent_of
    [0, 1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from graphroute.errors import ConfigError


@dataclass
class TaskAssignment:
    """``agent_of[i]``: the agent index of task i (None when capacity ran out)."""

    agent_of: list[int | None]
    value: float
    names: list[str] = field(default_factory=list)

    @property
    def unassigned(self) -> list[int]:
        return [i for i, a in enumerate(self.agent_of) if a is None]

    def by_agent(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {n: [] for n in self.names}
        for i, a in enumerate(self.agent_of):
            if a is not None:
                out[self.names[a] if self.names else str(a)].append(i)
        return out


def assign_matrix(values: np.ndarray, capacity: Sequence[int], load: Sequence[int] | None = None,
                  load_penalty: float = 0.0) -> TaskAssignment:
    """Maximise total ``values[task, agent]`` minus load penalties, each agent taking at most
    ``capacity - load`` more tasks. Tasks beyond the total free capacity stay unassigned."""
    from scipy.optimize import linear_sum_assignment

    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ConfigError(f"values must be (tasks, agents), got shape {values.shape}")
    n_tasks, n_agents = values.shape
    load = list(load) if load is not None else [0] * n_agents
    if len(capacity) != n_agents or len(load) != n_agents:
        raise ConfigError(f"need one capacity and load per agent ({n_agents})", field="capacity")
    cols, extra = [], []
    for a in range(n_agents):
        free = max(0, int(capacity[a]) - int(load[a]))
        for k in range(min(free, n_tasks)):
            cols.append(a)
            extra.append(load_penalty * (int(load[a]) + k))
    if not cols or not n_tasks:
        return TaskAssignment([None] * n_tasks, 0.0)
    gain = values[:, cols] - np.asarray(extra)[None, :]
    rows, picked = linear_sum_assignment(-gain)
    agent_of: list[int | None] = [None] * n_tasks
    for r, c in zip(rows, picked):
        agent_of[r] = cols[c]
    return TaskAssignment(agent_of, float(gain[rows, picked].sum()))


def assign_tasks(allocator: Any, tasks: Sequence[str], agents: Sequence[dict[str, Any]], *, lam: float | None = None,
                 load_penalty: float = 0.0) -> TaskAssignment:
    """Assign ``tasks`` to ``agents`` (dicts: name, model, role, capacity, load) by the allocator's
    predicted single-agent utility of each (role, model) on each task, minus ``lam`` x call cost."""
    cat = allocator.catalogue
    lam = allocator.lam if lam is None else lam
    roles = {r.name: i for i, r in enumerate(cat.roles)}
    models = {m.id: j for j, m in enumerate(cat.models)}
    for k, a in enumerate(agents):
        if a.get("model") not in models:
            raise ConfigError(f"agent {k}: unknown model {a.get('model')!r}", field=f"agents[{k}].model")
        if a.get("role", cat.roles[0].name) not in roles:
            raise ConfigError(f"agent {k}: unknown role {a.get('role')!r}", field=f"agents[{k}].role")
    values = np.zeros((len(tasks), len(agents)))
    for i, t in enumerate(tasks):
        u, bonus = allocator.utility.predict(t)
        base = bonus.get(("single", 1), 0.0)
        for k, a in enumerate(agents):
            r, m = roles[a.get("role", cat.roles[0].name)], models[a["model"]]
            values[i, k] = base + u[r, m] - lam * cat.call_cost(a["model"])
    out = assign_matrix(values, [int(a.get("capacity", 1)) for a in agents], [int(a.get("load", 0)) for a in agents],
                        load_penalty)
    out.names = [str(a.get("name", f"agent{k}")) for k, a in enumerate(agents)]
    return out
