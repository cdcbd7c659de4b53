"""Virtual models: what a client's ``model`` names, and the decision each one makes.

* a real model id of the config — pass-through (with the gateway's retries, fallbacks and breakers);
* ``router-<router>`` and ``router-<router>-<threshold>`` (RouteLLM's convention) — the router
  decides, at its own policy or at that threshold on its score (two-model routers);
* ``graph:<name>`` — runs a YAML graph and answers with its output;
* an alias of the ``serve`` block — any of the above under a name the client uses (``auto``).

A cascade router served as ``router-<cascade>`` calls its own stages.

Examples:
    >>> from graphroute.serve.targets import parse_router_name
    >>> parse_router_name("router-mmlu-clf-0.25", ["mmlu-clf", "mmlu"])
    ('mmlu-clf', 0.25)
    >>> parse_router_name("router-mmlu", ["mmlu-clf", "mmlu"])
    ('mmlu', None)
    >>> parse_router_name("router-mmlu-0.5\\n", ["mmlu"]) is None    # a threshold is a plain number
    True
"""

from __future__ import annotations

import copy
from asyncio import to_thread
import functools
import inspect
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, cast

from graphroute.cascade import Cascade
from graphroute.errors import UnknownVirtualModelError
from graphroute.routers import Router
from graphroute.routers.batched_decisions import copy_batching
from graphroute.routers.policy import ThresholdPolicy
from graphroute.types import Decision


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def parse_router_name(name: str, routers: Sequence[str]) -> tuple[str, float | None] | None:
    """``router-<router>[-<threshold>]`` -> ``(router, threshold)``; None if no router matches."""
    if not name.startswith("router-"):
        return None
    rest = name[len("router-"):]
    for r in sorted(routers, key=len, reverse=True):  # router names may contain dashes
        if rest == r:
            return r, None
        if rest.startswith(r + "-") and _NUMBER.fullmatch(rest[len(r) + 1:]):
            t = float(rest[len(r) + 1:])
            if math.isfinite(t):
                return r, t
    return None


@functools.lru_cache(maxsize=None)
def _takes_context(cls: Any) -> bool:
    """Does ``cls.decide`` take request ``context`` (looked up once per class, not per request)?"""
    return "context" in inspect.signature(cls.decide).parameters


@dataclass
class Target:
    """A resolved virtual model. ``kind``: model, router, cascade or graph; ``label``: its bounded
    name for metrics (thresholds dropped)."""

    name: str
    kind: str
    label: str
    model: str | None = None  # kind model: the model id
    router: Any = None
    mapping: dict[str, str] = field(default_factory=dict)  # router's model name -> config model id
    graph: Any = None

    async def decide(self, prompt: str, context: dict[str, Any]) -> tuple[Decision, str | None]:
        """The decision and the config model id it names (kind model/router; a cascade's is its
        first stage; a graph decides per step). Nothing is called."""
        if self.kind == "model":
            return Decision(model=self.model, scores={}, reason="pass-through", probability=1.0), self.model
        if self.kind == "cascade":
            first = self.router.stages[0].name
            return Decision(model=first, scores={}, reason=f"cascade starts at {first}; later stages when its answer "
                                                           f"scores below the threshold"), first
        if self.kind == "graph":
            return Decision(model=None, scores={}, reason=f"graph {self.label[len('graph:'):]!r} decides per step"), None
        if _takes_context(cast(Any, type(self.router))):  # strategies: request metadata, the bandit's run id
            decide = functools.partial(self.router.decide, context=context)
            # a strategy may wrap a learned router (privacy, hybrid): off the event loop
            d = (await to_thread(decide, [prompt]) if isinstance(self.router, Router) else decide([prompt]))[0]
        elif hasattr(self.router, "adecide"):
            # a learned router: off the event loop, batched with the requests deciding now (one encoder forward)
            d = (await self.router.adecide([prompt]))[0]
        else:
            d = self.router.decide([prompt])[0]
        return d, (self.mapping.get(d.model, d.model) if d.model is not None else None)


class Resolver:
    """Resolves virtual model names over a service's models, routers, graphs and aliases."""

    def __init__(self, models: Sequence[str], routers: dict[str, Any], maps: dict[str, dict[str, str]],
                 graphs: dict[str, Any], aliases: dict[str, str]) -> None:
        self.models, self.routers, self.maps, self.graphs, self.aliases = list(models), routers, maps, graphs, aliases
        self._variants: dict[tuple[str, float], Any] = {}

    def names(self) -> list[str]:
        """Every name ``/v1/models`` lists (routers at their own policy)."""
        return [*self.aliases, *(f"router-{r}" for r in self.routers), *(f"graph:{g}" for g in self.graphs), *self.models]

    def _at_threshold(self, name: str, t: float) -> Any:
        key = (name, t)
        if key not in self._variants:
            router = self.routers[name]
            policy = getattr(router, "policy_", None) or (router.default_policy() if isinstance(router, Router) else None)
            if not isinstance(policy, ThresholdPolicy):
                raise UnknownVirtualModelError(f"router-{name}-<threshold> needs a two-model router with a threshold policy; "
                                               f"use router-{name}")
            variant = copy.copy(router)  # shares the fitted arrays and query encoder; only the policy differs
            variant.set_policy(threshold=t)
            copy_batching(router, variant)
            if len(self._variants) > 256:  # thresholds come from clients: keep the table bounded
                self._variants.pop(next(iter(self._variants)))
            self._variants[key] = variant
        return self._variants[key]

    def resolve(self, name: str, visible: Callable[[str], bool] | None = None) -> Target:
        """The target ``name`` names; an unknown name's error lists the names ``visible`` admits (all)."""
        try:
            return self._resolve(name)
        except UnknownVirtualModelError as exc:
            if not exc.args or not str(exc.args[0]).startswith("The model `"):
                raise
            names = [n for n in self.names() if visible is None or visible(n)]
            raise UnknownVirtualModelError(f"The model `{name}` does not exist or you do not have access to it. Models: "
                                           f"{', '.join(names) or 'none'}; router-<router>-<threshold> for a router "
                                           f"you may use") from None

    def _resolve(self, name: str) -> Target:
        if name in self.aliases:
            target = self._resolve(self.aliases[name])
            target.name, target.label = name, name
            return target
        if name in self.models:
            return Target(name, "model", name, model=name)
        if name.startswith("graph:"):
            g = name[len("graph:"):]
            if g in self.graphs:
                return Target(name, "graph", name, graph=self.graphs[g])
        parsed = parse_router_name(name, list(self.routers))
        if parsed is not None:
            r, t = parsed
            router = self.routers[r]
            if isinstance(router, Cascade):
                if t is not None:
                    raise UnknownVirtualModelError(f"{r!r} is a cascade: it has per-stage thresholds; use router-{r}")
                return Target(name, "cascade", f"router-{r}", router=router)
            return Target(name, "router", f"router-{r}", router=router if t is None else self._at_threshold(r, t),
                          mapping=self.maps.get(r, {}))
        raise UnknownVirtualModelError(f"The model `{name}` does not exist.")
