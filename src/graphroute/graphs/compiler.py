"""YAML graph -> compiled LangGraph ``StateGraph``, with one budget across every step.

The run's remaining budget (dollars) lives in ``state["budget_remaining"]``. Before any model call
a step checks the worst case (input tokens x input price + ``max_output_tokens`` x output price)
against it: routed steps pass it to their router (which avoids models it cannot afford) and fall
back to the best affordable model; when nothing fits, the run stops with
``state["outcome"] == "budget_exhausted"`` and ``stopped_at`` naming the step. Every step appends
``{node, type, model, cost, latency_ms, reason}`` to ``state["trace"]``.

Examples:
    >>> import pathlib, tempfile
    >>> from graphroute.graphs import compile_file, run_graph
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.yaml"
    >>> _ = p.write_text('''
    ... models:
    ...   small: {model: "openai:gpt-4o-mini", input_price: 0.15, output_price: 0.6, offline_response: "4"}
    ... state: {question: str, answer: str}
    ... nodes: {answer: {type: llm, model: small, prompt: "{question}", output: answer}}
    ... edges: [{from: START, to: answer}, {from: answer, to: END}]
    ... ''')
    >>> app = compile_file(p, offline=True)
    >>> out = run_graph(app, "2 + 2?")
    >>> out["answer"], out["outcome"], [t["model"] for t in out["trace"]]
    ('4', 'completed', ['small'])
"""

from __future__ import annotations

import importlib
import operator
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from graphroute.calls import call_model
from graphroute.costs import count_tokens
from graphroute.errors import GraphRouteError, GraphRunError
from graphroute.graphs.build import Runtime, build_runtime
from graphroute.graphs.schema import (AllocatorNodeSpec, CascadeNodeSpec, GraphSpec, LLMNode, PythonNode, RetrievalNode,
                                      RouterStep)
from graphroute.graphs.validate import load_graph
from graphroute.storage import postgres_checkpointer
from graphroute.tracing import span

_TYPES = {"str": str, "int": int, "float": float, "list": list, "dict": dict}


def state_type(spec: GraphSpec) -> type:
    fields: dict[str, Any] = {k: _TYPES[v] for k, v in spec.state.items()}
    for n in spec.nodes.values():
        if hasattr(n, "output") and n.output not in fields:
            fields[n.output] = Any
    fields.update({"budget_remaining": float, "outcome": str, "stopped_at": str,
                   "trace": Annotated[list, operator.add]})
    return TypedDict(f"{spec.name.title().replace('_', '')}State", fields, total=False)  # type: ignore[operator]


class _Steps:
    """Node bodies sharing the runtime (models, routers, costs)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def worst(self, model_id: str, prompt: str, tokens: int | None = None) -> float:
        m = self.rt.spec.models[model_id]
        tokens = int(count_tokens([prompt])[0]) if tokens is None else tokens
        return (tokens * m.input_price + m.max_output_tokens * m.output_price) / 1e6

    def stop(self, node: str, why: str) -> dict:
        return {"outcome": "budget_exhausted", "stopped_at": node,
                "trace": [{"node": node, "type": "stop", "model": None, "cost": 0.0, "latency_ms": 0.0, "reason": why}]}

    def spend(self, state: dict, cost: float) -> dict:
        b = state.get("budget_remaining")
        return {} if b is None else {"budget_remaining": float(b) - cost}

    def pick(self, node: str, spec: LLMNode, prompt: str, remaining: float | None,
             route_text: str | None = None, tokens: int | None = None) -> tuple[str | None, str]:
        if spec.model is not None:
            ok = remaining is None or self.worst(spec.model, prompt, tokens) <= remaining
            return (spec.model if ok else None), "fixed model"
        assert spec.router is not None  # validated: a router step names a model or a router
        router, mapping = self.rt.routers[spec.router], self.rt.maps.get(spec.router, {})
        d = router.decide([route_text or prompt], max_cost=remaining)[0]
        ranked = [d.model] + sorted((m for m in d.scores if m != d.model), key=lambda m: -d.scores[m])
        for name in ranked:
            mid = mapping.get(name, name)
            if mid in self.rt.models and (remaining is None or self.worst(mid, prompt, tokens) <= remaining):
                return mid, d.reason if name == d.model else f"{d.reason}; {d.model} over budget, next best affordable"
        return None, d.reason

    def llm(self, node: str, spec: LLMNode):
        def run(state: dict) -> dict:
            prompt = spec.prompt.format(**{k: state.get(k, "") for k in state})
            remaining = state.get("budget_remaining")
            route_text = str(state.get(spec.route_on, "")) if spec.route_on else None
            text = f"{spec.system}\n{prompt}" if spec.system else prompt
            tokens = int(count_tokens([text])[0])
            model_id, reason = self.pick(node, spec, text, remaining, route_text, tokens)
            if model_id is None:
                return self.stop(node, f"no model affordable within ${remaining:.6f}")
            msgs = ([SystemMessage(spec.system)] if spec.system else []) + [HumanMessage(prompt)]
            answer, call = call_model(self.rt.models[model_id], msgs, name=model_id, cost_model=self.rt.costs,
                                      input_tokens=tokens)
            return {spec.output: answer.text, **self.spend(state, call.cost),
                    "trace": [{"node": node, "type": "llm", "model": model_id, "cost": call.cost,
                               "latency_ms": call.latency_ms, "reason": reason}]}

        return run

    def cascade(self, node: str, spec: CascadeNodeSpec):
        cascade = self.rt.routers[spec.router]

        def run(state: dict) -> dict:
            q = str(state.get(spec.input, ""))
            remaining = state.get("budget_remaining")
            if remaining is not None and self.worst(cascade.stages[0].name, q) > remaining:
                return self.stop(node, "first stage not affordable")
            r = cascade.invoke(q, max_cost=remaining)
            return {spec.output: r.answer.text, **self.spend(state, r.cost),
                    "trace": [{"node": node, "type": "cascade", "model": r.model, "cost": r.cost, "latency_ms": r.latency_ms,
                               "reason": f"stage {r.stage} accepted", "attempts": [a.to_dict() for a in r.attempts]}]}

        return run

    def router(self, node: str, spec: RouterStep):
        assert spec.router is not None  # validated: a router step names a model or a router
        router, mapping = self.rt.routers[spec.router], self.rt.maps.get(spec.router, {})

        def run(state: dict) -> dict:
            t0 = time.perf_counter()
            d = router.decide([str(state.get(spec.input, ""))], max_cost=state.get("budget_remaining"))[0]
            mid = mapping.get(d.model, d.model)
            return {spec.output: mid, "trace": [{"node": node, "type": "router", "model": mid, "cost": 0.0,
                                                 "latency_ms": (time.perf_counter() - t0) * 1000, "reason": d.reason}]}

        return run

    def allocator(self, node: str, spec: AllocatorNodeSpec):
        alloc, mapping = self.rt.routers[spec.router], self.rt.maps.get(spec.router, {})
        chat = {m.id: self.rt.models[mapping.get(m.id, m.id)] for m in alloc.catalogue.models
                if mapping.get(m.id, m.id) in self.rt.models}

        def run(state: dict) -> dict:
            remaining = state.get("budget_remaining")
            try:
                out = alloc.run(str(state.get(spec.input, "")), chat, **({"budget": remaining} if remaining is not None else {}))
            except GraphRouteError as exc:
                return self.stop(node, str(exc))
            cost = float(out.get("cost", 0.0))
            return {spec.output: out["answer"], **self.spend(state, cost),
                    "trace": [{"node": node, "type": "allocator", "model": ",".join(a["model"] for a in out["plan"]["assignments"]),
                               "cost": cost, "latency_ms": sum(o["latency_ms"] for o in out["outputs"]),
                               "reason": f"mode {out['plan']['mode']}", "plan": out["plan"]}]}

        return run

    def retrieval(self, node: str, spec: RetrievalNode):
        corpus = self.rt.corpora[spec.corpus]

        def run(state: dict) -> dict:
            t0 = time.perf_counter()
            docs = corpus.search(str(state.get(spec.input, "")), spec.k)
            return {spec.output: "\n\n".join(docs), "trace": [{"node": node, "type": "retrieval", "model": None, "cost": 0.0,
                                                               "latency_ms": (time.perf_counter() - t0) * 1000,
                                                               "reason": f"{len(docs)} passages"}]}

        return run

    def python(self, node: str, spec: PythonNode):
        module, _, attr = spec.call.partition(":")
        fn = getattr(importlib.import_module(module), attr)

        def run(state: dict) -> dict:
            out = dict(fn(state) or {})
            out.setdefault("trace", [{"node": node, "type": "python", "model": None, "cost": 0.0, "latency_ms": 0.0,
                                      "reason": spec.call}])
            return out

        return run


def traced_step(graph: str, node: str, run: Any) -> Any:
    """``run`` in a span per step (``graphroute.step <node>``) with what its trace entry says."""
    def step(state: dict) -> Any:
        with span(f"graphroute.step {node}", {"graphroute.graph": graph, "graphroute.node": node}) as sp:
            out = run(state)
            entries = out.get("trace") if isinstance(out, dict) else None
            if entries:
                t = entries[-1]
                sp.set_attributes({k: v for k, v in {"graphroute.step_type": t.get("type"), "graphroute.model": t.get("model"),
                                                     "graphroute.cost_usd": t.get("cost"),
                                                     "graphroute.reason": str(t.get("reason") or "")[:500]}.items()
                                   if v is not None})
            return out

    return step


def compile_graph(spec: GraphSpec, rt: Runtime, *, checkpointer: Any = None):
    """A compiled LangGraph app for ``spec`` over the runtime objects ``rt``."""
    steps = _Steps(rt)
    g: Any = StateGraph(state_type(spec))
    makers: dict[type, Any] = {LLMNode: steps.llm, CascadeNodeSpec: steps.cascade, RouterStep: steps.router,
              AllocatorNodeSpec: steps.allocator, RetrievalNode: steps.retrieval, PythonNode: steps.python}
    for name, node in spec.nodes.items():
        g.add_node(name, traced_step(spec.name, name, makers[type(node)](name, node)))
    special = {"START": START, "END": END}
    for e in spec.edges:
        src = special.get(e.source, e.source)
        if e.to is not None:
            dst = special.get(e.to, e.to)
            if src == START:
                g.add_edge(START, dst)
            else:
                g.add_conditional_edges(src, lambda s, dst=dst: END if s.get("outcome") == "budget_exhausted" else dst,
                                        [dst, END] if dst != END else [END])
        else:
            table = {k: special.get(v, v) for k, v in (e.map or {}).items()}

            def branch(s, table=table, key=e.condition, src=e.source):
                if s.get("outcome") == "budget_exhausted":
                    return END
                value = str(s.get(key))
                if value in table:
                    return table[value]
                if "default" in table:
                    return table["default"]
                raise GraphRunError(f"edge from {src!r}: {key}={value!r} is not in its map {sorted(table)}")

            g.add_conditional_edges(src, branch, sorted(set(table.values()) | {END}, key=str))
    return g.compile(checkpointer=_checkpointer(checkpointer))


def _checkpointer(spec: Any):
    """``None``, ``"memory"``, ``"sqlite:PATH"``, ``"postgresql://..."`` or a LangGraph checkpointer object."""
    if spec is None or not isinstance(spec, str):
        return spec
    if spec == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        return InMemorySaver()
    if spec.startswith("sqlite:"):
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        return SqliteSaver(sqlite3.connect(spec[len("sqlite:"):], check_same_thread=False))
    if spec.startswith(("postgres://", "postgresql://")):
        return postgres_checkpointer(spec)
    raise ValueError(f"checkpointer must be 'memory', 'sqlite:PATH' or 'postgresql://...', got {spec!r}")


def compile_file(path: str | Path, *, offline: bool = False, data: Any = None, checkpointer: Any = None,
                 chat_models: Any = None) -> Any:
    """Validate, build and compile a graph file.

    Args:
        path: the YAML graph file.
        offline: replay recorded answers (or fixed ones) instead of calling the models.
        data: the recorded dataset offline models replay (default: each model's ``replay`` source).
        checkpointer: a LangGraph checkpointer, or ``"memory"``.
        chat_models: ``chat_models(spec)`` makes the graph's chat models (graph model id -> model) instead.

    Returns:
        The compiled LangGraph app; it carries ``.graphroute_spec`` and ``.graphroute_runtime``.

    Raises:
        ConfigError: the file is invalid (naming the file, line and field).
    """
    path = Path(path)
    spec = load_graph(path)
    rt = build_runtime(spec, path.parent, offline=offline, data=data,
                       models=chat_models(spec) if chat_models is not None else None)
    app = compile_graph(spec, rt, checkpointer=checkpointer if checkpointer is not None else spec.checkpointer)
    app.graphroute_spec, app.graphroute_runtime = spec, rt
    return app


def io_keys(spec: GraphSpec) -> tuple[str, str]:
    """The state keys a run's input goes to and its answer comes from."""
    inp = spec.input or next(iter(spec.state), "input")
    if spec.output:
        return inp, spec.output
    enders = [e.source for e in spec.edges if e.to == "END"]
    outs = [getattr(spec.nodes[n], "output", None) for n in enders if n in spec.nodes]
    return inp, next((o for o in outs if o), "answer")


def run_graph(app: Any, text: str, *, budget: float | None = None, config: dict | None = None) -> dict[str, Any]:
    """Run a compiled graph file on one input.

    Args:
        app: a graph compiled by ``compile_file``.
        text: the input, written to the graph's input state key.
        budget: dollars for this run (default: the file's ``budget.per_run``), shared by every step.
        config: LangGraph's run config; a graph compiled with a checkpointer runs in a new thread
            unless it names one (``{"configurable": {"thread_id": ...}}``, to resume it).

    Returns:
        ``answer``, ``outcome`` (``completed`` or a stop), ``stopped_at``, ``cost``, ``trace`` (one entry
        per step) and the final ``state``.
    """
    spec: GraphSpec = app.graphroute_spec
    inp, out = io_keys(spec)
    state: dict[str, Any] = {inp: text}
    limit = budget if budget is not None else spec.budget.per_run
    if limit is not None:
        state["budget_remaining"] = float(limit)
    if getattr(app, "checkpointer", None) is not None and not (config or {}).get("configurable", {}).get("thread_id"):
        # a checkpointed graph needs a thread: one per run unless the caller names one to resume
        config = {**(config or {}), "configurable": {**(config or {}).get("configurable", {}),
                                                     "thread_id": uuid.uuid4().hex}}
    with span(f"graphroute.graph {spec.name}", {"graphroute.graph": spec.name}) as sp:
        final = app.invoke(state, config=config)
        trace = final.get("trace", [])
        sp.set_attributes({"graphroute.cost_usd": float(sum(t.get("cost") or 0.0 for t in trace)),
                           "graphroute.outcome": final.get("outcome", "completed")})
    return {"answer": final.get(out), "outcome": final.get("outcome", "completed"), "stopped_at": final.get("stopped_at"),
            "cost": float(sum(t.get("cost") or 0.0 for t in trace)), "trace": trace, "state": final}
