"""Hybrid (rules first, then a learned router) and model-aware profiles (scores per dimension,
weighted by each request's priorities).

Examples:
    >>> from graphroute.strategies import ProfileRouter
    >>> p = ProfileRouter({"gpt-4o": {"accuracy": 0.9, "creativity": 0.7, "speed": 0.4},
    ...                    "claude": {"accuracy": 0.85, "creativity": 0.9, "speed": 0.5},
    ...                    "mini": {"accuracy": 0.6, "creativity": 0.5, "speed": 0.95}})
    >>> p.decide(["a poem"], context={"priority": {"creativity": 1.0}})[0].model
    'claude'
    >>> p.decide(["quick"], context={"priority": {"speed": 2, "accuracy": 1}})[0].model
    'mini'
"""

from __future__ import annotations

import dataclasses

from typing import Any, Sequence

from graphroute.errors import ConfigError
from graphroute.prompts import check_prompts
from graphroute.types import Decision
from graphroute.strategies.base import STRATEGIES, StrategyRouter
from graphroute.strategies.rules import RulesRouter


class HybridRouter(StrategyRouter):
    """``rules`` (a RulesRouter) decide when a rule matches; otherwise ``learned`` (any fitted router)."""

    name = "hybrid"

    def __init__(self, rules: Any, learned: Any) -> None:
        super().__init__(list(dict.fromkeys(list(rules.models_) + list(learned.models_))))
        self.rules, self.learned = rules, learned

    def decide(self, X: Sequence[str] | str, *, max_cost: float | None = None,
               context: dict[str, Any] | None = None) -> list[Decision]:
        out = []
        for p in check_prompts(X):
            model, reason = self.rules.match(p)
            if reason != "no rule matched: default":
                out.append(Decision(model=model, scores={m: float(m == model) for m in self.models_}, reason=reason,
                                    policy=self.name))
            else:
                d = self.learned.decide([p], max_cost=max_cost)[0]
                out.append(dataclasses.replace(d, reason=f"no rule matched; learned router: {d.reason}"))
        return out

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        d = self.decide([prompt])[0]
        return d.model, d.reason  # type: ignore[return-value]


@STRATEGIES.register("hybrid")
def hybrid_strategy(rules: list[dict[str, Any]], default: str, learned: Any) -> HybridRouter:
    """Rules first (see ``RulesRouter``), else the ``learned`` router."""
    return HybridRouter(RulesRouter(rules, default), learned)


@STRATEGIES.register("profile")
class ProfileRouter(StrategyRouter):
    """``profiles``: model -> {dimension: score}; a request's ``context["priority"]`` weights the
    dimensions (default: ``default_priority``); the model with the highest weighted score wins."""

    name = "profile"

    def __init__(self, profiles: dict[str, dict[str, float]], default_priority: dict[str, float] | None = None) -> None:
        super().__init__(list(profiles))
        self.profiles = {m: dict(p) for m, p in profiles.items()}
        self.dimensions = sorted({d for p in profiles.values() for d in p})
        self.default_priority = default_priority or {d: 1.0 for d in self.dimensions}

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        prio = context.get("priority") or self.default_priority
        unknown = [d for d in prio if d not in self.dimensions]
        if unknown:
            raise ConfigError(f"unknown priority dimensions {unknown}; profiles have {self.dimensions}", field="priority")
        score = {m: sum(w * self.profiles[m].get(d, 0.0) for d, w in prio.items()) for m in self.models_}
        best = max(self.models_, key=lambda m: score[m])
        return best, f"highest weighted profile score {score[best]:.3f} for priorities {prio}"
