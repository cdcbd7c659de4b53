"""The router protocol, scikit-learn style. A router is fitted on recorded outcomes and then, for each
prompt, predicts every model's quality (``predict_quality``); ``score`` (the need for the strong model
of the pair: RouteLLM's strong win rate), ``route`` (the pair decision at a threshold), ``choose``
(``argmax(quality - lam * cost)``) and ``decide`` (one ``Decision`` per prompt under the router's
policy) derive from it. A router is one class with ``predict_quality`` (and ``_fit`` if it learns) plus
one registry line (``@ROUTERS.register("name")``); hyper-parameters are constructor parameters
(``get_params``/``set_params``/``clone``), so ``make_router("knn:k=400")``, the command line and YAML
configure it; ``save``/``load`` keep parameters and learned state in one folder (``graphroute.persist``).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from graphroute.datasets.base import RoutingDataset, as_dataset
from graphroute.errors import ConfigError, DatasetError, NotFittedError, PersistenceError, UnknownModelError
from graphroute.persist import META, Saved, loading, read_folder, save_folder
from graphroute.prompts import check_prompts
from graphroute.routers.batched_decisions import batcher_for
from graphroute.routers.names import ROUTERS, make_router, router_names  # noqa: F401 (re-exported)
from graphroute.routers.calibration import calibrate, data_costs, expected_costs
from graphroute.routers.policy import CostPolicy, Policy, ThresholdPolicy, policy_from_dict, policy_to_dict, unfamiliar_choice
from graphroute.types import Calibration, Decision

KIND = "router"


class Router(ABC):
    """Base class of every router. See the module docstring for the protocol.

    Examples:
        >>> from graphroute.datasets import load_dataset
        >>> from graphroute.routers import RandomRouter
        >>> r = RandomRouter(seed=0).fit(load_dataset("routellm-gsm8k"))
        >>> d = r.decide(["What is 2 + 2?"])[0]
        >>> d.model in r.models_, d.familiarity is None
        (True, True)
    """

    #: True for routers that always give the same answer (one operating point, no curve).
    constant: ClassVar[bool] = False
    #: True for routers whose strong-model queries also paid for the weak model (cascades).
    escalates: ClassVar[bool] = False
    #: True for routers slow to fit (``graphroute eval`` evaluates them on one held-out fold by default).
    slow: ClassVar[bool] = False

    models_: list[str]
    weak_: str
    strong_: str
    #: The decision policy; set by ``calibrate`` or ``set_policy`` (default: the strong
    #: model where it is predicted strictly better, for two models; the best predicted model for more).
    policy_: Policy | None = None
    #: What the latest ``calibrate`` chose and did on its data (not saved; the policy is).
    calibration_: Calibration | None = None
    #: Whether ``fit`` accepts partial labels (NaN outcomes, e.g. logged feedback).
    learns_partial: bool = False

    @property
    def name(self) -> str:
        """The registered name of this kind of router (``knn``, ``logistic``, ``classifier``, ...)."""
        return ROUTERS.name_of(self)

    # ------------------------------------------------------------------ learning
    def fit(self, X: Any, y: Any = None, *, models: Sequence[str] | None = None) -> "Router":
        """Learn from a ``RoutingDataset`` (or prompts ``X`` and scores ``y``)."""
        data = as_dataset(X, y, models)
        if not self.learns_partial and np.isnan(data.scores).any():
            raise DatasetError(f"{self.name} needs every model's outcome for every prompt, and {data.name!r} has unknown "
                               "ones (logged feedback): fit 'logistic' or 'ridge' on it", path=data.source)
        self.models_ = list(data.models)
        self.weak_, self.strong_ = data.weak, data.strong
        # recorded (or estimated by the loader), else priced: decisions at a price use them
        self.costs_ = expected_costs(data, data_costs(data))
        self._fit(data)
        return self

    def _fit(self, data: RoutingDataset) -> None:
        """Learn from ``data``; the default learns nothing."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    def for_pair(self, weak: str, strong: str, *, costs: dict[str, float] | None = None) -> "Router":
        """This two-model router routing another (weak, strong) pair on the same scores, as RouteLLM's
        routers are used: sound for routers fitted on ``RoutingDataset.roles`` of several pairs
        (what needs a stronger model), a guess for one fitted on a single named pair.
        ``costs``: the new pair's dollars per call (the old pair's are dropped).

        Examples:
            >>> from graphroute.datasets import load_dataset
            >>> r = make_router("wins").fit(load_dataset("routellm-gsm8k").roles()).for_pair("gpt-4o-mini", "gpt-4o")
            >>> r.models_
            ['gpt-4o-mini', 'gpt-4o']
        """
        self._check_fitted()
        if len(self.models_) != 2:
            raise ConfigError(f"for_pair needs a router of two models; this one routes {len(self.models_)}",
                              field="for_pair")
        if weak == strong:
            raise ConfigError(f"for_pair needs two different models, got {weak!r} twice", field="for_pair")
        new = copy.copy(self)
        rename = {self.weak_: weak, self.strong_: strong}
        new.models_ = [rename[m] for m in self.models_]
        new.weak_, new.strong_ = weak, strong
        new.costs_ = dict(costs) if costs else None
        if self.policy_ is not None:
            u = self.policy_.unfamiliar
            new.policy_ = dataclasses.replace(self.policy_, costs=new.costs_, unfamiliar=rename.get(u, u) if u else u)
        return new

    def add_model(self, name: str, data: RoutingDataset, *, column: str | None = None, cost: float | None = None,
                  replace: bool = False) -> "Router":
        """Place a new model among the fitted ones from a few of its outcomes, without refitting;
        routers that learn across models (``mf``: ``FactorRouter``) can."""
        raise ConfigError(f"the {self.name} router cannot add a model without refitting: fit it again with "
                          f"{name!r}'s outcomes, or use the 'mf' router, which places a new model from a few probes",
                          field="add_model")

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
        """``score`` of a dataset's prompts (the oracle and cascades read the rows themselves)."""
        if type(self).score is not Router.score:  # a router with its own score
            return self.score(data.prompts)
        self._check_fitted()
        return self._gain(self.quality_dataset(data))

    def quality_dataset(self, data: RoutingDataset) -> np.ndarray:
        """``predict_quality`` of a dataset's prompts (the oracle reads the rows' labels)."""
        return self.predict_quality(data.prompts)

    def familiarity(self, X: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """``(familiarity, nearest similarity)`` per prompt for routers that embed prompts, else None."""
        return None

    def _predict_for_decisions(self, prompts: list[str]):
        """Quality and familiarity of ``prompts`` (embedding routers embed once for both)."""
        return self.predict_quality(prompts), self.familiarity(prompts)

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
    def default_policy(self) -> Policy:
        """The strong model only where it is predicted strictly better (two models), else the best;
        either knows each model's expected dollars from the training data (``costs_``), so a
        per-call ``max_cost`` is honoured without setting a policy by hand."""
        costs = getattr(self, "costs_", None)
        return ThresholdPolicy(threshold=1e-9, costs=costs) if len(self.models_) == 2 else CostPolicy(costs=costs)

    def set_policy(self, policy: Policy | None = None, **changes: Any) -> "Router":
        """Replace the policy, or change fields of the current one.

        Args:
            policy: a new policy (``ThresholdPolicy``, ``CostPolicy``, ...); None keeps the current one.
            **changes: fields to change, e.g. ``unfamiliar="strong"``, ``explore=0.1``, ``min_familiarity=0.1``.

        Returns:
            The router itself (an ``unfamiliar`` model it does not route to raises ``UnknownModelError``).
        """
        self._check_fitted()
        base = policy or self.policy_ or self.default_policy()
        self.policy_ = dataclasses.replace(base, **changes)
        self.policy_.target_for_unfamiliar(self.models_, self.weak_, self.strong_)  # fails on an unknown model
        return self

    def decide(self, X: Sequence[str] | str, *, max_cost: float | None = None) -> list[Decision]:
        """One ``Decision`` per prompt under the router's policy (``policy_``).

        Args:
            X: a prompt or a sequence of prompts.
            max_cost: a remaining budget in dollars: models expected to cost more are avoided.

        Returns:
            One ``Decision`` per prompt: the model, predicted qualities, reason, familiarity, probability.

        Raises:
            NotFittedError: the router is not fitted.
            PromptError: a prompt is empty or not text.
        """
        self._check_fitted()
        prompts = check_prompts(X)
        if not prompts:
            return []
        q, fam = self._predict_for_decisions(prompts)
        policy = self.policy_ or self.default_policy()
        gains = None
        if isinstance(policy, ThresholdPolicy):  # routers with their own score (random, always) route on it
            gains = self.score(prompts) if type(self).score is not Router.score else self._gain(q)
        fallback = policy.target_for_unfamiliar(self.models_, self.weak_, self.strong_)
        out = []
        for i, row in enumerate(q):
            model, reason = policy.choose(row, self.models_, self.weak_, self.strong_, max_cost,
                                          gain=None if gains is None else float(gains[i]))
            f, near = (None, None) if fam is None else (float(fam[0][i]), float(fam[1][i]))
            strange = f is not None and f < policy.min_familiarity
            if strange and f is not None:
                model, reason = unfamiliar_choice(policy, f, model, reason, fallback, max_cost)
            chances = policy.chances(model, self.models_, max_cost)
            model, prob, explored = policy.explored(model, self.models_, self._explore_rng(), max_cost)
            if explored:
                reason = f"exploring (epsilon {policy.explore:g}): {model} instead of the policy's choice; {reason}"
            out.append(Decision(model=model, scores={m: float(v) for m, v in zip(self.models_, row)},
                                threshold=getattr(policy, "threshold", None), reason=reason, policy=policy.kind,
                                familiarity=f, nearest_similarity=near, unfamiliar=strange, probability=prob,
                                probabilities=chances))
        return out

    def _explore_rng(self) -> np.random.Generator:
        if getattr(self, "_rng", None) is None:
            self._rng = np.random.default_rng(getattr(self, "seed", None))
        return self._rng

    async def adecide(self, X: Sequence[str] | str, *, max_cost: float | None = None) -> list[Decision]:
        """Async ``decide``, off the event loop; one-prompt calls made concurrently share one ``decide``
        (``graphroute.routers.batched_decisions``: one encoder forward, the same decisions)."""
        prompts = check_prompts(X)
        if len(prompts) == 1:
            return [await batcher_for(self).adecide(prompts[0], max_cost)]
        return await asyncio.to_thread(self.decide, prompts, max_cost=max_cost)

    def calibrate(self, data: RoutingDataset, **target: Any) -> Calibration:
        """Set ``policy_`` for one target on held-out data.

        Args:
            data: held-out prompts with every routed model's outcomes (and costs, for a dollar target).
            **target: exactly one of ``strong_share``, ``quality``, ``best_share``, ``budget`` or
                ``cost_per_query``; ``rule="tolerance"`` among more than two models.

        Returns:
            The ``Calibration`` (also kept as ``calibration_``), with its explanation in words.
        """
        self._check_fitted()
        self.calibration_ = calibrate(self, data, **target)
        return self.calibration_

    # ------------------------------------------------------------------ params
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind in kinds]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters, as scikit-learn's ``get_params``."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params: Any) -> "Router":
        """Change constructor parameters (unfitted state is what they configure; refit after)."""
        names = self._param_names()
        for k, v in params.items():
            if k not in names:
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}; its parameters: {', '.join(names)}")
            setattr(self, k, v)
        return self

    def clone(self) -> "Router":
        """A new, unfitted router with the same parameters (``sklearn.base.clone`` works too): values are
        copied, unfitted routers among them cloned; fitted ones (a strategy's learned router) and live
        resources that cannot be copied (a shared latency tracker) are shared."""
        return type(self)(**{k: _cloned(v) for k, v in self.get_params().items()})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (override in learned routers)."""
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``_state`` returned."""

    def _estimators(self) -> dict[str, Any]:
        """Fitted scikit-learn estimators to save with skops (name -> estimator)."""
        return {}

    def _save_files(self, folder: Path) -> None:
        """Write nested objects (an ensemble's members) into the save folder."""

    def _load(self, saved: Saved) -> None:
        """Restore the learned state from a saved folder (default: the arrays of ``_state``)."""
        self._set_state(saved.arrays())

    def _saved_params(self) -> dict[str, Any]:
        return self.get_params()

    def _encoder_id(self) -> str | None:
        return None

    def save(self, path: str | Path) -> Path:
        """Write the router to folder ``path`` (replaced atomically; see ``graphroute.persist``)."""
        self._check_fitted()
        meta = {"class": f"{type(self).__module__}.{type(self).__qualname__}", "params": self._saved_params(),
                "models": self.models_, "weak": self.weak_, "strong": self.strong_, "costs": getattr(self, "costs_", None),
                "policy": policy_to_dict(self.policy_) if self.policy_ is not None else None}
        return save_folder(path, KIND, meta, arrays=self._state(), estimators=self._estimators(),
                           encoder_id=self._encoder_id(), write=self._save_files)

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> "Router":
        """Load a router saved with ``save``; ``overrides`` replace saved params (e.g. ``encoder=``)."""
        saved = read_folder(path, KIND)
        meta = saved.meta
        klass = router_class(str(meta.get("class", "")), path)
        if not issubclass(klass, cls):
            raise PersistenceError(f"{META}: class {meta.get('class')!r} is not a {cls.__name__}", path=path)
        with loading(path):
            router = klass(**{**meta["params"], **overrides})
            router.models_, router.weak_, router.strong_ = list(meta["models"]), meta["weak"], meta["strong"]
            router.costs_ = meta.get("costs")
            try:
                router._load(saved)
            except (KeyError, ValueError, IndexError) as exc:  # saved by another version of the router
                raise PersistenceError(f"the saved state does not fit this graphroute's {klass.__name__}: {exc}",
                                       path=path) from None
        if meta.get("policy"):
            try:
                router.policy_ = policy_from_dict(meta["policy"])
            except (TypeError, ValueError) as exc:
                raise PersistenceError(f"graphroute.json has an invalid policy: {exc}", path=path) from None
        return router


def _cloned(value: Any) -> Any:
    if isinstance(value, Router):  # a fitted one is a prefit component (a strategy's learned router): kept
        return value if hasattr(value, "models_") else value.clone()
    try:
        return copy.deepcopy(value)
    except TypeError:  # a lock, a connection: a shared resource, not a parameter value
        return value


#: router classes whose module was renamed (1.1: files are named after what they register): folders saved
#: before the move name the old path
MOVED = {"graphroute.routers.stacked.StackedRouter": "graphroute.routers.classifier.StackedRouter",
         "graphroute.routers.escalation.CascadeRouter": "graphroute.routers.cascade_router.CascadeRouter"}


def router_class(name: str, path: Any = None) -> type[Router]:
    """The router class a saved ``graphroute.json`` names, looked up among the ``Router``
    classes this process already defines (graphroute's own and any you imported); nothing is
    imported, so a folder naming a module cannot run it.

    Examples:
        >>> from graphroute.routers import router_class
        >>> router_class("graphroute.routers.knn.KNNRouter").__name__
        'KNNRouter'
        >>> router_class("os.system")
        Traceback (most recent call last):
        ...
        graphroute.errors.PersistenceError: graphroute.json: class 'os.system' is not a router class this process defines (a router of your own: import its module before loading)
    """
    name = MOVED.get(name, name)
    known: dict[str, type] = {}
    stack: list[type] = [Router]
    while stack:
        c = stack.pop()
        known[f"{c.__module__}.{c.__qualname__}"] = c
        stack.extend(c.__subclasses__())
    if name not in known:
        raise PersistenceError(f"{META}: class {name!r} is not a router class this process defines (a router of your "
                               f"own: import its module before loading)", path=path)
    return known[name]
