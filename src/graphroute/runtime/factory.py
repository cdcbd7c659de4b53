"""Strategies by name, for YAML graphs (``routers: {x: {type: strategy, kind: ..., params: {...}}}``).

Example:
    >>> from graphroute.runtime.factory import make_strategy
    >>> make_strategy("consistent_hash", {"models": ["a", "b"], "replicas": 50}).name
    'consistent_hash'
"""

from __future__ import annotations

from typing import Any

from graphroute.errors import ConfigError

KINDS = ("round_robin", "weighted_random", "consistent_hash", "profile", "runtime", "least_busy", "thompson", "privacy",
         "hybrid")


def make_strategy(kind: str, params: dict[str, Any], routers: dict[str, Any] | None = None) -> Any:
    """A strategy router of ``kind`` from its parameters (the classes' constructor arguments).
    ``hybrid`` takes ``rules``, ``default`` and ``learned``: the name of another router in ``routers``."""
    from graphroute import runtime as rt

    params = dict(params)
    try:
        if kind == "hybrid":
            from graphroute.routers.rules import RulesRouter

            name = params.pop("learned")
            if routers is None or name not in routers:
                raise ConfigError(f"hybrid: 'learned' names router {name!r}, which is not defined", field="params.learned")
            return rt.HybridRouter(RulesRouter(params.pop("rules"), params.pop("default")), routers[name])
        if kind == "round_robin":
            return rt.RoundRobinRouter(params.pop("models"), **params)
        if kind == "weighted_random":
            return rt.WeightedRandomRouter(params.pop("weights"), **params)
        if kind == "consistent_hash":
            return rt.ConsistentHashRouter(params.pop("models"), **params)
        if kind == "profile":
            return rt.ProfileRouter(params.pop("profiles"), **params)
        if kind in ("runtime", "least_busy"):
            tracker = rt.LatencyTracker(alpha=params.pop("alpha", 0.2))
            if kind == "runtime":
                return rt.RuntimeRouter(params.pop("quality"), tracker, **params)
            return rt.LeastBusyRouter(params.pop("models"), tracker)
        if kind == "thompson":
            return rt.ThompsonRouter(params.pop("models"), **params)
        if kind == "privacy":
            inner = make_strategy(params.pop("inner_kind", "round_robin"), params.pop("inner", {}))
            return rt.PrivacyRouter(inner, params.pop("tags"), **params)
    except KeyError as exc:
        raise ConfigError(f"strategy {kind!r} needs {exc.args[0]!r}", field=f"params.{exc.args[0]}") from None
    except TypeError as exc:
        raise ConfigError(f"strategy {kind!r}: {exc}", field="params") from None
    raise ConfigError(f"unknown strategy {kind!r}; known: {', '.join(KINDS)}", field="kind")
