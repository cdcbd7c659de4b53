"""Prometheus metrics of a server (``GET /metrics``), in a registry of its own so that several apps
in one process do not share counters. Labels are bounded: configured names only (a virtual model's
threshold is dropped, unknown names count as ``unknown``); no key, prompt or URL is ever a label.

Examples:
    >>> from graphroute.serve.metrics import ServeMetrics
    >>> m = ServeMetrics(breakers=lambda: {"gpt4": "open"})
    >>> m.request("auto", "router", 200, 0.012)
    >>> m.decision("gpt4", 0.0021)
    >>> text = m.render().decode()
    >>> 'graphroute_requests_total{code="200",kind="router",virtual_model="auto"} 1.0' in text
    True
    >>> 'graphroute_breaker_state{model="gpt4",state="open"} 1.0' in text
    True
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from graphroute.types import CallAttempt

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_STATES = ("closed", "half_open", "open")


class _Breakers:
    """Breaker states read at scrape time (one gauge per model and state: 1 for the current one)."""

    def __init__(self, states: Callable[[], dict[str, str]]) -> None:
        self.states = states

    def collect(self):
        g = GaugeMetricFamily("graphroute_breaker_state", "Circuit breaker state per model (1 = current state)",
                              labels=["model", "state"])
        for model, state in self.states().items():
            for s in _STATES:
                g.add_metric([model, s], 1.0 if s == state else 0.0)
        yield g


class _Budgets:
    """Budget limits and what is left of them, per scope (``global`` or a key's name), read at scrape time."""

    def __init__(self, budgets: Callable[[], dict[str, tuple[float, float]]]) -> None:
        self.budgets = budgets

    def collect(self):
        limit = GaugeMetricFamily("graphroute_budget_limit_dollars", "Budget limit per scope (global or key)",
                                  labels=["scope"])
        left = GaugeMetricFamily("graphroute_budget_remaining_dollars", "Dollars left of the budget per scope",
                                 labels=["scope"])
        for scope, (lim, spent) in self.budgets().items():
            limit.add_metric([scope], lim)
            left.add_metric([scope], max(0.0, lim - spent))
        yield limit
        yield left


class ServeMetrics:
    """Requests, decisions per model, cost, latencies, fallbacks, breaker states and budgets left."""

    def __init__(self, breakers: Callable[[], dict[str, str]],
                 budgets: Callable[[], dict[str, tuple[float, float]]] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("graphroute_requests", "Requests by virtual model, kind and HTTP status",
                                ["virtual_model", "kind", "code"], registry=r)
        self.latency = Histogram("graphroute_request_seconds", "Request latency (to the last byte) by virtual model",
                                 ["virtual_model", "kind"], buckets=_SECONDS, registry=r)
        self.decisions = Counter("graphroute_decisions", "Requests answered per model", ["model"], registry=r)
        self.cost = Counter("graphroute_cost_dollars", "Dollars spent per model", ["model"], registry=r)
        self.upstream = Histogram("graphroute_upstream_seconds", "Upstream call latency per model", ["model"],
                                  buckets=_SECONDS, registry=r)
        self.ttft = Histogram("graphroute_time_to_first_token_seconds", "Streams: time to the first token per model",
                              ["model"], buckets=_SECONDS, registry=r)
        self.fallbacks = Counter("graphroute_fallbacks", "Answers from a fallback instead of the chosen model",
                                 ["chosen", "answered"], registry=r)
        self.errors = Counter("graphroute_upstream_errors", "Failed upstream calls per model and kind", ["model", "kind"],
                              registry=r)
        r.register(_Breakers(breakers))
        if budgets is not None:
            r.register(_Budgets(budgets))

    def request(self, virtual_model: str, kind: str, code: int, seconds: float) -> None:
        self.requests.labels(virtual_model, kind, str(code)).inc()
        self.latency.labels(virtual_model, kind).observe(seconds)

    def first_token(self, model: str, seconds: float) -> None:
        """A stream's time to its first token."""
        self.ttft.labels(model).observe(seconds)

    def decision(self, model: str, cost: float) -> None:
        self.decisions.labels(model).inc()
        if cost:
            self.cost.labels(model).inc(cost)

    def attempts(self, attempts: list[CallAttempt], chosen: str | None, answered: str | None) -> None:
        for a in attempts:
            if a.error:
                self.errors.labels(a.model, a.error).inc()
            elif a.latency_ms:
                self.upstream.labels(a.model).observe(a.latency_ms / 1000)
        if chosen is not None and answered is not None and chosen != answered:
            self.fallbacks.labels(chosen, answered).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
