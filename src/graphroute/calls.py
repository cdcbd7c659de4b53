"""Calling a chat model and accounting for the call: tokens (provider-reported when present, else
counted with cl100k), dollars from the price table, wall-clock milliseconds.

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.calls import call_model
    >>> answer, call = call_model(FakeListChatModel(responses=["4"]), "2 + 2?", name="gpt-4o-mini")
    >>> answer.text, call.model, call.cost > 0
    ('4', 'gpt-4o-mini', True)
"""

from __future__ import annotations

import time
from typing import Any

from graphroute.types import Answer, Call
from graphroute.costs import CostModel, count_tokens


def model_name(model: Any, default: str = "model") -> str:
    """A chat model's name: its ``model_name``/``model`` attribute, else ``default``."""
    for attr in ("model_name", "model", "model_id"):
        v = getattr(model, attr, None)
        if isinstance(v, str) and v:
            return v
    return default


def _text_of(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        return "\n".join(_text_of(m) for m in prompt)
    content = getattr(prompt, "content", prompt)
    return content if isinstance(content, str) else str(content)


def account(answer: Answer, prompt: Any, name: str, purpose: str, latency_ms: float,
            cost_model: CostModel | None, input_tokens: int | None = None) -> Call:
    """The ``Call`` record of an answer just received (``latency_ms``: the model's own time).
    Tokens the provider reported win; else ``input_tokens`` if the caller counted them; else cl100k."""
    tin = answer.input_tokens if answer.input_tokens is not None else (
        input_tokens if input_tokens is not None else int(count_tokens([_text_of(prompt)])[0]))
    tout = answer.output_tokens if answer.output_tokens is not None else int(count_tokens([answer.text])[0])
    cm = cost_model or _default_costs()
    cost = cm.cost(name, tin, tout) if cm.has(name) else 0.0
    return Call(model=name, purpose=purpose, input_tokens=int(tin), output_tokens=int(tout), cost=float(cost),
                latency_ms=latency_ms)


_COSTS: list[CostModel] = []


def _default_costs() -> CostModel:
    if not _COSTS:
        _COSTS.append(CostModel.default())
    return _COSTS[0]


def call_model(model: Any, prompt: Any, *, name: str | None = None, purpose: str = "answer",
               cost_model: CostModel | None = None, config: dict | None = None, input_tokens: int | None = None,
               **kwargs: Any) -> tuple[Answer, Call]:
    """Invoke ``model`` (a LangChain chat model or any Runnable) and account for the call."""
    name = name or model_name(model)
    runnable = model.bind(**kwargs) if kwargs else model
    t0 = time.perf_counter()
    msg = runnable.invoke(prompt, config=config)
    elapsed = (time.perf_counter() - t0) * 1000
    answer = Answer.from_message(msg, model=name)
    return answer, account(answer, prompt, name, purpose, elapsed, cost_model, input_tokens)


async def acall_model(model: Any, prompt: Any, *, name: str | None = None, purpose: str = "answer",
                      cost_model: CostModel | None = None, config: dict | None = None, **kwargs: Any) -> tuple[Answer, Call]:
    """Async ``call_model``."""
    name = name or model_name(model)
    runnable = model.bind(**kwargs) if kwargs else model
    t0 = time.perf_counter()
    msg = await runnable.ainvoke(prompt, config=config)
    elapsed = (time.perf_counter() - t0) * 1000
    answer = Answer.from_message(msg, model=name)
    return answer, account(answer, prompt, name, purpose, elapsed, cost_model)
