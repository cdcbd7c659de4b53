"""Reference routers: random, always one model, and the oracle that knows the outcomes."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.encoders import text_key
from graphroute.errors import GraphRouteError, UnknownModelError
from graphroute.prompts import check_prompts
from graphroute.routers.base import ROUTERS, Router


@ROUTERS.register("random")
class RandomRouter(Router):
    """Uniform random scores, as RouteLLM's ``random`` router (APGR about 0.5).

    Scores are a deterministic function of the seed and the prompt text, so a prompt gets the
    same decision however the prompts are batched or split into folds.

    Examples:
        >>> from graphroute.routers import RandomRouter
        >>> r = RandomRouter(seed=1).fit(["a", "b"], [[1, 0], [0, 1]], models=["x", "y"])
        >>> bool((r.score(["a"]) == r.score(["a", "b"])[:1]).all())
        True
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _uniform(self, prompts: list[str], k: int) -> np.ndarray:
        out = np.empty((len(prompts), k))
        for i, p in enumerate(prompts):
            rng = np.random.default_rng([self.seed, int(text_key(p)[:15], 16)])
            out[i] = rng.random(k)
        return out

    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        return self._uniform(check_prompts(X), len(self.models_))

    def score(self, X: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        return self._uniform(check_prompts(X), 1)[:, 0]


@ROUTERS.register("always")
class AlwaysRouter(Router):
    """Always the same model; ``model`` may be a name, ``"weak"`` or ``"strong"``
    (``always-<model>`` is short for ``always:model=<model>``).

    Examples:
        >>> from graphroute.routers import AlwaysRouter
        >>> r = AlwaysRouter("y").fit(["a"], [[1, 0]], models=["x", "y"])
        >>> r.choose(["anything"])
        ['y']
    """

    constant = True

    def __init__(self, model: str = "strong") -> None:
        self.model = model

    @property
    def target_(self) -> str:
        self._check_fitted()
        target = {"weak": self.weak_, "strong": self.strong_}.get(self.model, self.model)
        if target not in self.models_:
            raise UnknownModelError(target, self.models_, "AlwaysRouter")
        return target

    def _fit(self, data: RoutingDataset) -> None:
        _ = self.target_  # fail early on an unknown model

    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        n = len(check_prompts(X))
        q = np.zeros((n, len(self.models_)))
        q[:, self.models_.index(self.target_)] = 1.0
        return q

    def score(self, X: Sequence[str]) -> np.ndarray:
        n = len(check_prompts(X))
        return np.full(n, 1.0 if self.target_ == self.strong_ else (-1.0 if self.target_ == self.weak_ else 0.0))


@ROUTERS.register("oracle")
class OracleRouter(Router):
    """Knows each prompt's recorded outcomes: the upper bound every router is measured against.

    ``score_dataset`` reads the rows' own labels (strong minus weak score), so duplicated
    prompts with different outcomes are handled row by row; ``predict_quality`` on bare prompts
    looks them up in the data it was fitted on (mean over duplicates).

    Examples:
        >>> from graphroute.routers import OracleRouter
        >>> r = OracleRouter().fit(["easy", "hard"], [[1, 1], [0, 1]], models=["weak", "strong"])
        >>> r.route(["easy", "hard"], threshold=0.5)
        ['weak', 'strong']
    """

    def _fit(self, data: RoutingDataset) -> None:
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for p, row in zip(data.prompts, data.scores):
            sums[p] = sums.get(p, 0) + row
            counts[p] = counts.get(p, 0) + 1
        self._table = {p: sums[p] / counts[p] for p in sums}

    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        out = []
        for p in check_prompts(X):
            if p not in self._table:
                raise GraphRouteError(f"the oracle has no recorded outcome for prompt {p[:60]!r}")
            out.append(self._table[p])
        return np.asarray(out, dtype=np.float64).reshape(-1, len(self.models_))

    def _columns(self, data: RoutingDataset) -> np.ndarray:
        return data.scores[:, [data.index(m) for m in self.models_]]

    def score_dataset(self, data: RoutingDataset) -> np.ndarray:
        self._check_fitted()
        q = self._columns(data)
        return self._gain(q)

    def quality_dataset(self, data: RoutingDataset) -> np.ndarray:
        self._check_fitted()
        return self._columns(data)

    def _state(self) -> dict[str, np.ndarray]:
        keys = list(self._table)
        return {"prompts": np.asarray(keys, dtype=str), "scores": np.asarray([self._table[k] for k in keys])}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._table = {str(p): s for p, s in zip(state["prompts"], state["scores"])}


ROUTERS.shorthand("always-", "always", lambda model: {"model": model}, "always-<model>")
