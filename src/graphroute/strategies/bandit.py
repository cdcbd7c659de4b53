"""Feedback learning: a contextual bandit (Gaussian Thompson sampling per prompt cluster) over models,
with reward ``quality - lam * cost - mu * latency_s`` fed back through ``feedback(run_id, score)``.

Prompts are clustered online by their embedding (nearest of up to ``n_clusters`` centroids,
each a running mean), or by your ``cluster_of(prompt, context)`` (e.g. a task type).

Examples:
    >>> from graphroute.strategies import ThompsonRouter
    >>> b = ThompsonRouter(["cheap", "strong"], cluster_of=lambda p, c: "all", lam=0.0, seed=0)
    >>> for i in range(200):
    ...     d = b.decide([f"q{i}"], context={"run_id": f"r{i}"})[0]
    ...     _ = b.feedback(f"r{i}", 0.9 if d.model == "strong" else 0.3)
    >>> b.decide(["q"], context={"run_id": "last"})[0].model
    'strong'
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, Sequence

import numpy as np

from graphroute.encoders import EncoderMixin
from graphroute.errors import ConfigError
from graphroute.strategies.base import STRATEGIES, StrategyRouter


@STRATEGIES.register("thompson")
class ThompsonRouter(EncoderMixin, StrategyRouter):
    """Thompson sampling with a Normal posterior per (cluster, model): prior mean ``prior``, reward
    noise ``sigma``. ``decide`` needs ``context["run_id"]`` to connect the later feedback."""

    name = "thompson"

    def __init__(self, models: Sequence[str], *, lam: float = 0.0, mu: float = 0.0, prior: float = 0.5, sigma: float = 0.3,
                 n_clusters: int = 8, cluster_threshold: float = 0.6, encoder: Any = None,
                 cluster_of: Callable[[str, dict], str] | None = None, seed: int | None = None) -> None:
        super().__init__(models)
        self.lam, self.mu, self.prior, self.sigma = lam, mu, prior, sigma
        self.n_clusters, self.cluster_threshold, self.encoder, self.cluster_of = n_clusters, cluster_threshold, encoder, cluster_of
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._sum: dict[tuple[str, str], float] = {}
        self._n: dict[tuple[str, str], int] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._centroids: list[np.ndarray] = []
        self._counts: list[int] = []
        self._lock = threading.Lock()

    def _cluster(self, prompt: str, context: dict[str, Any]) -> str:
        if self.cluster_of is not None:
            return str(self.cluster_of(prompt, context))
        v = self.embed_texts([prompt], store=False)[0].astype(np.float64)
        with self._lock:
            if self._centroids:
                sims = [float(v @ c / (np.linalg.norm(c) or 1.0)) for c in self._centroids]
                j = int(np.argmax(sims))
                if sims[j] >= self.cluster_threshold or len(self._centroids) >= self.n_clusters:
                    self._counts[j] += 1
                    self._centroids[j] += (v - self._centroids[j]) / self._counts[j]
                    return f"c{j}"
            self._centroids.append(v.copy())
            self._counts.append(1)
            return f"c{len(self._centroids) - 1}"

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        cluster = self._cluster(prompt, context)
        with self._lock:
            draws = {}
            for m in self.models_:
                n = self._n.get((cluster, m), 0)
                mean = (self.prior + self._sum.get((cluster, m), 0.0)) / (n + 1)
                draws[m] = float(self._rng.normal(mean, self.sigma / math.sqrt(n + 1)))
            best = max(draws, key=lambda m: draws[m])
            if context.get("run_id") is not None:
                self._pending[str(context["run_id"])] = {"cluster": cluster, "model": best, "cost": 0.0, "latency_ms": 0.0}
        return best, f"Thompson draw {draws[best]:.3f} in cluster {cluster}"

    def record(self, run_id: str, *, cost: float = 0.0, latency_ms: float = 0.0) -> None:
        """The run's measured cost and latency (counted in its reward)."""
        with self._lock:
            if run_id in self._pending:
                self._pending[run_id].update(cost=cost, latency_ms=latency_ms)

    def feedback(self, run_id: str, score: float) -> float:
        """Update with a run's quality ``score``; returns the reward used. Unknown run ids raise."""
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
            raise ConfigError(f"feedback score must be a finite number, got {score!r}", field="score")
        with self._lock:
            run = self._pending.pop(str(run_id), None)
            if run is None:
                raise ConfigError(f"unknown or already rewarded run id {run_id!r}", field="run_id")
            reward = float(score) - self.lam * run["cost"] - self.mu * run["latency_ms"] / 1000
            key = (run["cluster"], run["model"])
            self._sum[key] = self._sum.get(key, 0.0) + reward
            self._n[key] = self._n.get(key, 0) + 1
        return reward
