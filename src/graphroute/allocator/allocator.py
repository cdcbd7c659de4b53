"""The allocator: plan a team for a task, learn from logged runs, run the plan, serve as a node.

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.allocator import Allocator, Catalogue, ModelSpec, Role
    >>> cat = Catalogue(roles=[Role(name="solver"), Role(name="critic", kind="critic")],
    ...                 models=[ModelSpec(id="gpt-4o-mini", input_price=0.15, output_price=0.6, quality=0.6),
    ...                         ModelSpec(id="gpt-4o", input_price=2.5, output_price=10, quality=0.8)])
    >>> alloc = Allocator(cat, lam=50.0)  # cold start: priors only
    >>> plan = alloc.plan("Summarise this paragraph.")
    >>> plan.mode, plan.models()
    ('single', {'solver': 'gpt-4o-mini'})
    >>> alloc.plan("Summarise this paragraph.", lam=0.0).models()["solver"]
    'gpt-4o'
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from graphroute.allocator.assign import assign_tasks
from graphroute.allocator.catalogue import Catalogue
from graphroute.allocator.execute import compile_plan
from graphroute.allocator.optimize import best_plan
from graphroute.allocator.utility import UtilityModel
from graphroute.errors import AllocatorError, PromptError
from graphroute.persist import read_folder, save_folder
from graphroute.types import Plan

KIND = "allocator"


class Allocator:
    """Chooses ``argmax(predicted utility - lam * cost)`` over modes, rounds, roles and models within
    ``budget`` (dollars per task). Utilities come from ``utility`` (a ``UtilityModel``; fitted
    with ``fit``), else from the catalogue's priors."""

    def __init__(self, catalogue: Catalogue, *, utility: UtilityModel | None = None, lam: float = 0.0,
                 budget: float | None = None, method: str = "exact", encoder: Any = None) -> None:
        if lam < 0 or (budget is not None and budget < 0):
            raise AllocatorError("lam and budget must be non-negative")
        self.catalogue = catalogue
        self.utility = utility or UtilityModel(catalogue, encoder=encoder)
        self.lam, self.budget, self.method = lam, budget, method

    def fit(self, runs: Sequence[dict[str, Any]] | str | Path) -> "Allocator":
        """Learn utilities from logged runs (a list of dicts, or a JSONL path)."""
        if isinstance(runs, (str, Path)):
            runs = UtilityModel.read_runs(runs)
        self.utility.fit(runs)
        return self

    def plan(self, task: str, *, budget: float | None = None, lam: float | None = None,
             modes: list[str] | None = None) -> Plan:
        """The best plan for ``task`` (its predicted utility and cost are on the plan)."""
        if not isinstance(task, str) or not task.strip():
            raise PromptError("task must be a non-empty string")
        u, bonus = self.utility.predict(task)
        limit = self.budget if budget is None else budget
        plan = best_plan(self.catalogue, u, bonus, lam=self.lam if lam is None else lam, budget=limit,
                         method=self.method, modes=modes)
        if plan is None:
            cheapest = min(self.catalogue.call_cost(m.id) for m in self.catalogue.models)
            raise AllocatorError(f"no plan fits the budget ${limit:g} (the cheapest single call costs ${cheapest:g})",
                                 field="budget")
        return plan

    def compile(self, plan: Plan, models: dict[str, Any], **kwargs: Any):
        """The plan as a compiled LangGraph subgraph (see ``graphroute.allocator.execute``)."""
        return compile_plan(plan, self.catalogue, models, **kwargs)

    def run(self, task: str, models: dict[str, Any], **plan_kwargs: Any) -> dict[str, Any]:
        """Plan, compile and run: the final state plus the plan."""
        plan = self.plan(task, **plan_kwargs)
        out = self.compile(plan, models).invoke({"task": task})
        return {**out, "plan": plan.to_dict()}

    def node(self, models: dict[str, Any], *, task_key: str = "task", output_key: str = "answer",
             plan_key: str = "plan", trace_key: str = "team", budget_key: str = "budget_remaining"):
        """A LangGraph node: plans for ``state[task_key]`` within the state's remaining budget, runs
        the team, writes the answer, the plan, every agent output (``trace_key``) and the spent
        budget back. The plan's predicted cost is what the budget check uses; the state is charged
        what the calls actually cost."""

        def allocate(state: dict) -> dict:
            budget = state.get(budget_key)
            result = self.run(state[task_key], models, **({"budget": max(0.0, float(budget))} if budget is not None else {}))
            update = {output_key: result["answer"], plan_key: result["plan"], trace_key: result.get("outputs", [])}
            if budget is not None:
                update[budget_key] = float(budget) - float(result.get("cost", 0.0))
            return update

        return allocate

    def assign(self, tasks: Sequence[str], agents: Sequence[dict[str, Any]], **kwargs: Any):
        """Assign a batch of tasks to agents (see ``graphroute.allocator.assign.assign_tasks``)."""
        return assign_tasks(self, tasks, agents, **kwargs)

    def save(self, path: str | Path) -> Path:
        """Catalogue, settings and (when fitted) the utility model, to a folder."""
        fitted = hasattr(self.utility, "Phi_")
        meta = {"catalogue": self.catalogue.model_dump(), "lam": self.lam, "budget": self.budget,
                "method": self.method, "fitted": fitted}
        return save_folder(path, KIND, meta, write=(lambda tmp: self.utility.save(tmp / "utility")) if fitted else None)

    @classmethod
    def load(cls, path: str | Path, encoder: Any = None) -> "Allocator":
        saved = read_folder(path, KIND)
        meta = saved.meta
        cat = Catalogue.model_validate(meta["catalogue"])
        utility = UtilityModel.load(saved.path / "utility", encoder=encoder) if meta.get("fitted") else None
        budget = meta.get("budget")
        return cls(cat, utility=utility, lam=float(meta.get("lam", 0.0)),
                   budget=None if budget is None or (isinstance(budget, float) and math.isnan(budget)) else budget,
                   method=meta.get("method", "exact"), encoder=encoder)
