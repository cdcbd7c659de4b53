"""Types shared by the cascade and its scorers: an answer, a model call, a stage attempt, a result.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> from graphroute.cascade.base import Answer
    >>> a = Answer.from_message(AIMessage("42", response_metadata={"finish_reason": "length"}), model="small")
    >>> a.text, a.truncated
    ('42', True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from graphroute.errors import GraphRouteError


class CascadeError(GraphRouteError, ValueError):
    """A cascade or scorer is misconfigured or used where it cannot work (names stage and field)."""


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


@dataclass
class Answer:
    """One model answer as a scorer sees it: text plus what the provider reported."""

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
        content = getattr(message, "content", message)
        if isinstance(content, list):  # content blocks
            content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
        meta = dict(getattr(message, "response_metadata", None) or {})
        usage = getattr(message, "usage_metadata", None) or {}
        reason = meta.get("finish_reason") or meta.get("stop_reason")
        return cls(text=str(content), model=model or str(meta.get("model_name", "")), finish_reason=reason,
                   logprobs=_logprobs_of(meta), input_tokens=usage.get("input_tokens"),
                   output_tokens=usage.get("output_tokens"), message=message)


@dataclass
class Call:
    """One model call: who, tokens, dollars, milliseconds (scorers' own calls are recorded too)."""

    model: str
    purpose: str  # "answer", "sample", "verify"
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0


@dataclass
class Attempt:
    """One stage's try: its answer, confidence and whether it was accepted."""

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


@dataclass
class CascadeResult:
    """The accepted answer plus the trace of every attempt (including escalated ones)."""

    answer: Answer
    model: str
    stage: int
    attempts: list[Attempt]

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
