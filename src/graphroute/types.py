"""The public value types: what graphroute hands back (frozen, keyword-only dataclasses; ``to_dict()``
for JSON; ``dataclasses.replace`` gives a changed copy).

* ``Decision`` — a router's choice for one query, with per-model scores, the reason and how
  familiar the query is to the router's training data;
* ``Calibration`` — what calibrated thresholds do on held-out data (routers and cascades);
* ``Answer``, ``Call``, ``Attempt``, ``CascadeResult`` — a cascade's run;
* ``Assignment``, ``Plan`` — a multi-agent team chosen by the allocator;
* ``GatewayResult`` — a request served by the runtime gateway.

Examples:
    >>> from graphroute.types import Decision
    >>> d = Decision(model="gpt-4o", scores={"gpt-4o": 0.9, "gpt-4o-mini": 0.7}, reason="best predicted")
    >>> d.to_dict()["model"], d.familiarity is None
    ('gpt-4o', True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from graphroute.prompts import message_text

__all__ = ["Answer", "Assignment", "Attempt", "Calibration", "Call", "CallAttempt", "CascadeResult",
           "Decision", "GatewayResult", "Plan"]


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What a router decided for one query, and why.

    ``familiarity``: for embedding routers, the share of the router's training prompts that are
    *less* typical of the training data than this query (0 = less typical than any training
    prompt, 0.5 = a median training prompt); ``nearest_similarity`` the mean cosine similarity of
    the query's nearest training prompts. None for routers that do not embed prompts.
    ``probability``: the chance this model had of being chosen (1.0 without exploration), which
    learning from logged feedback needs (inverse-propensity weights); ``probabilities`` every
    model's chance when the policy explores (None: the chosen model had ``probability``, others none).
    """

    model: str | None
    scores: dict[str, float]
    threshold: float | None = None
    reason: str = ""
    policy: str = ""
    route: str | None = None
    familiarity: float | None = None
    nearest_similarity: float | None = None
    unfamiliar: bool = False
    probability: float | None = None  # chance the policy had of choosing this model (exploration); log it
    probabilities: dict[str, float] | None = None  # every model's chance, when the policy explores

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Thresholds chosen for a target on calibration data, and what they do there.

    ``thresholds``: the router's threshold (one value) or the cascade's per-stage thresholds;
    ``strong_share``: share of queries sent to the strong model (a router) or reaching the last
    stage (a cascade); ``cost_per_query`` in dollars (None without prices); ``policy``: the
    router's calibrated policy; ``reach``/``answered``: a cascade's share of queries reaching /
    answered by each stage.
    """

    thresholds: list[float]
    quality: float
    cost_per_query: float | None
    strong_share: float | None
    target: dict[str, float]
    met: bool = True
    explanation: str = ""
    policy: Any = None
    reach: list[float] | None = None
    answered: list[float] | None = None

    def __str__(self) -> str:
        return self.explanation

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["policy"] = asdict(self.policy) if self.policy is not None else None
        out["thresholds"] = [t if math.isfinite(t) else ("inf" if t > 0 else "-inf") for t in self.thresholds]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Calibration":
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "policy"}
        d["thresholds"] = [float(t) for t in d.get("thresholds", [])]
        return cls(**d)


def _logprobs_of(meta: dict[str, Any]) -> list[float] | None:
    """Token log-probabilities from LangChain ``response_metadata`` (OpenAI-style ``logprobs.content``)."""
    lp = meta.get("logprobs")
    if isinstance(lp, dict):
        lp = lp.get("content", lp.get("token_logprobs"))
    if isinstance(lp, list) and lp:
        out = []
        for t in lp:
            v = t.get("logprob") if isinstance(t, dict) else t
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                out.append(float(v))
        return out or None
    return None


@dataclass(frozen=True, kw_only=True)
class Answer:
    """One model answer as a scorer sees it: text plus what the provider reported.

    Examples:
        >>> from langchain_core.messages import AIMessage
        >>> a = Answer.from_message(AIMessage("42", response_metadata={"finish_reason": "length"}), model="small")
        >>> a.text, a.truncated
        ('42', True)
    """

    text: str
    model: str = ""
    finish_reason: str | None = None
    logprobs: list[float] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    message: Any = None  # the original AIMessage, when there is one

    @property
    def truncated(self) -> bool:
        """The provider stopped at its token limit (``finish_reason == "length"``)."""
        return (self.finish_reason or "").lower() in ("length", "max_tokens")

    @classmethod
    def from_message(cls, message: Any, model: str = "") -> "Answer":
        """Read text, finish reason, log-probs and token usage from a LangChain message (or a string)."""
        if isinstance(message, str):
            return cls(text=message, model=model)
        meta = dict(getattr(message, "response_metadata", None) or {})
        usage = getattr(message, "usage_metadata", None) or {}
        reason = meta.get("finish_reason") or meta.get("stop_reason")
        return cls(text=message_text(getattr(message, "content", message)), model=model or str(meta.get("model_name", "")),
                   finish_reason=reason, logprobs=_logprobs_of(meta), input_tokens=usage.get("input_tokens"),
                   output_tokens=usage.get("output_tokens"), message=message)


@dataclass(frozen=True, kw_only=True)
class Call:
    """One model call: who, tokens, dollars, milliseconds (scorers' own calls are recorded too)."""

    model: str
    purpose: str  # "answer", "sample", "verify"
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One cascade stage's try: its answer, confidence and whether it was accepted."""

    stage: int
    model: str
    answer: str
    score: float | None
    threshold: float | None
    accepted: bool
    cost: float
    latency_ms: float
    scorer_ms: float
    calls: list[Call] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class CascadeResult:
    """The accepted answer plus the trace of every attempt (including escalated ones)."""

    answer: Answer
    model: str
    stage: int
    attempts: list[Attempt]

    @property
    def text(self) -> str:
        """The accepted answer's text (``answer`` is the whole ``Answer``: text, log-probs, tokens)."""
        return self.answer.text

    @property
    def cost(self) -> float:
        """Dollars over every call made: all stages' answers and scorers' own calls."""
        return float(sum(a.cost for a in self.attempts))

    @property
    def latency_ms(self) -> float:
        return float(sum(a.latency_ms + a.scorer_ms for a in self.attempts))

    @property
    def escalated(self) -> bool:
        return self.stage > 0

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer.text, "model": self.model, "stage": self.stage, "cost": self.cost,
                "latency_ms": self.latency_ms, "attempts": [a.to_dict() for a in self.attempts]}


@dataclass(frozen=True, kw_only=True)
class Assignment:
    """One slot of a team: the role that fills it, its model and how many calls it makes."""

    slot: str
    role: str
    model: str
    calls: int


@dataclass(frozen=True, kw_only=True)
class Plan:
    """A team: mode, rounds, who fills each slot with which model, and its predictions."""

    mode: str
    kind: str
    rounds: int
    assignments: list[Assignment]
    utility: float
    cost: float
    objective: float
    alternatives: int = 0  # (mode, rounds) combinations considered
    extra: dict[str, Any] = field(default_factory=dict)

    def models(self) -> dict[str, str]:
        """slot -> model."""
        return {a.slot: a.model for a in self.assignments}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class CallAttempt:
    """One model's try within a request's fallback chain (the Gateway's and the server's).

    ``error`` is None for the call that answered, else its kind (``rate_limit``, ``timeout``,
    ``context_length``, ``budget``, ``state_unavailable``, ...); ``message`` is already redacted.

    Examples:
        >>> CallAttempt(model="a", error="timeout", message="timed out").to_dict()["error"]
        'timeout'
    """

    model: str
    error: str | None = None
    message: str = ""
    cost: float = 0.0
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class GatewayResult:
    """A request served by the gateway: the answer, who gave it, what it cost and every attempt."""

    text: str
    model: str
    cost: float
    latency_ms: float
    provider_ms: float  # time inside provider calls (the rest is graphroute's and backoff)
    cached: bool
    reason: str
    attempts: list[CallAttempt] = field(default_factory=list)
    run_id: str = ""  # the id telemetry and feedback(run_id, score) use

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
