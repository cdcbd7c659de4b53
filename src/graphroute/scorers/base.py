"""The confidence-scorer protocol: ``score(prompt, answer, context) -> float`` in [0, 1], higher meaning
"this answer is more likely right". One method to write, one registry line
(``@SCORERS.register("name")``); batch and async come free.

Examples:
    >>> from graphroute.scorers import Scorer
    >>> from graphroute.types import Answer
    >>> class LengthScorer(Scorer):
    ...     name = "length"
    ...     def score(self, prompt, answer, context=None):
    ...         return min(1.0, len(answer.text) / 100)
    >>> LengthScorer().score("q", Answer(text="x" * 50))
    0.5
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np

from graphroute.costs import CostModel
from graphroute.registry import Registry
from graphroute.types import Answer, Call

#: Scorer types by name (``{"name": "format", "kind": "integer"}`` in YAML, ``"format:kind=integer"``).
SCORERS = Registry("scorer", legacy=("type",))


@dataclass
class ScoreContext:
    """What a scorer may need beyond the answer: the stage's model (to sample it again), where to
    record its own calls (so their cost is counted), prices, and the run's LangChain config."""

    model: Any = None
    model_name: str = ""
    calls: list[Call] = field(default_factory=list)
    cost_model: CostModel | None = None
    config: dict | None = None


def as_answer(answer: Answer | str | Any, model: str = "") -> Answer:
    """An ``Answer`` from an Answer, a string or a LangChain message."""
    return answer if isinstance(answer, Answer) else Answer.from_message(answer, model=model)


class Scorer(ABC):
    """Base class of confidence scorers (see the module docstring)."""

    name: ClassVar[str] = "scorer"
    #: True when ``score`` calls a model (self-consistency, verifier): it needs a ScoreContext.
    calls_models: ClassVar[bool] = False

    @abstractmethod
    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        """Confidence in [0, 1] that ``answer`` is a right answer to ``prompt``."""

    async def ascore(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        """Async ``score`` (default: in a worker thread)."""
        return await asyncio.to_thread(self.score, prompt, answer, context)

    def score_many(self, prompts: Sequence[str], answers: Sequence[Answer | str]) -> np.ndarray:
        """Scores of many recorded (prompt, answer) pairs (offline evaluation and calibration)."""
        return np.array([self.score(p, as_answer(a)) for p, a in zip(prompts, answers)], dtype=np.float64)

    def config(self) -> dict[str, Any]:
        """JSON-able description ``{"name": name, **params}`` (see ``graphroute.scorers.make_scorer``)."""
        return {"name": self.name, **self._params()}

    def _params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._params().items())})"
