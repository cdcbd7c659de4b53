"""Everything one server process holds, built from a :class:`~graphroute.serve.settings.ServeFile`:
upstreams, the gateway (breakers, budgets, retries), routers and graphs, keys, metrics, telemetry,
and the requests awaiting feedback.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path
from typing import Any

from graphroute.datasets import RoutingDataset, load_dataset
from graphroute.errors import ConfigError, GraphRouteError
from graphroute.graphs.build import build_runtime, graph_costs
from graphroute.graphs.compiler import compile_file, run_graph
from graphroute.graphs.schema import Budget, GraphSpec, ModelBlock
from graphroute.models import ReplayChatModel, chat_model
from graphroute.runtime.budgets import BudgetManager
from graphroute.runtime.failures import BudgetExceededError
from graphroute.runtime.gateway import Gateway
from graphroute.runtime.telemetry import JsonlSink, log_decision, log_feedback
from graphroute.serve.auth import KeyStore
from graphroute.serve.settings import ServeFile, load_keys
from graphroute.serve.dispatch import Dispatcher
from graphroute.serve.metrics import ServeMetrics
from graphroute.serve.targets import Resolver
from graphroute.serve.upstreams import OpenAIUpstream, RecordedUpstream

#: how many answered requests are remembered for ``/v1/feedback``
FEEDBACK_WINDOW = 100_000


def _replay_data(names: list[str], base: Path) -> RoutingDataset | None:
    if not names:
        return None
    try:
        parts = [load_dataset(n if "/" not in n and not n.endswith((".csv", ".jsonl")) else str(base / n)) for n in names]
        return parts[0] if len(parts) == 1 else RoutingDataset.concat(parts)
    except GraphRouteError as exc:
        raise ConfigError(str(exc), field="serve.replay") from None


def chat_models(blocks: dict[str, ModelBlock], data: RoutingDataset | None) -> dict[str, Any]:
    """LangChain chat models for cascades and graphs: live at ``base_url``, else a replay of
    ``replay`` when the data records it, else LangChain's provider."""
    out: dict[str, Any] = {}
    for mid, m in blocks.items():
        if m.base_url is None and m.replay is not None and data is not None and m.replay in data.models:
            out[mid] = ReplayChatModel(data=data, model_name=m.replay,
                                       default=m.offline_response or f"(no recorded answer of {m.replay} for this prompt)")
        else:
            out[mid] = chat_model(m.model, base_url=m.base_url, api_key_env=m.api_key_env, max_tokens=m.max_output_tokens,
                                  temperature=m.temperature, field=f"models.{mid}")
    return out


class Service:
    """One server's state. Build it once per process (it fits or loads routers, compiles graphs)."""

    def __init__(self, cfg: ServeFile) -> None:
        self.cfg, s = cfg, cfg.serve
        data = _replay_data(s.replay, cfg.base)
        self.upstreams: dict[str, Any] = {}
        for mid, m in cfg.models.items():
            if m.base_url is not None:
                self.upstreams[mid] = OpenAIUpstream(mid, m.model, m.base_url, api_key_env=m.api_key_env, timeout_s=s.timeout_s,
                                                     max_connections=s.max_connections, field=f"models.{mid}.api_key_env")
            else:
                if data is None or m.replay not in data.models:
                    raise ConfigError(f"replay {m.replay!r} is not recorded in serve.replay {s.replay}",
                                      field=f"models.{mid}.replay", path=cfg.base)
                self.upstreams[mid] = RecordedUpstream(mid, data, str(m.replay), latency_ms=s.replay_latency_ms)
        spec = GraphSpec.model_construct(name=cfg.name, description="", models=cfg.models, routers=cfg.routers, state={},
                                         nodes={}, edges=[], budget=Budget(), input=None, output=None)
        rt = build_runtime(spec, cfg.base, models=chat_models(cfg.models, data) if cfg.routers else {})
        self.graphs = {name: compile_file(cfg.base / path, chat_models=lambda g: chat_models(g.models, data))
                       for name, path in cfg.graphs.items()}
        self.keys = KeyStore(load_keys(cfg))
        self.budgets = BudgetManager(global_limit=s.budget, session_limits=self.keys.budgets)
        self.costs = graph_costs(spec)
        self.gateway = Gateway(self.upstreams, None, fallbacks=s.fallbacks, cost_model=self.costs, retries=s.retries,
                               backoff_s=0.05, backoff_max_s=1.0, timeout_s=s.timeout_s, breaker=s.breaker.model_dump(),
                               budgets=self.budgets)
        self.dispatcher = Dispatcher(self.gateway, self.upstreams, {k: m.context_window for k, m in cfg.models.items()},
                                     {k: m.max_output_tokens for k, m in cfg.models.items()}, s.timeout_s)
        self.resolver = Resolver(list(cfg.models), rt.routers, rt.maps, self.graphs, s.aliases)
        self.metrics = ServeMetrics(lambda: {m: b.state for m, b in self.gateway.breakers.items()})
        self.sink = JsonlSink(cfg.base / s.telemetry) if s.telemetry else None
        self._answered: OrderedDict[str, Any] = OrderedDict()

    # ------------------------------------------------------------------ feedback
    def remember(self, request_id: str, prompt: str, decision: Any, target: Any, cost: float, latency_ms: float) -> None:
        """Keep what feedback on this request needs (the router, for bandits) and log the decision."""
        router = getattr(target, "router", None)
        if hasattr(router, "record"):
            router.record(request_id, cost=cost, latency_ms=latency_ms)
        self._answered[request_id] = router
        while len(self._answered) > FEEDBACK_WINDOW:
            self._answered.popitem(last=False)
        if self.sink is not None:
            log_decision(self.sink, request_id, prompt, decision, cost=cost, latency_ms=latency_ms)

    def feedback(self, request_id: str, score: float) -> dict[str, Any]:
        """Record a request's outcome; raises KeyError for a request this server did not answer."""
        if request_id not in self._answered:
            raise KeyError(request_id)
        router = self._answered.pop(request_id)
        reward = None
        if hasattr(router, "feedback"):
            reward = router.feedback(request_id, score)  # the Thompson router learns from it
        if self.sink is not None:
            log_feedback(self.sink, request_id, score)
        return {"request_id": request_id, "recorded": True, "learned": reward is not None}

    # ------------------------------------------------------------------ self-contained targets
    async def run_cascade(self, cascade: Any, prompt: str, session: str | None) -> tuple[str, str, float, list[dict]]:
        """A cascade's answer: ``(text, model, cost, attempts)``; the worst case of every stage is reserved."""
        worst = sum(cascade.worst_cost(i, prompt) for i in range(len(cascade.stages)))
        res = self.budgets.reserve(worst, session)
        try:
            r = await cascade.ainvoke(prompt)
        except BaseException:
            self.budgets.release(res)
            raise
        self.budgets.commit(res, r.cost)
        return r.answer.text, r.model, r.cost, [{"model": a.model, "error": a.error, "latency_ms": a.latency_ms}
                                                 for a in r.attempts]

    async def run_graph(self, app: Any, prompt: str, session: str | None) -> tuple[str, str, float, list[dict]]:
        """A graph's answer under its per-run budget (reserved from the key's and the global budget)."""
        limit = app.graphroute_spec.budget.per_run
        if limit is None and (self.budgets.global_limit is not None or self.budgets.limit_of(session) is not None):
            raise BudgetExceededError(f"graph {app.graphroute_spec.name!r} has no budget.per_run: under a budget, "
                                      f"a graph is served only with one (its most a run may spend)")
        res = self.budgets.reserve(float(limit or 0.0), session)
        try:
            out = await asyncio.to_thread(run_graph, app, prompt)
        except BaseException:
            self.budgets.release(res)
            raise
        self.budgets.commit(res, out["cost"])
        models = [t["model"] for t in out["trace"] if t.get("model")]
        if out["outcome"] != "completed":
            raise BudgetExceededError(f"graph {app.graphroute_spec.name!r} stopped at {out['stopped_at']!r}: its "
                                      f"per-run budget ${limit:g} is exhausted")
        return str(out["answer"] or ""), ",".join(models) or "graph", out["cost"], \
            [{"model": t["model"], "error": None, "latency_ms": t.get("latency_ms")} for t in out["trace"] if t.get("model")]

    async def aclose(self) -> None:
        for up in self.upstreams.values():
            await up.aclose()

