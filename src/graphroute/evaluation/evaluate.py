"""Score a router's out-of-fold predictions: pair curves (both methods), costs, and for any number
of models the quality-cost points, Pareto frontier, AIQ and cost saving."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from graphroute.costs import CostModel
from graphroute.datasets import RoutingDataset
from graphroute.evaluation.cv import GroupBy, Predictions, cross_val_predict, train_test_predict
from graphroute.evaluation.many import many_models
from graphroute.metrics import Curve, aiq, cost_saving, optimal_curve, pareto_frontier, routellm_curve, summarize, tie_safe_curve
from graphroute.routers import OracleRouter, Router, make_router


@dataclass
class RouterResult:
    """Everything measured for one router on one dataset (see ``to_dict``)."""

    router: str
    dataset: str
    n: int
    weak: str
    strong: str
    weak_quality: float
    strong_quality: float
    predictions: Predictions
    constant: bool = False
    curves: dict[str, Curve] = field(default_factory=dict)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)
    fold_apgr: dict[str, list[float]] = field(default_factory=dict)
    point: dict[str, float] = field(default_factory=dict)  # constant routers: their one operating point
    cost: dict[str, Any] = field(default_factory=dict)  # reference costs, quality-cost points, AIQ, savings
    score_range: tuple[float, float] = (0.0, 1.0)  # the outcomes' scale (1-10 for MT-Bench judge scores)
    protocol: str = ""  # how it was evaluated ("5-fold CV grouped by prompt", "fold 1 of 5 held out", ...)
    many: dict[str, Any] = field(default_factory=dict)  # more than two models: graphroute.evaluation.many
    oracle: bool = False  # the oracle (reads the outcomes): an upper bound, not a router
    cost_note: str = ""  # how the dollars were obtained (recorded, priced, or estimated)

    def to_dict(self) -> dict[str, Any]:
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, np.generic):
                return clean(v.item())
            return v

        return clean({
            "router": self.router,
            "protocol": self.protocol,
            "dataset": self.dataset,
            "n": self.n,
            "weak_model": self.weak,
            "strong_model": self.strong,
            "weak_accuracy": self.weak_quality,
            "strong_accuracy": self.strong_quality,
            "score_range": list(self.score_range),
            "constant": self.constant,
            "point": self.point or None,
            **{m: {**self.summary[m], "fold_apgr": self.fold_apgr.get(m, []), "curve": self.curves[m].to_dict()}
               for m in self.summary},
            "cost": self.cost,
            "many_models": self.many or None,
            "cost_note": self.cost_note or None,
        })


def _pair_curves(scores, yw, ys, cw, cs, oracle: bool) -> dict[str, Curve]:
    curves = {"tie_safe": tie_safe_curve(scores, yw, ys, cost_weak=cw, cost_strong=cs)}
    if oracle:  # RouteLLM scores the oracle with get_optimal_accuracy, not a threshold sweep
        curves["routellm"] = optimal_curve(yw, ys, cost_weak=cw, cost_strong=cs)
    else:
        curves["routellm"] = routellm_curve(scores, yw, ys, cost_weak=cw, cost_strong=cs)
    return curves


def lambda_sweep(quality: np.ndarray, scores: np.ndarray, costs: np.ndarray, n_lambdas: int = 81) -> tuple[np.ndarray, np.ndarray]:
    """(total cost, mean quality) of ``argmax(predicted quality - lam * expected cost)`` over a lam grid."""
    expected = costs.mean(axis=0)
    dq = float(np.ptp(quality)) or 1.0
    dc = float(np.ptp(expected)) or 1.0
    lams = np.r_[0.0, dq / dc * np.logspace(-4, 4, n_lambdas - 2), np.inf]
    rows = np.arange(len(scores))
    pts_c, pts_q = [], []
    for lam in lams:
        util = -expected[None, :] * np.ones_like(quality) if math.isinf(lam) else quality - lam * expected[None, :]
        choice = np.argmax(util, axis=1)
        pts_c.append(costs[rows, choice].sum())
        pts_q.append(scores[rows, choice].mean())
    return np.asarray(pts_c), np.asarray(pts_q)


def _cost_block(res: RouterResult, data: RoutingDataset, costs: np.ndarray, quality_target: float,
                escalates: bool = False) -> dict[str, Any]:
    n = len(data)
    totals = costs.sum(axis=0)
    means = data.scores.mean(axis=0)
    best = int(np.argmax(means))
    if res.constant:
        pc, pq = np.array([res.point["cost_total"]]), np.array([res.point["quality"]])
    elif res.predictions.quality is not None and len(data.models) > 2 and not escalates:
        pc, pq = lambda_sweep(res.predictions.quality, data.scores, costs)
    else:
        c = res.curves["tie_safe"]
        assert c.cost is not None  # the tie-safe curve always has its costs
        pc, pq = c.cost, c.quality
    frontier = pareto_frontier(pc, pq)
    lo, hi = float(totals.min()), float(totals.max())
    target = quality_target * float(means[best])
    return {
        "model_total": {m: float(t) for m, t in zip(data.models, totals)},
        "model_per_query": {m: float(t) / n for m, t in zip(data.models, totals)},
        "weak_total": float(totals[data.index(res.weak)]),
        "strong_total": float(totals[data.index(res.strong)]),
        "aiq": aiq(pc, pq, (lo, hi)) if not res.constant else math.nan,
        "quality_target": target,
        "quality_target_share": quality_target,
        "best_model": data.models[best],
        "cost_saving_at_target": cost_saving(pc, pq, target, float(totals[best])),
        "pareto": {"cost_per_query": [float(pc[i]) / n for i in frontier], "quality": [float(pq[i]) for i in frontier]},
    }


def evaluate_predictions(name: str, data: RoutingDataset, preds: Predictions, *, costs: np.ndarray | None,
                         constant: bool = False, oracle: bool = False, quality_target: float = 0.95,
                         escalates: bool = False) -> RouterResult:
    """Compute every metric from a router's out-of-fold predictions on ``data``.

    ``escalates``: the router is a cascade, so a query sent to the strong model has also paid
    for the weak model's answer (strong cost = weak + strong).
    """
    w, s = data.pair()
    yw, ys = data.scores[:, w], data.scores[:, s]
    cw, cs = (costs[:, w], costs[:, s]) if costs is not None else (None, None)
    if cs is not None and escalates:
        cs = cs + cw
    res = RouterResult(name, data.name, len(data), data.weak, data.strong, float(yw.mean()), float(ys.mean()),
                       preds, constant=constant, score_range=(float(data.score_range[0]), float(data.score_range[1])), oracle=oracle)
    if constant:
        sel = preds.scores > 0
        res.point = {"strong_pct": float(sel.mean() * 100), "quality": float(np.where(sel, ys, yw).mean())}
        if costs is not None:
            choice = np.argmax(preds.quality, axis=1) if preds.quality is not None else np.where(sel, s, w)
            total = float(costs[np.arange(len(data)), choice].sum())
            res.point.update({"quality": float(data.scores[np.arange(len(data)), choice].mean()),
                              "cost_total": total, "cost_per_query": total / len(data)})
    else:
        res.curves = _pair_curves(preds.scores, yw, ys, cw, cs, oracle)
        res.summary = {m: summarize(c, res.weak_quality, res.strong_quality, len(data)) for m, c in res.curves.items()}
        for method in res.curves:
            res.fold_apgr[method] = []
            for f in np.unique(preds.folds):
                m = preds.folds == f
                if len(np.unique(preds.folds)) < 2:
                    break
                sub = _pair_curves(preds.scores[m], yw[m], ys[m], None, None, oracle)[method]
                res.fold_apgr[method].append(summarize(sub, yw[m].mean(), ys[m].mean(), int(m.sum()))["apgr"])
    if costs is not None:
        res.cost = _cost_block(res, data, costs, quality_target, escalates)
    if len(data.models) > 2 and preds.quality is not None and not escalates:
        res.many = many_models(data.models, data.scores, costs, preds.quality, data.groups)
    res.cost_note = str(data.meta.get("cost_estimate") or "")
    return res


def _label(spec: Any) -> str:
    """How a router is named in tables: its spec string, or the repr of a router object."""
    if isinstance(spec, str):
        return spec.strip()
    if isinstance(spec, dict):
        return ",".join(f"{k}={v}" for k, v in spec.items())
    return repr(spec)


def _factory(spec: Any) -> Callable[[], Router]:
    """A function that makes a fresh, unfitted router for each fold."""
    if isinstance(spec, Router):
        return spec.clone
    make_router(spec)  # a bad spec fails now, before any fold
    return lambda: make_router(spec)


def evaluate(
    routers: Sequence[Any],
    data: RoutingDataset,
    *,
    cv: int = 5,
    test: RoutingDataset | None = None,
    group_by: GroupBy = "prompt",
    seed: int = 0,
    cost_model: CostModel | None = None,
    quality_target: float = 0.95,
    slow_folds: int | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[RouterResult]:
    """Evaluate routers: K-fold CV on ``data``, or fit on ``data`` and test on ``test``.

    Args:
        routers: specs (``"knn"``, ``"knn:k=400,temperature=0.2"``, a mapping) or unfitted ``Router``
            objects (cloned for every fold).
        data: the recorded outcomes to cross-validate on (or to fit on, with ``test``).
        cv: the number of folds.
        test: a separate test set; the routers are fitted once on ``data``.
        group_by: ``"prompt"``, or ``"group"`` to keep each group (a task, a subject) in one fold.
        seed: the fold split's seed.
        cost_model: prices for the dollar metrics (default: the built-in price list).
        quality_target: the share of the strong model's quality the cost block reports the price of.
        slow_folds: routers marked slow to fit (``Router.slow``, e.g. ``classifier``) are evaluated
            on only that many folds of the same split, and their result says so (``RouterResult.protocol``).
        on_step: called with a label after each fit (a progress bar).

    Returns:
        One ``RouterResult`` per router: APGR, CPT, the quality-cost curves, dollars and the protocol.

    Examples:
        >>> from graphroute.datasets import load_dataset
        >>> from graphroute.evaluation import evaluate
        >>> [r] = evaluate(["oracle"], load_dataset("routellm-gsm8k"))
        >>> round(r.summary["routellm"]["apgr"], 3), r.protocol
        (1.131, '5-fold CV grouped by prompt')
    """
    # a test set is scored for the pair the router was trained to route, not the test set's own
    target = dataclasses.replace(test.select_models(data.models), weak_model=data.weak, strong_model=data.strong) \
        if test is not None else data
    costs = (cost_model or CostModel.default()).dataset_costs(target)
    makers = [(_label(spec), _factory(spec)) for spec in routers]
    results = []
    for name, make in makers:
        proto = make()
        want_q = len(data.models) > 2 or proto.constant
        step = (lambda name=name: on_step(name)) if on_step else None
        rows, data_eval, costs_eval = None, target, costs
        if test is not None:
            preds = train_test_predict(make, data, target, want_quality=want_q)
            protocol = f"trained on {data.name}, tested on {test.name}"
            if step:
                step()
        else:
            few = slow_folds if proto.slow and slow_folds and slow_folds < cv else None
            preds = cross_val_predict(make, data, cv, group_by=group_by, seed=seed, want_quality=want_q,
                                      on_fold=step, max_folds=few)
            protocol = (f"{'fold 1' if few == 1 else f'folds 1-{few}'} of {cv} held out, grouped by {group_by}" if few
                        else f"{cv}-fold CV grouped by {group_by}")
            if few:
                rows = np.flatnonzero(preds.folds >= 0)
                data_eval, costs_eval = data.subset(rows), costs[rows] if costs is not None else None
                preds = Predictions(preds.scores[rows], preds.quality[rows] if preds.quality is not None else None,
                                    preds.folds[rows])
        res = evaluate_predictions(name, data_eval, preds, costs=costs_eval, constant=proto.constant,
                                   oracle=isinstance(proto, OracleRouter), quality_target=quality_target,
                                   escalates=proto.escalates)
        res.protocol = protocol
        results.append(res)
    return results
