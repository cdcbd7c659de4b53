"""Static strategies: round-robin, weighted random, and consistent hashing on a request key.

Consistent hashing places ``replicas`` virtual nodes per model on a 64-bit ring (BLAKE2b); a key
goes to the first virtual node clockwise. Adding one model to N remaps about 1/(N+1) of the keys
(only to the new model), and removing one remaps only that model's keys.

Examples:
    >>> from graphroute.strategies import ConsistentHashRouter, RoundRobinRouter
    >>> rr = RoundRobinRouter(["a", "b"])
    >>> [rr.decide(["q"])[0].model for _ in range(3)]
    ['a', 'b', 'a']
    >>> ring = ConsistentHashRouter(["a", "b", "c"])
    >>> ring.model_for("user-42") == ring.model_for("user-42")
    True
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import random
import threading
from typing import Any, Sequence

from graphroute.errors import ConfigError
from graphroute.strategies.base import STRATEGIES, StrategyRouter


@STRATEGIES.register("round_robin")
class RoundRobinRouter(StrategyRouter):
    """Each request to the next model in turn (thread-safe)."""

    name = "round_robin"

    def __init__(self, models: Sequence[str]) -> None:
        super().__init__(models)
        self._next = itertools.cycle(range(len(self.models_)))
        self._lock = threading.Lock()

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        with self._lock:
            i = next(self._next)
        return self.models_[i], f"round robin #{i}"


@STRATEGIES.register("weighted_random")
class WeightedRandomRouter(StrategyRouter):
    """Each request to a model drawn with probability proportional to its weight (seeded)."""

    name = "weighted_random"

    def __init__(self, weights: dict[str, float], seed: int | None = None) -> None:
        if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ConfigError("weights: non-negative numbers, not all zero", field="weights")
        super().__init__(list(weights))
        self.weights, self.seed = dict(weights), seed
        self._pick_rng = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        with self._lock:
            m = self._pick_rng.choices(self.models_, weights=[self.weights[x] for x in self.models_])[0]
        return m, f"weighted random ({self.weights[m]:g} of {sum(self.weights.values()):g})"


def _h(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


@STRATEGIES.register("consistent_hash")
class ConsistentHashRouter(StrategyRouter):
    """Sticky routing: the same key (``context[key_field]``, else the prompt) always reaches the
    same model while the model set is unchanged."""

    name = "consistent_hash"

    def __init__(self, models: Sequence[str], replicas: int = 160, key_field: str = "key") -> None:
        if replicas < 1:
            raise ConfigError("replicas must be >= 1", field="replicas")
        super().__init__(models)
        self.replicas, self.key_field = replicas, key_field
        self._lock = threading.Lock()
        self._rebuild()

    def _rebuild(self) -> None:
        points = sorted((_h(f"{m}#{r}"), m) for m in self.models_ for r in range(self.replicas))
        self._hashes = [h for h, _ in points]
        self._owners = [m for _, m in points]

    def add_model(self, model: str) -> None:  # type: ignore[override]  # a strategy learns nothing: a name is enough
        with self._lock:
            if model in self.models_:
                raise ConfigError(f"model {model!r} is already on the ring", field="models")
            self.models_.append(model)
            self._rebuild()

    def remove_model(self, model: str) -> None:
        with self._lock:
            if model not in self.models_ or len(self.models_) == 1:
                raise ConfigError(f"cannot remove {model!r} (unknown, or the last model)", field="models")
            self.models_.remove(model)
            self._rebuild()

    def model_for(self, key: str) -> str:
        h = _h(key)
        i = bisect.bisect_right(self._hashes, h) % len(self._hashes)
        return self._owners[i]

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        key = str(context.get(self.key_field) or prompt)
        return self.model_for(key), f"consistent hash of {self.key_field if self.key_field in context else 'prompt'}"
