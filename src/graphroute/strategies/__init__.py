"""Runtime strategies: routers that pick a model per request by a rule of their own (no fitting on
outcomes) — rules, round-robin, weighted random, consistent hashing, privacy, hybrid rules +
learned, model profiles, runtime latency, least busy, and a Thompson-sampling bandit with
feedback. They implement the router protocol, so they are nodes, YAML blocks and fallbacks too.

Examples:
    >>> from graphroute.strategies import make_strategy
    >>> make_strategy({"name": "consistent_hash", "models": ["a", "b"], "replicas": 50}).name
    'consistent_hash'
"""

from __future__ import annotations

from typing import Any

from graphroute.errors import ConfigError
from graphroute.strategies.adaptive import LatencyTracker, LeastBusyRouter, RuntimeRouter
from graphroute.strategies.balancing import ConsistentHashRouter, RoundRobinRouter, WeightedRandomRouter
from graphroute.strategies.bandit import ThompsonRouter
from graphroute.strategies.base import STRATEGIES, StrategyRouter
from graphroute.strategies.hybrid import HybridRouter, ProfileRouter
from graphroute.strategies.privacy import PIIDetector, PrivacyRouter
from graphroute.strategies.rules import RulesRouter

__all__ = ["STRATEGIES", "ConsistentHashRouter", "HybridRouter", "LatencyTracker", "LeastBusyRouter", "PIIDetector",
           "PrivacyRouter", "ProfileRouter", "RoundRobinRouter", "RulesRouter", "RuntimeRouter", "StrategyRouter",
           "ThompsonRouter", "WeightedRandomRouter", "make_strategy"]


def make_strategy(spec: Any, routers: dict[str, Any] | None = None) -> Any:
    """A strategy from ``{"name": ..., **params}`` (or ``"name:param=value"``). ``hybrid``'s
    ``learned`` may name another router of ``routers`` (a YAML graph's routing blocks)."""
    kind, params = STRATEGIES.parse(spec)
    if kind == "hybrid" and isinstance(params.get("learned"), str):
        name = params["learned"]
        if routers is None or name not in routers:
            raise ConfigError(f"hybrid: 'learned' names router {name!r}, which is not defined", field="params.learned")
        params["learned"] = routers[name]
    return STRATEGIES.make((kind, params))
