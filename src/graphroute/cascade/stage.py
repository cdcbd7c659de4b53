"""One stage of a cascade: a chat model, the scorer that judges its answer and the threshold to keep it.

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade import Stage
    >>> from graphroute.scorers import FormatScorer
    >>> Stage(FakeListChatModel(responses=["4"]), name="small", scorer=FormatScorer(kind="integer")).threshold
    0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from graphroute.calls import model_name
from graphroute.errors import CascadeError
from graphroute.scorers import Scorer


@dataclass
class Stage:
    """One model of the cascade. ``scorer``/``threshold`` decide whether its answer is kept
    (ignored on the last stage, which always answers). ``options`` are bound to the model (e.g.
    ``max_tokens``)."""

    model: Any
    name: str | None = None
    scorer: Scorer | None = None
    threshold: float = 0.5
    options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.name = self.name or model_name(self.model, "model")
        if not (hasattr(self.model, "invoke") and hasattr(self.model, "ainvoke")):
            raise CascadeError(f"stage {self.name!r}: model must be a LangChain chat model or Runnable, "
                               f"got {type(self.model).__name__}")
        if self.scorer is not None and not isinstance(self.scorer, Scorer):
            raise CascadeError(f"stage {self.name!r}: scorer must be a graphroute Scorer, got {type(self.scorer).__name__}")
        if not isinstance(self.threshold, (int, float)) or math.isnan(self.threshold):
            raise CascadeError(f"stage {self.name!r}: threshold must be a number, got {self.threshold!r}")
