"""Conformance checks every router and strategy passes, scikit-learn's ``check_estimator`` style.

``check_router`` fits a router on a small dataset and checks the protocol every graphroute
component relies on: ``__init__`` only stores its parameters; ``get_params``/``clone`` give an
equal, unfitted copy; an unfitted router raises ``NotFittedError``;
``fit`` returns the router; ``predict_quality`` has one finite column per model, in ``models_``
order; ``decide`` gives one decision per prompt among ``models_``; ``save``/``load`` give identical
decisions; a second fit on the same data predicts the same. ``check_strategy`` checks a runtime
strategy (no fitting): valid decisions, and ``clone``/``get_params`` round trips.

The project's test suite runs them over every registered router and strategy
(``tests/test_conformance.py``), so a new router is one file and its docs entry. Run them on
your own routers the same way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import NotFittedError
from graphroute.routers.base import Router, make_router

__all__ = ["check_router", "check_strategy"]


def _fail(label: str, what: str) -> None:
    raise AssertionError(f"{label}: {what}")


def _check_init_stores_params(router: Router, label: str) -> None:
    params = router.get_params()
    stored = {k for k in vars(router) if not k.startswith("__")}
    extra = sorted(stored - set(params))
    if extra:
        _fail(label, f"__init__ sets {extra}, which are not constructor parameters (fitted or runtime state "
                     "belongs in fit or is created lazily)")
    again = type(router)(**params)
    if again.get_params() != params:
        _fail(label, "a router built from get_params() has other parameters")


def _check_clone(router: Router, label: str) -> None:
    from sklearn.base import clone as sk_clone

    for copy in (router.clone(), sk_clone(router)):
        if type(copy) is not type(router) or copy.get_params() != router.get_params():
            _fail(label, "clone() does not give a router of the same class and parameters")
        if hasattr(copy, "models_"):
            _fail(label, "clone() of a fitted router is fitted (it must be a fresh, unfitted router)")


def _check_decisions(router: Router, prompts: Sequence[str], label: str) -> list[Any]:
    decisions = router.decide(list(prompts))
    if len(decisions) != len(prompts):
        _fail(label, f"decide gave {len(decisions)} decisions for {len(prompts)} prompts")
    for d in decisions:
        if d.model not in router.models_:
            _fail(label, f"decided {d.model!r}, which is not among models_ {router.models_}")
    return decisions


def check_router(spec: Any, data: RoutingDataset, *, folder: str | Path | None = None) -> str:
    """Run the conformance checks on router ``spec`` (a spec or an unfitted router) with ``data``.

    Args:
        spec: a registered name, ``"name:param=value"`` or an unfitted ``Router``.
        data: the records to fit on (a few dozen prompts are enough); the first 20 prompts are asked.
        folder: where the save/load check writes (default: a temporary folder, removed after).

    Returns:
        A one-line summary (``"<label>: N checks passed"``).

    Raises:
        AssertionError: naming the router and the check that failed.
    """
    router = make_router(spec)
    label = spec if isinstance(spec, str) else type(spec).__name__
    _check_init_stores_params(router, label)
    if router.escalates:  # a cascade scores the answers of a dataset with responses, not prompts
        return _check_escalating(router, spec, data, label)
    prompts = data.prompts[:20]
    try:
        router.predict_quality(prompts)
        _fail(label, "an unfitted router predicted instead of raising NotFittedError")
    except NotFittedError:
        pass
    if router.fit(data) is not router:
        _fail(label, "fit() does not return the router")
    if not set(router.models_) <= set(data.models):
        _fail(label, f"models_ {router.models_} are not the data's models {data.models}")
    q = router.predict_quality(prompts)
    if q.shape != (len(prompts), len(router.models_)) or not np.isfinite(q).all():
        _fail(label, f"predict_quality gave shape {q.shape} (expected {(len(prompts), len(router.models_))}) "
                     "or non-finite values")
    if len(router.models_) == 2 and router.score(prompts).shape != (len(prompts),):
        _fail(label, "score() does not give one value per prompt")
    decisions = _check_decisions(router, prompts, label)
    _check_clone(router, label)
    again = make_router(spec).fit(data).predict_quality(prompts)
    if not np.allclose(again, q, atol=1e-6):
        _fail(label, "two fits on the same data predict differently (seed the randomness)")
    with tempfile.TemporaryDirectory() as tmp:
        loaded = Router.load(router.save(Path(folder or tmp) / "router"))
        if type(loaded) is not type(router) or loaded.get_params() != router.get_params() or \
                loaded.models_ != router.models_:
            _fail(label, "a loaded router has another class, parameters or models")
        if [d.model for d in loaded.decide(prompts)] != [d.model for d in decisions] or \
                not np.allclose(loaded.predict_quality(prompts), q, atol=1e-6):
            _fail(label, "a saved and loaded router decides differently")
    return f"{label}: 9 checks passed"


def _check_escalating(router: Router, spec: Any, data: RoutingDataset, label: str) -> str:
    """A router that reads recorded answers (a cascade): scores and qualities per row of ``data``."""
    if not data.responses:
        _fail(label, f"escalating routers are checked on a dataset with recorded responses; {data.name!r} has none")
    if router.fit(data) is not router:
        _fail(label, "fit() does not return the router")
    q, s = router.quality_dataset(data), router.score_dataset(data)
    if q.shape != (len(data), len(router.models_)) or s.shape != (len(data),) or not np.isfinite(s).all():
        _fail(label, f"quality_dataset/score_dataset gave shapes {q.shape}/{s.shape} or non-finite scores")
    _check_clone(router, label)
    if not np.allclose(make_router(spec).fit(data).score_dataset(data), s, atol=1e-6):
        _fail(label, "two fits on the same data score differently (seed the randomness)")
    return f"{label}: 5 checks passed"


def check_strategy(strategy: Router, prompts: Sequence[str], context: dict[str, Any] | None = None) -> str:
    """Conformance of a runtime strategy (a ``StrategyRouter``): its
    decisions are among its models, one per prompt, with and without request ``context``; its
    parameters round-trip through ``get_params`` and ``clone``.

    Returns:
        A one-line summary. Raises AssertionError naming the check that failed.
    """
    label = type(strategy).__name__
    _check_decisions(strategy, prompts, label)
    for d in strategy.decide(list(prompts), context=dict(context or {})):  # type: ignore[call-arg]
        if d.model not in strategy.models_:
            _fail(label, f"decided {d.model!r} with a context, which is not among models_ {strategy.models_}")
    params = strategy.get_params()
    copy = strategy.clone()
    if type(copy) is not type(strategy) or copy.get_params().keys() != params.keys():
        _fail(label, "clone() does not give a strategy of the same class and parameters")
    _check_decisions(copy, prompts, label)
    return f"{label}: 3 checks passed"
