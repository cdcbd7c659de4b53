"""Runtime routing from what calls actually did: exponentially weighted latency, time to first
token, tokens per second and error rate per model; route to the fastest model that meets a
quality floor, or to the least busy (fewest calls in flight).

Examples:
    >>> from graphroute.strategies import LatencyTracker, RuntimeRouter
    >>> stats = LatencyTracker(alpha=0.5)
    >>> stats.observe("a", latency_ms=900); stats.observe("b", latency_ms=200)
    >>> r = RuntimeRouter({"a": 0.9, "b": 0.8, "c": 0.5}, stats, quality_floor=0.75)
    >>> r.decide(["hi"])[0].model
    'b'
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from graphroute.strategies.base import STRATEGIES, StrategyRouter


@dataclass
class ModelStats:
    latency_ms: float = math.nan
    ttft_ms: float = math.nan
    tokens_per_s: float = math.nan
    error_rate: float = 0.0
    calls: int = 0
    in_flight: int = 0


class LatencyTracker:
    """Per-model EWMAs (``alpha``: weight of the newest observation) and in-flight counts; thread-safe."""

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = alpha
        self._stats: dict[str, ModelStats] = {}
        self._lock = threading.Lock()

    def _ewma(self, old: float, new: float) -> float:
        return new if math.isnan(old) else (1 - self.alpha) * old + self.alpha * new

    def observe(self, model: str, *, latency_ms: float, ttft_ms: float | None = None, output_tokens: int | None = None,
                error: bool = False) -> None:
        with self._lock:
            s = self._stats.setdefault(model, ModelStats())
            s.calls += 1
            s.error_rate = self._ewma(s.error_rate if s.calls > 1 else math.nan, 1.0 if error else 0.0)
            if error:
                return
            s.latency_ms = self._ewma(s.latency_ms, latency_ms)
            if ttft_ms is not None:
                s.ttft_ms = self._ewma(s.ttft_ms, ttft_ms)
            if output_tokens and latency_ms > 0:
                s.tokens_per_s = self._ewma(s.tokens_per_s, output_tokens / (latency_ms / 1000))

    @contextmanager
    def in_flight(self, model: str) -> Iterator[None]:
        with self._lock:
            self._stats.setdefault(model, ModelStats()).in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._stats[model].in_flight -= 1

    def get(self, model: str) -> ModelStats:
        with self._lock:
            s = self._stats.get(model, ModelStats())
            return ModelStats(**s.__dict__)


class RuntimeRouter(StrategyRouter):
    """Among models whose ``quality`` meets ``quality_floor``, the one with the lowest expected latency
    (EWMA latency inflated by its error rate: retries cost time). Unobserved models are tried first."""

    name = "runtime"

    def __init__(self, quality: dict[str, float], tracker: LatencyTracker, quality_floor: float = 0.0,
                 metric: str = "latency_ms") -> None:
        super().__init__(list(quality))
        self.quality, self.tracker, self.quality_floor, self.metric = dict(quality), tracker, quality_floor, metric

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        floor = float(context.get("quality_floor", self.quality_floor))
        ok = [m for m in self.models_ if self.quality[m] >= floor] or [max(self.models_, key=lambda m: self.quality[m])]

        def expected(m: str) -> float:
            s = self.tracker.get(m)
            v = getattr(s, self.metric)
            return -1.0 if math.isnan(v) else v / max(1e-3, 1.0 - min(s.error_rate, 0.999))

        best = min(ok, key=expected)
        e = expected(best)
        return best, ("not observed yet: explore" if e < 0 else f"fastest meeting quality >= {floor:g}: {e:.0f} ms expected")


class LeastBusyRouter(StrategyRouter):
    """The model with the fewest calls in flight (ties: fewest calls so far)."""

    name = "least_busy"

    def __init__(self, models: list[str], tracker: LatencyTracker) -> None:
        super().__init__(models)
        self.tracker = tracker

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        best = min(self.models_, key=lambda m: (self.tracker.get(m).in_flight, self.tracker.get(m).calls))
        return best, f"{self.tracker.get(best).in_flight} calls in flight"


@STRATEGIES.register("runtime")
def runtime_strategy(quality: dict[str, float], alpha: float = 0.2, quality_floor: float = 0.0,
                     metric: str = "latency_ms") -> RuntimeRouter:
    """The fastest model meeting a quality floor, on latencies tracked with smoothing ``alpha``."""
    return RuntimeRouter(quality, LatencyTracker(alpha), quality_floor, metric)


@STRATEGIES.register("least_busy")
def least_busy_strategy(models: list[str], alpha: float = 0.2) -> LeastBusyRouter:
    """The model with the fewest calls in flight."""
    return LeastBusyRouter(models, LatencyTracker(alpha))
