"""Combining scorers, and building any scorer from a spec (YAML, saved cascades, the command line).

Examples:
    >>> from graphroute.scorers import ArithmeticScorer, CombinedScorer, FormatScorer, make_scorer
    >>> from graphroute.types import Answer
    >>> s = CombinedScorer([FormatScorer(kind="integer"), ArithmeticScorer()], how="min")
    >>> s.score("Tom has 3 bags of 4 apples. How many?", Answer(text="3 * 4 = 12\\n#### 12"))
    1.0
    >>> make_scorer({"name": "format", "kind": "json"})
    FormatScorer(kind='json', pattern=None, choices=None, parser=None, truncation=True)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.errors import CascadeError, GraphRouteError, PersistenceError
from graphroute.scorers.base import SCORERS, ScoreContext, Scorer
from graphroute.scorers.learned import LearnedScorer
from graphroute.types import Answer

HOW = ("mean", "min", "max", "product")


@SCORERS.register("combined")
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


def make_scorer(spec: Any, *, models: dict[str, Any] | None = None, base: str | Path | None = None) -> Scorer:
    """A scorer from a spec: ``{"name": ..., **params}``, ``"name:param=value"`` or a Scorer.

    ``verifier`` and ``self_consistency`` may name a model (``model: id``) looked up in ``models``;
    ``learned`` with a ``path`` loads a saved scorer (relative to ``base``), without one it is a new,
    unfitted scorer; ``combined`` nests ``scorers``.
    """
    if isinstance(spec, Scorer):
        return spec
    try:
        kind, params = SCORERS.parse(spec)
    except GraphRouteError as exc:
        raise CascadeError(str(exc)) from None
    if kind == "combined":
        subs = [make_scorer(c, models=models, base=base) for c in params.pop("scorers", [])]
        return CombinedScorer(subs, **params)
    if kind == "learned" and "path" in params:
        p = Path(params["path"])
        return LearnedScorer.load(p if p.is_absolute() or base is None else Path(base) / p)
    if isinstance(params.get("model"), str):
        name = params["model"]
        if not models or name not in models:
            raise CascadeError(f"scorer {kind!r} names model {name!r}, which is not among the cascade's models "
                               f"({', '.join(models or {}) or 'none'})")
        params["model"] = models[name]
        if kind == "verifier":
            params.setdefault("label", name)
    try:
        return SCORERS.make((kind, params))
    except PersistenceError:
        raise  # a saved folder naming code: the refusal itself, not a scorer problem
    except GraphRouteError as exc:
        raise CascadeError(f"scorer {kind!r}: {exc}") from None
