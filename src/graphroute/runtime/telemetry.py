"""Telemetry: a LangChain callback handler recording every model call (model, tokens, cost, latency,
error) plus graphroute's decisions, to a JSONL sink; ``summarise`` (``graphroute stats FILE``)
gives cost, latency percentiles, model mix and errors. Every string is redacted of secrets.

Examples:
    >>> import tempfile, pathlib
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.runtime import JsonlSink, TelemetryHandler, summarise
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "calls.jsonl"
    >>> handler = TelemetryHandler(JsonlSink(path))
    >>> _ = FakeListChatModel(responses=["hi"]).invoke("hello", config={"callbacks": [handler]})
    >>> summarise(path)["calls"]
    1
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Iterable
from uuid import UUID

import numpy as np
from langchain_core.callbacks import BaseCallbackHandler

from graphroute.events import CallEvent, DecisionEvent, FeedbackEvent
from graphroute.runtime.failures import redact


class JsonlSink:
    """Appends one JSON object per line (thread-safe); secrets redacted from every string."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = redact(json.dumps(record, default=str))
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class MemorySink:
    """Keeps records in a list (tests, benchmarks)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        clean = json.loads(redact(json.dumps(record, default=str)))
        with self._lock:
            self.records.append(clean)


def _model_of(serialized: dict[str, Any] | None, kwargs: dict[str, Any]) -> str:
    params = kwargs.get("invocation_params") or {}
    meta = kwargs.get("metadata") or {}
    for v in (meta.get("ls_model_name"), params.get("model_name"), params.get("model"), (serialized or {}).get("name")):
        if v:
            return str(v)
    return "unknown"


class TelemetryHandler(BaseCallbackHandler):
    """Records each chat-model call: ``{"event": "call", model, input/output tokens, cost, latency_ms,
    error}``; ``decision(...)`` records routing decisions. ``cost_model`` prices the calls."""

    def __init__(self, sink: Any, cost_model: Any = None) -> None:
        self.sink, self.cost_model = sink, cost_model
        self._start: dict[UUID, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def on_chat_model_start(self, serialized, messages, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            self._start[run_id] = (time.perf_counter(), _model_of(serialized, kwargs))

    def on_llm_start(self, serialized, prompts, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            self._start[run_id] = (time.perf_counter(), _model_of(serialized, kwargs))

    def _finish(self, run_id: UUID) -> tuple[float, str]:
        with self._lock:
            t0, model = self._start.pop(run_id, (time.perf_counter(), "unknown"))
        return (time.perf_counter() - t0) * 1000, model

    def on_llm_end(self, response, *, run_id: UUID, **kwargs: Any) -> None:
        latency, model = self._finish(run_id)
        tin = tout = 0
        for gens in response.generations:
            for g in gens:
                usage = getattr(getattr(g, "message", None), "usage_metadata", None) or {}
                tin += int(usage.get("input_tokens", 0))
                tout += int(usage.get("output_tokens", 0))
        cm = self.cost_model
        cost = cm.cost(model, tin, tout) if cm is not None and cm.has(model) else None
        self.sink.write(CallEvent(run_id=str(run_id), model=model, input_tokens=tin, output_tokens=tout, cost=cost,
                                  latency_ms=latency).record())

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        latency, model = self._finish(run_id)
        self.sink.write(CallEvent(run_id=str(run_id), model=model, cost=0.0, latency_ms=latency,
                                  error=f"{type(error).__name__}: {error}").record())

    def decision(self, event: DecisionEvent) -> None:
        """Record a routing decision."""
        self.sink.write(event.record())


def log_decision(sink: Any, run_id: str, prompt: str, decision: Any, *, cost: float | None = None,
                 latency_ms: float | None = None, fallback: bool = False, served: str | None = None,
                 virtual_model: str | None = None, key: str | None = None) -> None:
    """Record what learning from production needs of a routed request: the prompt, the model called
    and the probability it had (``Decision.probability``), and what it cost. ``fallback``: another
    model answered (the outcome is not the chosen model's: ``from-logs`` leaves it out); ``served``:
    the configured model id that answered (a router's own model names differ; a cascade's later
    stage; a graph's steps, comma-separated) — what ``graphroute stats`` counts; ``virtual_model``
    and ``key``: what the server's client asked for and its key's name (the dashboard's breakdowns).

    Examples:
        >>> from graphroute.runtime.telemetry import MemorySink, log_decision, log_feedback
        >>> from graphroute.types import Decision
        >>> sink = MemorySink()
        >>> log_decision(sink, "r1", "2+2?", Decision(model="small", scores={}, probability=0.95), cost=0.0001)
        >>> log_feedback(sink, "r1", 1.0)
        >>> [(r["event"], r.get("model"), r.get("score")) for r in sink.records]
        [('decision', 'small', None), ('feedback', None, 1.0)]
    """
    sink.write(DecisionEvent(run_id=str(run_id), prompt=prompt, model=decision.model,
                             probability=1.0 if decision.probability is None else decision.probability,
                             reason=decision.reason, cost=cost, latency_ms=latency_ms, fallback=fallback,
                             served=served, virtual_model=virtual_model, key=key).record())


def log_feedback(sink: Any, run_id: str, score: float, metric: str = "feedback") -> None:
    """Record the outcome of request ``run_id`` (a user rating, a grader's verdict, a test result);
    ``metric`` names scores of another kind (``judge``: an experiment's judge)."""
    sink.write(FeedbackEvent(run_id=str(run_id), score=float(score), metric=metric).record())


def summarise(source: str | Path | Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Cost, latency percentiles, model mix and errors of a telemetry JSONL file, or of records
    (e.g. ``graphroute.storage.read_events`` on PostgreSQL)."""
    calls, decisions = [], []
    if isinstance(source, (str, Path)):
        source = (json.loads(line) for line in Path(source).read_text(encoding="utf-8").splitlines() if line.strip())
    for r in source:
        if r.get("event") == "call":
            calls.append(r)
        elif r.get("event") == "decision":
            decisions.append(r)
    # a server logs one decision per answered request with its cost and latency, not each call
    rows = calls or decisions
    lat = np.array([c["latency_ms"] for c in rows if c.get("latency_ms") is not None], dtype=np.float64)
    models: dict[str, int] = {}
    errors: dict[str, int] = {}
    for c in rows:  # the model that answered, by its configured id (a decision also names the router's choice)
        name = str(c.get("served") or c.get("model") or "unknown")
        models[name] = models.get(name, 0) + 1
        if c.get("error"):
            kind = str(c["error"]).split(":")[0]
            errors[kind] = errors.get(kind, 0) + 1
    cost = float(sum(c.get("cost") or 0.0 for c in rows))
    pct = {f"p{q}": float(np.percentile(lat, q)) if len(lat) else None for q in (50, 95, 99)}
    return {"calls": len(calls), "decisions": len(decisions), "cost_total": cost,
            "cost_per_call": cost / len(rows) if rows else 0.0, "latency_ms": pct,
            "model_mix": {m: n / len(rows) for m, n in sorted(models.items())} if rows else {}, "errors": errors}
