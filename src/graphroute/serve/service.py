"""Everything one server process holds, built from a ``ServeFile``:
upstreams, the gateway (breakers, budgets, retries), routers and graphs, keys, metrics, telemetry,
and the requests awaiting feedback. With ``serve.state: redis://...`` the breakers, budgets, rate
limits, bandit statistics and feedback records are shared by every worker; with
``serve.telemetry: postgresql://...`` decisions and feedback go to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from graphroute.encoders.query import use_query_encoder
from graphroute.errors import ConfigError, EncoderError, FeedbackError
from graphroute.extras import require
from graphroute.graphs.build import graph_costs
from graphroute.graphs.compiler import compile_file, run_graph
from graphroute.runtime.failures import BudgetExceededError, NoModelAvailableError
from graphroute.runtime.gateway import Gateway
from graphroute.runtime.ledger import Ledger
from graphroute.runtime.telemetry import JsonlSink, log_decision, log_feedback
from graphroute.routers.base import Router
from graphroute.routers.batched_decisions import set_batching
from graphroute.serve.abtest import Experiments
from graphroute.serve.auth import KeyStore
from graphroute.serve.compose import chat_models, config_runtime, replay_data
from graphroute.serve.settings import ServeFile, load_keys
from graphroute.serve.dispatch import Dispatcher
from graphroute.serve.metrics import ServeMetrics
from graphroute.serve.targets import Resolver
from graphroute.serve.upstreams import OpenAIUpstream, RecordedUpstream
from graphroute.state import StateUnavailableError, open_state
from graphroute.strategies.privacy import PrivacyRouter
from graphroute.tracing import configure
from graphroute.storage import PostgresSink
from graphroute.types import CallAttempt

log = logging.getLogger("graphroute.serve")

#: how often a worker takes in the shared bandit statistics and breaker states
SYNC_S = 1.0


class Service:
    """One server's state. Build it once per process (it fits or loads routers, compiles graphs)."""

    def __init__(self, cfg: ServeFile) -> None:
        self.cfg, s = cfg, cfg.serve
        self._tracer: Any = None
        if s.otel is not None:  # fail at start, not at the first request, without the otel extra
            require("opentelemetry.sdk.trace", "serve.otel (tracing)")
        data = replay_data(s.replay, cfg.base)
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
        #: the upstreams' keys: scrubbed from every error message the server sends
        self.secrets = [k for up in self.upstreams.values() for k in getattr(up, "secrets", ())]
        spec, rt = config_runtime(cfg, data)
        self.graphs = {name: compile_file(cfg.base / path, chat_models=lambda g: chat_models(g.models, data))
                       for name, path in cfg.graphs.items()}
        self.state = open_state(s.state, prefix=s.state_prefix, policy=s.state_policy) if s.state else open_state(None)
        self.keys = KeyStore(load_keys(cfg), self.state)
        tel = s.telemetry
        self.sink = (PostgresSink(tel) if tel.startswith(("postgresql://", "postgres://")) else JsonlSink(cfg.base / tel)) \
            if tel else None
        for name, router in rt.routers.items():
            if isinstance(router, Router):
                set_batching(router, max_batch=s.batch.max_batch, max_wait_ms=s.batch.max_wait_ms)
                try:
                    variant = use_query_encoder(router, s.query_encoder)
                except EncoderError as exc:
                    raise ConfigError(str(exc), path=cfg.base, field="serve.query_encoder") from None
                if variant is not None:
                    log.info("router %s embeds requests with %s", name, variant)
        self.resolver = Resolver(list(cfg.models), rt.routers, rt.maps, self.graphs, s.aliases)
        privacy = next((r for r in rt.routers.values() if isinstance(r, PrivacyRouter)), None)
        self.experiments = Experiments(s.experiments, self.resolver.resolve, self.shadow_call, self.sink,
                                       detector=privacy.detector if privacy is not None else None)
        # a reservation outlives the longest call with its retries, then frees a crashed worker's money
        self.budgets = self.state.budgets(global_limit=s.budget,
                                          session_limits={**self.keys.budgets, **self.experiments.session_limits()},
                                          ttl_s=s.timeout_s * (s.retries + 1) + 5.0)
        self.costs = graph_costs(spec)
        self.gateway = Gateway(self.upstreams, None, fallbacks=s.fallbacks, cost_model=self.costs, retries=s.retries,
                               backoff_s=0.05, backoff_max_s=1.0, timeout_s=s.timeout_s, breaker=s.breaker.model_dump(),
                               budgets=self.budgets, state=self.state)
        self.dispatcher = Dispatcher(self.gateway, self.upstreams, {k: m.context_window for k, m in cfg.models.items()},
                                     {k: m.max_output_tokens for k, m in cfg.models.items()}, s.timeout_s,
                                     token_margin=s.token_margin)
        self.bandits = {n: r for n, r in rt.routers.items() if hasattr(r, "learn")}
        for name, r in self.bandits.items():
            if s.state and not s.state.startswith("memory://") and r.cluster_of is None and r.clusters == "online":
                raise ConfigError(f"router {name!r}: online clusters differ from worker to worker; with a shared state "
                                  f"give it clusters: lsh (the same in every worker)", field=f"routers.{name}.params",
                                  path=cfg.base)
        self.budget_view: dict[str, tuple[float, float]] = {}  # scope -> (limit, spent), refreshed by sync_budgets
        self.metrics = ServeMetrics(lambda: {m: b.state for m, b in self.gateway.breakers.items()}, self._budget_view)
        self._sync_task: asyncio.Task | None = None

    # ------------------------------------------------------------------ shared state
    async def sync(self) -> None:
        """Take in the shared bandit statistics and breaker states (every ``SYNC_S`` in the background)."""
        for name, r in self.bandits.items():
            r.absorb(await self.state.bandit_stats(f"router:{name}", r.half_life_s))
        for b in self.gateway.breakers.values():
            if hasattr(b, "refresh"):
                await b.refresh()
        await self.sync_budgets()

    def budget_limits(self) -> dict[str, tuple[float, str | None]]:
        """Scope (``global`` or a key's name) -> (limit in dollars, budget session)."""
        out: dict[str, tuple[float, str | None]] = {}
        if self.budgets.global_limit is not None:
            out["global"] = (float(self.budgets.global_limit), None)
        for k in self.keys.all():
            if k.budget is not None:
                out[k.name] = (float(k.budget), k.session)
        return out

    async def sync_budgets(self) -> dict[str, tuple[float, float]]:
        """(limit, spent) per budget scope, read from the state backend (shared by every worker)."""
        self.budget_view = {scope: (lim, await self.budgets.aspent(session))
                            for scope, (lim, session) in self.budget_limits().items()}
        return self.budget_view

    def _budget_view(self) -> dict[str, tuple[float, float]]:
        spent = getattr(self.budgets, "spent", None)  # this process's budgets: read now; shared ones: the last sync
        if spent is not None:
            return {scope: (lim, spent(session)) for scope, (lim, session) in self.budget_limits().items()}
        return self.budget_view

    async def start(self) -> None:
        o = self.cfg.serve.otel
        if o is not None:  # the process's tracer provider: spans of every request go to the OTLP endpoint
            headers = dict(kv.split("=", 1) for kv in os.environ.get(o.headers_env, "").split(",") if "=" in kv) \
                if o.headers_env else None
            self._tracer = configure(endpoint=o.endpoint, service_name=o.service_name, headers=headers,
                                     record_prompts=o.record_prompts)
        async def loop() -> None:
            while True:
                with contextlib.suppress(Exception):  # an outage is logged by the state backend
                    await self.sync()
                await asyncio.sleep(SYNC_S)

        if self.state.url != "memory://":
            self._sync_task = asyncio.create_task(loop())

    # ------------------------------------------------------------------ feedback
    async def remember(self, request_id: str, prompt: str, decision: Any, target: Any, cost: float,
                       latency_ms: float, *, fallback: bool = False, served: str | None = None, key: str | None = None,
                       experiment: str | None = None) -> None:
        """Keep what feedback on this request needs (who asked: ``key``; for a bandit: its run) in the
        state backend, so that any worker can take the feedback, and log the decision. When a
        fallback answered, the outcome is not the chosen model's: a bandit does not learn from it."""
        router = getattr(target, "router", None)
        name = next((n for n, r in self.bandits.items() if r is router), None)
        run = None
        if name is not None and router is not None:
            router.record(request_id, cost=cost, latency_ms=latency_ms)
            run = None if fallback else router.pending(request_id)
        try:
            await self.state.remember(request_id, {"router": name, "run": run, "key": key, "experiment": experiment},
                                      self.cfg.serve.feedback_ttl_s)
        except StateUnavailableError:
            log.warning("request %s: its feedback record could not be kept (state unreachable)", request_id)
        if self.sink is not None:
            log_decision(self.sink, request_id, prompt, decision, cost=cost, latency_ms=latency_ms, fallback=fallback,
                         served=served, virtual_model=getattr(target, "label", None) or getattr(target, "name", None),
                         key=key)

    async def feedback(self, request_id: str, score: float, metric: str = "feedback", key: Any = None) -> dict[str, Any]:
        """Record a request's outcome, sent by the key that made the request (or an admin key; any
        client when the server has no keys). The score must lie in the metric's declared range
        (``serve.feedback_metrics``), and a request takes one score per metric: both are checked
        before anything learns or is logged. A score of another ``metric`` (``judge``) and a shadow
        answer's score (``<request id>#<shadow>``) are recorded only: no bandit learns from them.
        Raises ``FeedbackError``."""
        ranges = self.cfg.serve.feedback_metrics
        if metric not in ranges:
            raise FeedbackError(f"Unknown metric {metric!r}; this server takes {', '.join(sorted(ranges))}.",
                                "unknown_metric", "metric")
        lo, hi = ranges[metric]
        if not lo <= score <= hi:
            raise FeedbackError(f"A {metric} score lies in [{lo:g}, {hi:g}]; got {score:g}.", "invalid_score", "score")
        base, _, shadow = request_id.partition("#")
        kept = await self.state.peek(base)
        mine = kept is not None and (key is None or key.admin or kept.get("key") == key.name)
        block = self.experiments.blocks.get(str((kept or {}).get("experiment"))) if shadow else None
        if not mine or (shadow and (block is None or shadow not in block.shadow)):
            raise FeedbackError(f"No answered request {request_id!r} of this key awaits feedback (unknown, another "
                                f"key's, or older than serve.feedback_ttl_s).", "request_not_found", "request_id")
        if not await self.state.claim(f"{request_id}:{metric}", self.cfg.serve.feedback_ttl_s):
            raise FeedbackError(f"Request {request_id!r} already has a {metric} score; a request takes one per metric.",
                                "feedback_already_recorded", "request_id")
        reward = None
        router = self.bandits.get((kept or {}).get("router") or "")
        if metric == "feedback" and not shadow and router is not None and kept and kept.get("run") is not None:
            reward = router.learn(kept["run"], score)  # the Thompson router learns from it, on any worker
            await self.state.bandit_add(f"router:{kept['router']}", router.cell(kept["run"]), reward, router.half_life_s)
        if self.sink is not None:
            log_feedback(self.sink, request_id, score, metric)
        return {"request_id": request_id, "recorded": self.sink is not None or reward is not None,
                "learned": reward is not None}

    # ------------------------------------------------------------------ self-contained targets
    async def run_cascade(self, cascade: Any, prompt: str, session: str | None) -> tuple[str, str, float, list[CallAttempt]]:
        """A cascade's answer: ``(text, model, cost, attempts)``; the worst case of every stage is reserved."""
        worst = sum(cascade.worst_cost(i, prompt) for i in range(len(cascade.stages)))
        res = await self.budgets.areserve(worst, session)
        try:
            r = await cascade.ainvoke(prompt)
        except BaseException:
            await self.budgets.arelease(res)
            raise
        await self.budgets.acommit(res, r.cost)
        return r.answer.text, r.model, r.cost, [CallAttempt(model=a.model, error=a.error, message=a.error or "",
                                                             cost=a.cost, latency_ms=a.latency_ms) for a in r.attempts]

    async def run_graph(self, app: Any, prompt: str, session: str | None) -> tuple[str, str, float, list[CallAttempt]]:
        """A graph's answer under its per-run budget (reserved from the key's and the global budget)."""
        limit = app.graphroute_spec.budget.per_run
        if limit is None and (self.budgets.global_limit is not None or self.budgets.limit_of(session) is not None):
            raise BudgetExceededError(f"graph {app.graphroute_spec.name!r} has no budget.per_run: under a budget, "
                                      f"a graph is served only with one (its most a run may spend)")
        res = await self.budgets.areserve(float(limit or 0.0), session)
        try:
            out = await asyncio.to_thread(run_graph, app, prompt)
        except BaseException:
            await self.budgets.arelease(res)
            raise
        await self.budgets.acommit(res, out["cost"])
        models = [t["model"] for t in out["trace"] if t.get("model")]
        if out["outcome"] != "completed":
            raise BudgetExceededError(f"graph {app.graphroute_spec.name!r} stopped at {out['stopped_at']!r}: its "
                                      f"per-run budget ${limit:g} is exhausted")
        return str(out["answer"] or ""), ",".join(models) or "graph", out["cost"], \
            [CallAttempt(model=t["model"], cost=float(t.get("cost") or 0.0), latency_ms=float(t.get("latency_ms") or 0.0))
             for t in out["trace"] if t.get("model")]

    async def shadow_call(self, target: Any, chosen: str | None, prompt: str, body: dict[str, Any], tokens: int,
                          session: str) -> dict[str, Any]:
        """A shadow arm's answer (``model``, ``output``, ``cost``), charged to its own budget session;
        no fallbacks (another model's answer would not be the shadow's)."""
        if target.kind == "cascade":
            text, model, cost, _ = await self.run_cascade(target.router, prompt, session)
            return {"model": model, "output": text, "cost": cost}
        if target.kind == "graph":
            text, model, cost, _ = await self.run_graph(target.graph, prompt, session)
            return {"model": model, "output": text, "cost": cost}
        if chosen is None:
            raise NoModelAvailableError("the shadow's router gave no model")
        sent = {k: v for k, v in body.items() if k not in ("stream", "stream_options", "n")}
        ledger = Ledger(session=session)
        payload, model, _ = await self.dispatcher.complete(chosen, sent, tokens, ledger, fallbacks=False)
        msg = ((payload.get("choices") or [{}])[0].get("message") or {})
        return {"model": model, "output": msg.get("content"), "cost": ledger.spent}

    async def aclose(self) -> None:
        await self.experiments.drain()
        if self._tracer is not None:
            self._tracer.shutdown()  # exports the spans still queued
        if self._sync_task is not None:
            self._sync_task.cancel()
        for up in self.upstreams.values():
            await up.aclose()
        if isinstance(self.sink, PostgresSink):
            await asyncio.to_thread(self.sink.close)
        await self.state.aclose()

