"""Base of the runtime strategies: routers that pick one model per request by a rule of their own
(no fitting on outcomes), still implementing the router protocol (``decide``, ``predict_quality``,
``route``), so they work as nodes, in YAML and as fallbacks.

A strategy writes one method, ``pick(prompt, context) -> (model, reason)``, and one registry line
(``@STRATEGIES.register("kind")``); ``context`` carries request metadata (user, session, key,
priority, tags, ...).

Examples:
    >>> from graphroute.strategies.base import StrategyRouter
    >>> class First(StrategyRouter):
    ...     def pick(self, prompt, context):
    ...         return self.models_[0], "always the first"
    >>> First(["a", "b"]).decide(["hi"])[0].model
    'a'
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Sequence

import numpy as np

from graphroute.errors import ConfigError
from graphroute.prompts import check_prompts
from graphroute.registry import Registry
from graphroute.routers.base import Router
from graphroute.types import Decision

#: Strategies by kind (``routers: {x: {type: strategy, name: round_robin, params: {...}}}`` in YAML).
STRATEGIES = Registry("strategy", legacy=("kind",))


class StrategyRouter(Router):
    """A router whose choice is a rule over models, prompt and request context."""

    name = "strategy"

    def __init__(self, models: Sequence[str]) -> None:
        models = list(models)
        if not models or len(set(models)) != len(models) or not all(isinstance(m, str) and m for m in models):
            raise ConfigError(f"models must be distinct non-empty names, got {models!r}", field="models")
        self.models = models
        self.models_ = list(models)
        self.weak_, self.strong_ = models[0], models[-1]

    @abstractmethod
    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        """(model, reason) for one prompt and its request context."""

    def decide(self, X: Sequence[str] | str, *, max_cost: float | None = None,
               context: dict[str, Any] | None = None) -> list[Decision]:
        out = []
        for p in check_prompts(X):
            model, reason = self.pick(p, dict(context or {}))
            out.append(Decision(model=model, scores={m: float(m == model) for m in self.models_}, reason=reason,
                                policy=self.name))
        return out

    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        decided = self.decide(X)
        return np.array([[float(m == d.model) for m in self.models_] for d in decided]).reshape(len(decided), len(self.models_))
