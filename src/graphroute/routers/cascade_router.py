"""The cascade as a router for ``graphroute eval``: on recorded data, the weak model's answer is
scored and the query escalates to the strong model when confidence is low.

The router's score is ``1 - confidence`` of the weak answer (higher = escalate), so the usual
curves apply with x = share of queries escalated; escalated queries cost the weak call plus the
strong call (``escalates = True``). Under cross-validation the learned scorer is fitted on the
training folds only: it never sees the answers it scores.

Examples:
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.routers import make_router
    >>> data = load_dataset("routellm-gsm8k")
    >>> r = make_router("cascade:scorer=arithmetic").fit(data)
    >>> s = r.score_dataset(data.subset(range(5)))
    >>> s.shape, bool(((0 <= s) & (s <= 1)).all())
    ((5,), True)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import CascadeError
from graphroute.persist import Saved
from graphroute.routers.base import ROUTERS, Router
from graphroute.scorers import SCORERS, LearnedScorer, Scorer, make_scorer


@ROUTERS.register("cascade")
class CascadeRouter(Router):
    """Two-stage cascade over a dataset's (weak, strong) pair, scored on recorded weak answers.

    ``scorer``: a scorer spec (``"learned"``, ``"arithmetic"``, ``{"name": "format", "kind":
    "integer"}``, ...); a learned scorer is fitted on the training rows. ``gain``: fit it with the
    strong model's outcomes too, so queries escalate by expected gain rather than by P(weak answer
    wrong). ``embeddings``: the learned scorer's MiniLM head (False: hand-made features only).
    """

    escalates = True

    def __init__(self, scorer: Any = "learned", gain: bool = True, embeddings: bool = True) -> None:
        self.scorer = scorer
        self.gain = gain
        self.embeddings = embeddings

    def _make(self) -> Scorer:
        learned = (self.scorer == "learned" or (isinstance(self.scorer, dict) and SCORERS.canonical(self.scorer)["name"] == "learned"))
        extra = {"embeddings": self.embeddings} if learned else {}
        spec = {"name": self.scorer, **extra} if isinstance(self.scorer, str) else {**self.scorer, **extra}
        return make_scorer(spec)

    def _responses(self, data: RoutingDataset) -> list[str]:
        if not data.responses or self.weak_ not in data.responses:
            raise CascadeError(f"dataset {data.name!r} has no recorded responses of {self.weak_!r}: a cascade scores "
                               "the weak model's answers (use a dataset with a response column per model)")
        return data.responses[self.weak_]

    def _fit(self, data: RoutingDataset) -> None:
        self.scorer_ = self._make()
        lo, hi = data.score_range
        self.means_ = (data.scores.mean(axis=0) - lo) / ((hi - lo) or 1.0)
        if isinstance(self.scorer_, LearnedScorer):
            self.scorer_.fit(data.prompts, self._responses(data), data.scores[:, data.index(self.weak_)],
                             y_next=data.scores[:, data.index(self.strong_)] if self.gain else None)

    def confidence(self, data: RoutingDataset) -> np.ndarray:
        """The scorer's score of the weak model's recorded answer, per row (high = keep it): P(right),
        or with ``gain`` the expected gain of not escalating scaled to 0-1."""
        self._check_fitted()
        return self.scorer_.score_many(data.prompts, self._responses(data))

    def score_dataset(self, data: RoutingDataset) -> np.ndarray:
        return 1.0 - self.confidence(data)

    def quality_dataset(self, data: RoutingDataset) -> np.ndarray:
        q = np.tile(self.means_, (len(data), 1))
        if isinstance(self.scorer_, LearnedScorer) and self.scorer_.gain_:
            p_weak, p_strong = self.scorer_.predict_pair(data.prompts, self._responses(data))
            q[:, self.models_.index(self.weak_)], q[:, self.models_.index(self.strong_)] = p_weak, p_strong
        else:
            q[:, self.models_.index(self.weak_)] = self.confidence(data)
        return q

    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        raise CascadeError("a cascade scores answers, not prompts: evaluate it on a dataset with recorded responses "
                           "(score_dataset), or run graphroute.cascade.Cascade with live models")

    def _state(self) -> dict[str, np.ndarray]:
        return {"means": self.means_}

    def _save_files(self, folder) -> None:
        if isinstance(self.scorer_, LearnedScorer):
            self.scorer_.save(folder / "scorer")

    def _load(self, saved: Saved) -> None:
        self.means_ = saved.array("means")
        self.scorer_ = LearnedScorer.load(saved.path / "scorer") if (saved.path / "scorer").is_dir() else self._make()
