"""Combining scorers, and building scorers from configuration (YAML / saved cascades).

Example:
    >>> from graphroute.cascade.base import Answer
    >>> from graphroute.cascade.scorers import ArithmeticScorer, CombinedScorer, FormatScorer
    >>> s = CombinedScorer([FormatScorer(kind="integer"), ArithmeticScorer()], how="min")
    >>> s.score("Tom has 3 bags of 4 apples. How many?", Answer("3 * 4 = 12\\n#### 12"))
    1.0
    >>> scorer_from_config({"type": "format", "kind": "json"})
    FormatScorer(kind='json', pattern=None, choices=None, parser=None, truncation=True)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from graphroute.cascade.base import Answer, CascadeError
from graphroute.cascade.scorers.base import ScoreContext, Scorer

HOW = ("mean", "min", "max", "product")


class CombinedScorer(Scorer):
    """Several scorers as one: weighted ``mean``, ``min`` (every check must pass), ``max`` or ``product``."""

    name = "combined"

    def __init__(self, scorers: Sequence[Scorer], weights: Sequence[float] | None = None, how: str = "mean") -> None:
        if not scorers:
            raise CascadeError("CombinedScorer needs at least one scorer")
        if how not in HOW:
            raise CascadeError(f"CombinedScorer how must be one of {HOW}, got {how!r}")
        if weights is not None and (len(weights) != len(scorers) or any(w < 0 for w in weights) or sum(weights) <= 0):
            raise CascadeError("CombinedScorer weights: one non-negative weight per scorer, not all zero")
        self.scorers, self.how = list(scorers), how
        self.weights = list(weights) if weights is not None else [1.0] * len(scorers)
        self.calls_models = any(s.calls_models for s in self.scorers)  # type: ignore[misc]

    def _params(self) -> dict[str, Any]:
        return {"how": self.how, "weights": self.weights, "scorers": [s.config() for s in self.scorers]}

    def _combine(self, values: Sequence[float]) -> float:
        v, w = np.asarray(values, dtype=np.float64), np.asarray(self.weights, dtype=np.float64)
        if self.how == "mean":
            return float((v * w).sum() / w.sum())
        if self.how == "min":
            return float(v.min())
        if self.how == "max":
            return float(v.max())
        return float(np.prod(v ** (w / w.max())))

    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        return self._combine([s.score(prompt, answer, context) for s in self.scorers])

    async def ascore(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        return self._combine(await asyncio.gather(*[s.ascore(prompt, answer, context) for s in self.scorers]))

    def score_many(self, prompts, answers) -> np.ndarray:
        cols = np.stack([s.score_many(prompts, answers) for s in self.scorers], axis=1)
        return np.array([self._combine(row) for row in cols])


def _build() -> dict[str, Callable[..., Scorer]]:
    from graphroute.cascade.scorers.rules import ArithmeticScorer, FormatScorer
    from graphroute.cascade.scorers.signals import LogprobScorer, SelfConsistencyScorer, VerifierScorer

    return {"format": FormatScorer, "arithmetic": ArithmeticScorer, "logprob": LogprobScorer,
            "self_consistency": SelfConsistencyScorer, "verifier": VerifierScorer}


def scorer_from_config(cfg: dict[str, Any], *, models: dict[str, Any] | None = None, base: str | Path | None = None) -> Scorer:
    """A scorer from ``{"type": ..., **params}``.

    ``verifier`` and ``self_consistency`` may name a model (``model: id``) looked up in ``models``;
    ``learned`` loads a saved scorer from ``path`` (relative to ``base``); ``combined`` nests
    ``scorers``.
    """
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise CascadeError(f"a scorer config is a mapping with a 'type', got {cfg!r}")
    cfg = dict(cfg)
    kind = cfg.pop("type")
    if kind == "combined":
        subs = [scorer_from_config(c, models=models, base=base) for c in cfg.pop("scorers", [])]
        return CombinedScorer(subs, **cfg)
    if kind == "learned":
        from graphroute.cascade.scorers.learned import LearnedScorer

        if "path" not in cfg:
            raise CascadeError("a learned scorer config needs 'path' (a folder written by LearnedScorer.save)")
        p = Path(cfg["path"])
        return LearnedScorer.load(p if p.is_absolute() or base is None else Path(base) / p)
    table = _build()
    if kind not in table:
        raise CascadeError(f"unknown scorer type {kind!r}; known: {', '.join(sorted([*table, 'learned', 'combined']))}")
    if "model" in cfg and isinstance(cfg["model"], str):
        name = cfg["model"]
        if not models or name not in models:
            raise CascadeError(f"scorer {kind!r} names model {name!r}, which is not among the cascade's models "
                               f"({', '.join(models or {}) or 'none'})")
        cfg["model"] = models[name]
        if kind == "verifier":
            cfg.setdefault("name", name)
    try:
        return table[kind](**cfg)
    except TypeError as exc:
        raise CascadeError(f"scorer {kind!r}: {exc}") from None
