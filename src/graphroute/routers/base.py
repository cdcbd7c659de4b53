"""The router protocol, scikit-learn style.

A router is fitted on recorded outcomes and then, for each prompt, predicts every model's
quality (``predict_quality``). Everything else derives from that one method:

* ``score`` — for the (weak, strong) pair, the need for the strong model (higher = send to
  strong); RouteLLM calls this the strong win rate;
* ``route`` — the pair decision at a threshold;
* ``choose`` — for any number of models, ``argmax(quality - lam * cost)``.

Writing a router is one class with ``predict_quality`` (and ``_fit`` if it learns).
``save``/``load`` keep the params (from ``__init__``, as in scikit-learn) and the learned state
in one directory, written atomically.
"""

from __future__ import annotations

import importlib
import inspect
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import NotFittedError, PersistenceError, PromptError, UnknownModelError
from graphroute.persist import read_json, read_npz, write_folder
from graphroute.routers.policy import CostPolicy, Decision, ThresholdPolicy, policy_from_dict, policy_to_dict

FORMAT_VERSION = 1
MAX_PROMPT_CHARS = 100_000


def check_prompts(X: Sequence[str] | str) -> list[str]:
    """Validate prompts: strings, not blank, at most ``MAX_PROMPT_CHARS`` characters."""
    if isinstance(X, str):
        X = [X]
    if isinstance(X, RoutingDataset):
        X = X.prompts
    if isinstance(X, (bytes, bytearray, dict)):
        raise PromptError(f"prompts must be a string or a sequence of strings, got {type(X).__name__}")
    try:
        out = list(X)
    except TypeError:
        raise PromptError(f"prompts must be a string or a sequence of strings, got {type(X).__name__}") from None
    for i, p in enumerate(out):
        if not isinstance(p, str):
            raise PromptError(f"prompt {i} is {type(p).__name__}, not str")
        if not p.strip():
            raise PromptError(f"prompt {i} is empty")
        if len(p) > MAX_PROMPT_CHARS:
            raise PromptError(f"prompt {i} has {len(p):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
    return out


def as_dataset(X: Any, y: Any = None, models: Sequence[str] | None = None) -> RoutingDataset:
    """``fit``'s inputs as a dataset: a RoutingDataset, or prompts plus an (n, m) score matrix."""
    if isinstance(X, RoutingDataset):
        return X
    prompts = check_prompts(X)
    if y is None:
        raise ValueError("fit(X, y): y (an n x m matrix of per-model scores) is required when X is a list of prompts")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"y must be 2-D (prompts x models), got shape {y.shape}")
    models = list(models) if models is not None else [f"model_{j}" for j in range(y.shape[1])]
    return RoutingDataset(name="fit", prompts=prompts, models=models, scores=y)


class Router(ABC):
    """Base class of every router. See the module docstring for the protocol.

    Example:
        >>> from graphroute.datasets import load_dataset
        >>> from graphroute.routers import RandomRouter
        >>> data = load_dataset("routellm-gsm8k")
        >>> r = RandomRouter(seed=0).fit(data)
        >>> r.route(["What is 2 + 2?"], threshold=0.5)  # doctest: +SKIP
        ['mistralai/Mixtral-8x7B-Instruct-v0.1']
    """

    name: ClassVar[str] = "router"
    #: True for routers that always give the same answer (one operating point, no curve).
    constant: ClassVar[bool] = False

    models_: list[str]
    weak_: str
    strong_: str
    #: The decision policy; set by :meth:`calibrate` (default: the strong model where it is
    #: predicted strictly better, for two models; the best predicted model for more).
    policy_: Any = None

    # ------------------------------------------------------------------ learning
    def fit(self, X: Any, y: Any = None, *, models: Sequence[str] | None = None) -> "Router":
        """Learn from a :class:`RoutingDataset` (or prompts ``X`` and scores ``y``)."""
        data = as_dataset(X, y, models)
        self.models_ = list(data.models)
        self.weak_, self.strong_ = data.weak, data.strong
        self._fit(data)
        return self

    def _fit(self, data: RoutingDataset) -> None:
        """Learn from ``data``; the default learns nothing."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    # ------------------------------------------------------------------ predicting
    @abstractmethod
    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        """(n, len(models_)) predicted quality of each model on each prompt."""

    def score(self, X: Sequence[str]) -> np.ndarray:
        """Need for the strong model per prompt (higher = route to strong)."""
        self._check_fitted()
        return self._gain(self.predict_quality(X))

    def _gain(self, q: np.ndarray) -> np.ndarray:
        """Strong minus weak column of a quality matrix."""
        return q[:, self.models_.index(self.strong_)] - q[:, self.models_.index(self.weak_)]

    def score_dataset(self, data: RoutingDataset) -> np.ndarray:
        """``score`` of a dataset's prompts (the oracle overrides this to read the rows' labels)."""
        if type(self).score is not Router.score:  # a router with its own score
            return self.score(data.prompts)
        self._check_fitted()
        return self._gain(self.quality_dataset(data))

    def quality_dataset(self, data: RoutingDataset) -> np.ndarray:
        """``predict_quality`` of a dataset's prompts (the oracle reads the rows' labels)."""
        return self.predict_quality(data.prompts)

    def route(self, X: Sequence[str] | str, threshold: float = 0.0) -> list[str]:
        """Pair decision: the strong model where ``score >= threshold``, else the weak one."""
        s = self.score(check_prompts(X))
        return [self.strong_ if v >= threshold else self.weak_ for v in s]

    def choose(self, X: Sequence[str] | str, costs: dict[str, float] | None = None, lam: float = 0.0) -> list[str]:
        """Any number of models: ``argmax(predicted quality - lam * cost)`` per prompt."""
        q = self.predict_quality(check_prompts(X))
        if costs:
            for m in costs:
                if m not in self.models_:
                    raise UnknownModelError(m, self.models_, "choose(costs=...)")
            q = q - lam * np.array([costs.get(m, 0.0) for m in self.models_])
        return [self.models_[j] for j in np.argmax(q, axis=1)]

    # ------------------------------------------------------------------ decisions
    def decide(self, X: Sequence[str] | str, *, max_cost: float | None = None) -> list[Decision]:
        """One :class:`Decision` per prompt under the router's policy (``policy_``).

        ``max_cost`` is a remaining budget in dollars: models expected to cost more are avoided.
        """
        self._check_fitted()
        prompts = check_prompts(X)
        q = self.predict_quality(prompts)
        # default: the strong model only where it is predicted strictly better
        policy = self.policy_ or (ThresholdPolicy(1e-9) if len(self.models_) == 2 else CostPolicy(0.0))
        gains = None
        if isinstance(policy, ThresholdPolicy):
            # routers that define their own score (random, always) route on it
            gains = self.score(prompts) if type(self).score is not Router.score else self._gain(q)
        out = []
        for i, row in enumerate(q):
            kw = {"gain": float(gains[i])} if gains is not None else {}
            model, reason = policy.choose(row, self.models_, self.weak_, self.strong_, max_cost, **kw)
            out.append(Decision(model=model, scores={m: float(v) for m, v in zip(self.models_, row)},
                                threshold=getattr(policy, "threshold", None), reason=reason, policy=policy.kind))
        return out

    async def adecide(self, X: Sequence[str] | str, *, max_cost: float | None = None) -> list[Decision]:
        """Async :meth:`decide` (runs in a worker thread so the event loop keeps going)."""
        import asyncio

        return await asyncio.to_thread(self.decide, X, max_cost=max_cost)

    def calibrate(self, data: RoutingDataset, **target: Any):
        """Set ``policy_`` for a target on held-out data; see :func:`graphroute.routers.calibration.calibrate`."""
        from graphroute.routers.calibration import calibrate

        self._check_fitted()
        return calibrate(self, data, **target)

    # ------------------------------------------------------------------ params
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind in kinds]

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters, as scikit-learn's ``get_params``."""
        return {k: getattr(self, k) for k in self._param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (override in learned routers)."""
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``_state`` returned."""

    def _save_files(self, folder: Path) -> None:
        """Write extra files (nested routers, fitted estimators) into the save folder."""

    def _load_files(self, folder: Path) -> None:
        """Read what ``_save_files`` wrote."""

    def _json_params(self) -> dict[str, Any]:
        params = self.get_params()
        try:
            json.dumps(params)
        except TypeError as exc:
            raise PersistenceError(f"{type(self).__name__} params are not JSON-serialisable: {exc}") from None
        return params

    def save(self, path: str | Path) -> Path:
        """Write ``router.json`` and ``state.npz`` to ``path`` (replaced atomically)."""
        self._check_fitted()
        path = Path(path)
        meta = {
            "format_version": FORMAT_VERSION,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "params": self._json_params(),
            "models": self.models_,
            "weak": self.weak_,
            "strong": self.strong_,
            "policy": policy_to_dict(self.policy_) if self.policy_ is not None else None,
        }

        def write(tmp: Path) -> None:
            (tmp / "router.json").write_text(json.dumps(meta, indent=2))
            np.savez(tmp / "state.npz", **self._state())
            self._save_files(tmp)

        write_folder(path, write)
        return path

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> "Router":
        """Load a router saved with :meth:`save`; ``overrides`` replace saved params."""
        path = Path(path)
        meta = read_json(path / "router.json", "router")
        if meta.get("format_version") != FORMAT_VERSION:
            raise PersistenceError(f"format_version {meta.get('format_version')!r}, this graphroute reads {FORMAT_VERSION}", path=path)
        module, _, qual = str(meta.get("class", "")).rpartition(".")
        try:
            klass = getattr(importlib.import_module(module), qual)
        except (ImportError, AttributeError, ValueError):
            raise PersistenceError(f"unknown router class {meta.get('class')!r}", path=path) from None
        if not (isinstance(klass, type) and issubclass(klass, Router)) or not issubclass(klass, cls):
            raise PersistenceError(f"{meta.get('class')!r} is not a {cls.__name__}", path=path)
        state = read_npz(path / "state.npz")
        router = klass(**{**meta["params"], **overrides})
        router.models_, router.weak_, router.strong_ = list(meta["models"]), meta["weak"], meta["strong"]
        try:
            router._set_state(state)
        except (KeyError, ValueError) as exc:  # saved by another version of the router's features
            raise PersistenceError(f"state.npz does not fit this graphroute's {klass.__name__}: {exc}", path=path) from None
        router._load_files(path)
        if meta.get("policy"):
            try:
                router.policy_ = policy_from_dict(meta["policy"])
            except (TypeError, ValueError) as exc:
                raise PersistenceError(f"router.json has an invalid policy: {exc}", path=path) from None
        return router
