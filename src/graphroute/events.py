"""The telemetry events graphroute writes and reads, defined once: a model call, a routing decision,
an outcome (feedback), an experiment's assignment and a shadow call.

Writers build an event and write ``event.record()`` (a JSON-ready dict with ``event`` and ``ts``);
readers turn a stored record back into its event with ``read_event``, which is tolerant of fields
it does not know (later versions may add some) and returns None for a record of another kind.

Examples:
    >>> from graphroute.events import FeedbackEvent, read_event
    >>> rec = FeedbackEvent(run_id="r1", score=1.0).record()
    >>> rec["event"], rec["score"], "metric" in rec
    ('feedback', 1.0, False)
    >>> read_event(rec).metric
    'feedback'
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["CallEvent", "DecisionEvent", "Event", "ExperimentEvent", "FeedbackEvent", "ShadowEvent", "read_event"]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Fields every event has: the request it belongs to and when it was written (wall time)."""

    kind: ClassVar[str] = ""
    #: fields left out of the record while they hold their default (older readers never saw them)
    optional: ClassVar[tuple[str, ...]] = ()
    run_id: str
    ts: float = field(default_factory=time.time)

    def record(self) -> dict[str, Any]:
        """The stored form: ``{"event": kind, **fields}``."""
        out: dict[str, Any] = {"event": self.kind}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in self.optional and v == f.default:
                continue
            out[f.name] = v
        return out


@dataclass(frozen=True, kw_only=True)
class CallEvent(Event):
    """One chat-model call seen by ``TelemetryHandler`` (LangChain callbacks)."""

    kind: ClassVar[str] = "call"
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    latency_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class DecisionEvent(Event):
    """A routed request: the prompt, the model the router chose and the chance it had of choosing it,
    what the request cost; ``fallback``: another model answered; ``served``: the configured id that
    answered; ``cached``/``attempts``: the Gateway's cache hit and every try; ``virtual_model`` and
    ``key``: what a served request asked for, and the name of the key that asked."""

    kind: ClassVar[str] = "decision"
    optional: ClassVar[tuple[str, ...]] = ("fallback", "served", "cached", "attempts", "virtual_model", "key")
    prompt: str
    model: str | None
    probability: float | None = 1.0
    reason: str = ""
    cost: float | None = None
    latency_ms: float | None = None
    fallback: bool = False
    served: str | None = None
    cached: bool = False
    attempts: list[tuple[str, str | None]] | None = None
    virtual_model: str | None = None
    key: str | None = None


@dataclass(frozen=True, kw_only=True)
class FeedbackEvent(Event):
    """An outcome of request ``run_id``; ``metric`` names scores of another kind (``judge``)."""

    kind: ClassVar[str] = "feedback"
    optional: ClassVar[tuple[str, ...]] = ("metric",)
    score: float
    metric: str = "feedback"


@dataclass(frozen=True, kw_only=True)
class ExperimentEvent(Event):
    """An experiment's request: its unit and arm, the split, every arm's decision, what was served
    and the mixture propensity of the served model (None when it cannot be known)."""

    kind: ClassVar[str] = "experiment"
    experiment: str
    arm: str
    unit: str | None = None
    weights: dict[str, float] | None = None
    arm_probability: float | None = None
    decisions: dict[str, dict[str, Any]] | None = None
    shadows: dict[str, dict[str, Any]] | None = None
    model: str | None = None
    chosen: str | None = None
    propensity: float | None = None
    cost: float | None = None
    latency_ms: float | None = None
    fallback: bool = False
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ShadowEvent(Event):
    """A shadow arm's call: its answer beside the served one, its cost, or its error."""

    kind: ClassVar[str] = "shadow"
    experiment: str
    arm: str
    unit: str | None = None
    served_output: str | None = None
    latency_ms: float | None = None
    model: str | None = None
    output: str | None = None
    cost: float | None = 0.0
    error: str | None = None


KINDS: dict[str, type[Event]] = {c.kind: c for c in (CallEvent, DecisionEvent, FeedbackEvent, ExperimentEvent, ShadowEvent)}


def read_event(record: Any) -> Event | None:
    """The typed event a stored record holds, or None (not a dict, another kind, or a field it needs
    missing). Fields the event does not define are ignored."""
    if not isinstance(record, dict):
        return None
    cls = KINDS.get(str(record.get("event")))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    args = {k: v for k, v in record.items() if k in names}
    if args.get("run_id") is not None:
        args["run_id"] = str(args["run_id"])
    if args.get("ts") is None:
        args.pop("ts", None)
    if cls is FeedbackEvent and args.get("metric") is None:
        args.pop("metric", None)
    try:
        return cls(**args)
    except TypeError:  # a required field is missing
        return None
