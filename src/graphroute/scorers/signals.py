"""Scorers from model signals: token log-probabilities, self-consistency of samples, a verifier model.

The example's fake provider returns log-probs, as OpenAI does with ``logprobs=True``.

Examples:
    >>> import math
    >>> from langchain_core.messages import AIMessage
    >>> from graphroute.types import Answer
    >>> from graphroute.scorers import LogprobScorer
    >>> msg = AIMessage("Paris", response_metadata={"logprobs": {"content": [{"token": "Paris", "logprob": math.log(0.9)}]}})
    >>> round(LogprobScorer().score("Capital of France?", Answer.from_message(msg)), 3)
    0.9
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any, Callable

import numpy as np

from graphroute.tasks import arithmetic as mc
from graphroute.types import Answer
from graphroute.errors import CascadeError
from graphroute.calls import acall_model, call_model, model_name
from graphroute.scorers.base import SCORERS, ScoreContext, Scorer

AGGREGATES = ("mean", "min", "geometric")


@SCORERS.register("logprob")
class LogprobScorer(Scorer):
    """Confidence from the answer's token log-probabilities.

    ``aggregate``: ``mean`` (mean token probability), ``min`` (least likely token) or
    ``geometric`` (exp of the mean log-prob: the sequence's per-token likelihood). ``last_n`` scores
    only the last n tokens (where the final answer usually is). Answers without log-probs score
    ``missing``. Ask the model for them: ``Stage(llm, options={"logprobs": True, "top_logprobs": 1})``
    (llama.cpp's server returns log-probs only with ``top_logprobs`` of at least 1).
    """

    name = "logprob"

    def __init__(self, aggregate: str = "geometric", last_n: int | None = None, missing: float = 0.5) -> None:
        if aggregate not in AGGREGATES:
            raise CascadeError(f"LogprobScorer aggregate must be one of {AGGREGATES}, got {aggregate!r}")
        self.aggregate, self.last_n, self.missing = aggregate, last_n, missing

    def _params(self) -> dict[str, Any]:
        return {"aggregate": self.aggregate, "last_n": self.last_n, "missing": self.missing}

    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        lp = answer.logprobs
        if not lp:
            return float(self.missing)
        x = np.asarray(lp[-self.last_n:] if self.last_n else lp, dtype=np.float64)
        if self.aggregate == "mean":
            return float(np.exp(x).mean())
        if self.aggregate == "min":
            return float(np.exp(x.min()))
        return float(math.exp(x.mean()))


def default_extract(text: str) -> str:
    """The part of an answer that samples must agree on: the final number if any, else the
    normalised last line."""
    v = mc.final_number(text)
    if v is not None:
        return v
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return re.sub(r"\W+", " ", lines[-1]).strip().lower() if lines else ""


@SCORERS.register("self_consistency")
class SelfConsistencyScorer(Scorer):
    """Share of ``k`` extra samples (at ``temperature``) whose extracted answer equals this answer's.

    Samples come from the stage's own model (``context.model``), or from ``model`` if given; each
    sample is a recorded call, so its cost is counted. ``extract`` maps an answer text to what must
    agree (default: ``default_extract``).
    """

    name = "self_consistency"
    calls_models = True

    def __init__(self, k: int = 5, temperature: float | None = 0.7, model: Any = None,
                 extract: Callable[[str], str] | None = None) -> None:
        if k < 1:
            raise CascadeError(f"SelfConsistencyScorer k must be >= 1, got {k}")
        self.k, self.temperature, self.model = k, temperature, model
        self.extract = extract or default_extract

    def _params(self) -> dict[str, Any]:
        return {"k": self.k, "temperature": self.temperature}

    def _target(self, context: ScoreContext | None):
        model = self.model if self.model is not None else (context.model if context else None)
        if model is None:
            raise CascadeError("SelfConsistencyScorer needs a model to sample: run it inside a Cascade or pass model=")
        name = (context.model_name if context and context.model_name and self.model is None else model_name(model))
        return model, name

    def _kw(self) -> dict[str, Any]:
        return {"temperature": self.temperature} if self.temperature is not None else {}

    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        model, name = self._target(context)
        target = self.extract(answer.text)
        agree = 0
        for _ in range(self.k):
            sample, call = call_model(model, prompt, name=name, purpose="sample",
                                      cost_model=context.cost_model if context else None,
                                      config=context.config if context else None, **self._kw())
            if context is not None:
                context.calls.append(call)
            agree += self.extract(sample.text) == target
        return agree / self.k

    async def ascore(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        model, name = self._target(context)
        target = self.extract(answer.text)
        results = await asyncio.gather(*[
            acall_model(model, prompt, name=name, purpose="sample", cost_model=context.cost_model if context else None,
                        config=context.config if context else None, **self._kw()) for _ in range(self.k)])
        if context is not None:
            context.calls.extend(call for _, call in results)
        return sum(self.extract(s.text) == target for s, _ in results) / self.k


DEFAULT_VERIFIER_PROMPT = (
    "You are grading an answer.\n\nQuestion:\n{question}\n\nProposed answer:\n{answer}\n\n"
    "How likely is the proposed answer to be correct? Reply with one integer from 0 (certainly wrong) "
    "to 10 (certainly right) and nothing else."
)


def parse_grade(text: str, scale: float = 10.0) -> float | None:
    """A grade in [0, 1] from a verifier's reply: ``yes``/``no``, ``7/10``, ``0.7`` or ``7``."""
    t = text.strip().lower()
    if re.match(r"^(yes|correct|true)\b", t):
        return 1.0
    if re.match(r"^(no|incorrect|wrong|false)\b", t):
        return 0.0
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?", t)
    if not m:
        return None
    v = float(m.group(1))
    denom = float(m.group(2)) if m.group(2) else (1.0 if v <= 1.0 and "." in m.group(1) else scale)
    return min(1.0, max(0.0, v / denom)) if denom else None


@SCORERS.register("verifier")
class VerifierScorer(Scorer):
    """Another LLM grades the answer. ``prompt`` is a template with ``{question}`` and ``{answer}``;
    the reply is parsed by ``parse_grade`` (or your ``parse``). Unparseable replies score ``missing``;
    ``label`` names the grading model in calls and costs (default: the model's own name)."""

    name = "verifier"
    calls_models = True

    def __init__(self, model: Any, prompt: str = DEFAULT_VERIFIER_PROMPT, parse: Callable[[str], float | None] | None = None,
                 missing: float = 0.0, label: str | None = None) -> None:
        if "{question}" not in prompt or "{answer}" not in prompt:
            raise CascadeError("VerifierScorer prompt must contain {question} and {answer}")
        self.model, self.prompt, self.missing = model, prompt, missing
        self.parse = parse or parse_grade
        self.model_label = label or model_name(model, "verifier")

    def _params(self) -> dict[str, Any]:
        return {"model": self.model_label, "prompt": self.prompt, "missing": self.missing}

    def _grade(self, reply: Answer) -> float:
        g = self.parse(reply.text)
        return float(self.missing) if g is None else float(g)

    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        reply, call = call_model(self.model, self.prompt.format(question=prompt, answer=answer.text), name=self.model_label,
                                 purpose="verify", cost_model=context.cost_model if context else None,
                                 config=context.config if context else None)
        if context is not None:
            context.calls.append(call)
        return self._grade(reply)

    async def ascore(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        reply, call = await acall_model(self.model, self.prompt.format(question=prompt, answer=answer.text),
                                        name=self.model_label, purpose="verify",
                                        cost_model=context.cost_model if context else None,
                                        config=context.config if context else None)
        if context is not None:
            context.calls.append(call)
        return self._grade(reply)
