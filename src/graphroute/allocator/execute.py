"""Running a plan: compile it to a LangGraph subgraph where each agent step calls its assigned model.

* ``single`` — one agent; ``chain`` — slots in order, each seeing the previous outputs;
* ``reflection`` — solve, then per round: critique, revise;
* ``debate`` — each round the debaters answer in parallel (``Send`` fan-out), seeing the previous
  round; then the judge decides;
* ``vote`` — voters answer in parallel (``Send``); the majority final answer wins.

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.allocator import Assignment, Catalogue, ModelSpec, Plan, Role
    >>> from graphroute.allocator.execute import compile_plan
    >>> cat = Catalogue(roles=[Role(name="solver"), Role(name="critic", kind="critic")],
    ...                 models=[ModelSpec(id="gpt-4o-mini", input_price=0.15, output_price=0.6)])
    >>> plan = Plan(mode="reflection", kind="reflection", rounds=1, utility=0, cost=0, objective=0,
    ...             assignments=[Assignment(slot="solver", role="solver", model="gpt-4o-mini", calls=2),
    ...                          Assignment(slot="critic", role="critic", model="gpt-4o-mini", calls=1)])
    >>> app = compile_plan(plan, cat, {"gpt-4o-mini": FakeListChatModel(responses=["draft", "looks wrong", "final"])})
    >>> out = app.invoke({"task": "2 + 2?"})
    >>> out["answer"], [(o["slot"], o["round"]) for o in out["outputs"]]
    ('final', [('solver', 0), ('critic', 1), ('solver', 1)])
"""

from __future__ import annotations

import operator
from collections import Counter
from typing import Annotated, Any, TypedDict

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from graphroute.allocator.catalogue import Catalogue
from graphroute.calls import call_model
from graphroute.costs import CostModel, Price
from graphroute.errors import ConfigError, UnknownModelError
from graphroute.scorers.signals import default_extract
from graphroute.types import Plan


class TeamState(TypedDict, total=False):
    """State of a compiled team: the task in; every agent output and the answer out."""

    task: str
    answer: str
    outputs: Annotated[list[dict], operator.add]
    round: int
    cost: Annotated[float, operator.add]


def _context(outputs: list[dict], slots: set[str] | None = None, rounds: set[int] | None = None) -> str:
    lines = [f"[{o['slot']} ({o['role']}), round {o['round']}]\n{o['text']}" for o in outputs
             if (slots is None or o["slot"] in slots) and (rounds is None or o["round"] in rounds)]
    return "\n\n".join(lines)


def _final(text: str) -> str:
    return default_extract(text)


def compile_plan(plan: Plan, catalogue: Catalogue, models: dict[str, Any], *, checkpointer: Any = None):
    """A compiled ``StateGraph(TeamState)`` running ``plan`` with ``models`` (model id -> chat model)."""
    for a in plan.assignments:
        if a.model not in models:
            raise UnknownModelError(a.model, sorted(models), f"plan {plan.mode!r} slot {a.slot!r}")
    by_slot = {a.slot: a for a in plan.assignments}
    prices = CostModel({m.id: Price(m.input_price, m.output_price) for m in catalogue.models}, source="catalogue")

    def agent(slot: str, instruction: str):
        a = by_slot[slot]
        role = catalogue.role(a.role)

        def run(task: str, context: str, rnd: int) -> dict:
            system = role.system_prompt or f"You are the team's {role.name}. {role.description}".strip()
            body = f"Task:\n{task}" + (f"\n\nWork so far:\n{context}" if context else "") + f"\n\n{instruction}"
            answer, call = call_model(models[a.model], [SystemMessage(system), HumanMessage(body)], name=a.model,
                                      cost_model=prices)
            return {"outputs": [{"slot": slot, "role": a.role, "model": a.model, "round": rnd, "text": answer.text,
                                 "cost": call.cost, "latency_ms": call.latency_ms}], "cost": call.cost}

        return run

    g: Any = StateGraph(TeamState)
    slots = [a.slot for a in plan.assignments]
    if plan.kind in ("single", "chain"):
        prev = START
        for s in slots:
            step = agent(s, "Do your part and give your result.")
            g.add_node(s, lambda st, step=step: step(st["task"], _context(st.get("outputs", [])), 0))
            g.add_edge(prev, s)
            prev = s
        g.add_node("finish", lambda st: {"answer": st["outputs"][-1]["text"]})
        g.add_edge(prev, "finish")
        g.add_edge("finish", END)
    elif plan.kind == "reflection":
        solver, critic = slots[0], slots[1]
        solve = agent(solver, "Solve the task. If there is a critique, revise your answer accordingly.")
        crit = agent(critic, "Critique the latest answer: point out errors, or confirm it is right.")
        order = [(f"{solver}_0", solve, 0)]
        for r in range(1, plan.rounds + 1):
            order += [(f"{critic}_{r}", crit, r), (f"{solver}_{r}", solve, r)]
        prev = START
        for name, step, r in order:
            g.add_node(name, lambda st, step=step, r=r: step(st["task"], _context(st.get("outputs", [])), r))
            g.add_edge(prev, name)
            prev = name
        g.add_node("finish", lambda st: {"answer": st["outputs"][-1]["text"]})
        g.add_edge(prev, "finish")
        g.add_edge("finish", END)
    elif plan.kind in ("debate", "vote"):
        judge = slots[-1] if plan.kind == "debate" else None
        agents = [s for s in slots if s != judge]
        steps = {s: agent(s, "Answer the task; if other agents answered before, weigh their arguments.") for s in agents}
        last = plan.rounds if plan.kind == "debate" else 1

        def fan_out(st: TeamState) -> list:
            r = st.get("round", 0) + 1
            ctx = _context(st.get("outputs", []), set(agents), {r - 1})
            return [Send("agent", {"task": st["task"], "slot": s, "round": r, "context": ctx}) for s in agents]

        g.add_node("agent", lambda p: steps[p["slot"]](p["task"], p["context"], p["round"]))
        g.add_node("gather", lambda st: {"round": st.get("round", 0) + 1})
        g.add_conditional_edges(START, fan_out, ["agent"])
        g.add_edge("agent", "gather")
        if judge:
            decide = agent(judge, "Read the debate and give the single best final answer.")
            g.add_node("judge", lambda st: decide(st["task"], _context(st.get("outputs", []), set(agents), {last}), last + 1))
            g.add_node("finish", lambda st: {"answer": st["outputs"][-1]["text"]})
            g.add_conditional_edges("gather", lambda st: fan_out(st) if st["round"] < last else "judge", ["agent", "judge"])
            g.add_edge("judge", "finish")
        else:
            def tally(st: TeamState) -> dict:
                votes = [o for o in st["outputs"] if o["round"] == last]
                top, _ = Counter(_final(o["text"]) for o in votes).most_common(1)[0]
                return {"answer": next(o["text"] for o in votes if _final(o["text"]) == top)}

            g.add_node("finish", tally)
            g.add_edge("gather", "finish")
        g.add_edge("finish", END)
    else:
        raise ConfigError(f"plan mode kind {plan.kind!r} cannot be compiled", field="mode")
    return g.compile(checkpointer=checkpointer)
