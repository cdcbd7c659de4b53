"""Feedback learning: a contextual bandit (Gaussian Thompson sampling per prompt cluster) over models,
with reward ``quality - lam * cost - mu * latency_s`` fed back through ``feedback(run_id, score)``.

Prompts are clustered online by their embedding (``clusters="online"``: nearest of up to
``n_clusters`` centroids, each a running mean), by random hyperplanes (``clusters="lsh"``: the sign
pattern of ``log2(n_clusters)`` seeded projections, the same in every process, which is what
statistics shared across workers need), or by your ``cluster_of(prompt, context)`` (e.g. a task type).

``half_life_s`` decays old rewards (a model that changes is relearned). Across workers the
statistics are shared through a state backend: ``pending(run_id)`` and ``learn(run, score)`` move
a run's feedback to any worker, ``absorb(stats)`` takes the shared statistics.

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
import time
from typing import Any, Callable, Sequence

import numpy as np

from graphroute.encoders import EncoderMixin
from graphroute.errors import ConfigError
from graphroute.strategies.base import STRATEGIES, StrategyRouter


#: runs awaiting feedback kept per router (the oldest are dropped beyond it)
MAX_PENDING = 100_000


def _check_score(score: Any) -> None:
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
        raise ConfigError(f"feedback score must be a finite number, got {score!r}", field="score")


@STRATEGIES.register("thompson")
class ThompsonRouter(EncoderMixin, StrategyRouter):
    """Thompson sampling with a Normal posterior per (cluster, model): prior mean ``prior``, reward
    noise ``sigma``. ``decide`` needs ``context["run_id"]`` to connect the later feedback."""

    name = "thompson"

    def __init__(self, models: Sequence[str], *, lam: float = 0.0, mu: float = 0.0, prior: float = 0.5, sigma: float = 0.3,
                 n_clusters: int = 8, cluster_threshold: float = 0.6, encoder: Any = None,
                 cluster_of: Callable[[str, dict], str] | None = None, clusters: str = "online",
                 half_life_s: float | None = None, seed: int | None = None) -> None:
        super().__init__(models)
        self.lam, self.mu, self.prior, self.sigma = lam, mu, prior, sigma
        self.n_clusters, self.cluster_threshold, self.encoder, self.cluster_of = n_clusters, cluster_threshold, encoder, cluster_of
        if clusters not in ("online", "lsh"):
            raise ConfigError(f"clusters must be 'online' or 'lsh', got {clusters!r}", field="clusters")
        self.clusters, self.half_life_s, self.seed = clusters, half_life_s, seed
        self._planes: np.ndarray | None = None
        self._t: dict[tuple[str, str], float] = {}
        self._rng = np.random.default_rng(seed)
        self._sum: dict[tuple[str, str], float] = {}
        self._n: dict[tuple[str, str], float] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._centroids: list[np.ndarray] = []
        self._counts: list[int] = []
        self._lock = threading.Lock()

    def _cluster(self, prompt: str, context: dict[str, Any]) -> str:
        if self.cluster_of is not None:
            return str(self.cluster_of(prompt, context))
        v = self.embed_texts([prompt], store=False)[0].astype(np.float64)
        if self.clusters == "lsh":
            if self._planes is None:
                bits = max(1, int(round(math.log2(max(2, self.n_clusters)))))
                self._planes = np.random.default_rng(12345).standard_normal((bits, v.shape[0]))
            return "h" + "".join("1" if x > 0 else "0" for x in self._planes @ v)
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
                self._pending[str(context["run_id"])] = {"run_id": str(context["run_id"]), "cluster": cluster, "model": best,
                                                         "cost": 0.0, "latency_ms": 0.0}
                while len(self._pending) > MAX_PENDING:
                    self._pending.pop(next(iter(self._pending)))
        return best, f"Thompson draw {draws[best]:.3f} in cluster {cluster}"

    def record(self, run_id: str, *, cost: float = 0.0, latency_ms: float = 0.0) -> None:
        """The run's measured cost and latency (counted in its reward)."""
        with self._lock:
            if run_id in self._pending:
                self._pending[run_id].update(cost=cost, latency_ms=latency_ms)

    def feedback(self, run_id: str, score: float) -> float:
        """Update with a run's quality ``score``; returns the reward used. Unknown run ids raise."""
        _check_score(score)
        with self._lock:
            run = self._pending.pop(str(run_id), None)
        if run is None:
            raise ConfigError(f"unknown or already rewarded run id {run_id!r}", field="run_id")
        return self.learn(run, score)

    def pending(self, run_id: str) -> dict[str, Any] | None:
        """What feedback on ``run_id`` needs (its cluster, model, cost and latency), for another worker."""
        with self._lock:
            run = self._pending.get(str(run_id))
            return dict(run) if run is not None else None

    def learn(self, run: dict[str, Any], score: float) -> float:
        """Update with the quality ``score`` of a ``pending`` run (from any worker); returns the reward."""
        _check_score(score)
        reward = float(score) - self.lam * run["cost"] - self.mu * run["latency_ms"] / 1000
        key = (run["cluster"], run["model"])
        with self._lock:
            self._pending.pop(str(run.get("run_id")), None)
            f = 0.5 ** (max(0.0, time.time() - self._t.get(key, time.time())) / self.half_life_s) if self.half_life_s else 1.0
            self._sum[key] = self._sum.get(key, 0.0) * f + reward
            self._n[key] = self._n.get(key, 0) * f + 1
            self._t[key] = time.time()
        return reward

    @staticmethod
    def cell(run: dict[str, Any]) -> str:
        """The statistics cell of a run: ``cluster|model``."""
        return f"{run['cluster']}|{run['model']}"

    def absorb(self, stats: dict[str, tuple[float, float]]) -> None:
        """Take shared statistics (``cell -> (sum of rewards, count)``, decayed) as this router's own."""
        with self._lock:
            now = time.time()
            for cell, (total, n) in stats.items():
                cluster, _, model = cell.rpartition("|")
                self._sum[(cluster, model)], self._n[(cluster, model)], self._t[(cluster, model)] = total, n, now
