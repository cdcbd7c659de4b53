"""Learning curves: how a router's APGR grows with the number of labelled training prompts.

The question a user asks before paying for more labelled outcomes: "would twice the data help?"
For each training share, every fold of the same grouped K-fold split as ``graphroute eval`` trains
on that share of its training prompts (identical prompts drawn together, or whole subjects; nested:
the 25 % rows are inside the 50 % rows) and predicts its whole test fold, so every point scores the
same test rows. The curve's slope is also given per doubling of the training rows (least squares on
log2 of the rows): an extrapolation, not a measurement, and it says so wherever it is printed (on
MMLU's unseen subjects it overshot: README, "Where `classifier` stands against its targets").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.evaluation.cv import GroupBy, _predict, cv_splits
from graphroute.metrics import routellm_curve, summarize, tie_safe_curve
from graphroute.routers.base import Router

DEFAULT_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


@dataclass
class LearningPoint:
    """One training share: figures on all test rows (first repeat), APGR of every repeat."""

    fraction: float
    train_rows: float  # mean over folds (and draws)
    apgr: float  # RouteLLM curve, mean over repeats
    apgr_tie_safe: float
    cpt50: float
    cpt80: float
    repeat_apgr: list[float] = field(default_factory=list)
    train_units: float = 0.0  # mean over folds of the prompts (or groups, with draw_by="group") drawn


@dataclass
class LearningCurve:
    """A router's learning curve on one dataset.

    Examples:
        >>> from graphroute.datasets import load_dataset
        >>> from graphroute.evaluation import learning_curve
        >>> from graphroute.routers import make_router
        >>> lc = learning_curve(lambda: make_router("random"), load_dataset("routellm-gsm8k"), (0.5, 1.0), k=2)
        >>> [p.fraction for p in lc.points], lc.points[0].train_rows < lc.points[1].train_rows
        ([0.5, 1.0], True)
    """

    router: str
    dataset: str
    k: int
    group_by: str
    seed: int
    points: list[LearningPoint]
    draw_by: str = "prompt"

    def slope_per_doubling(self) -> float:
        """APGR gained per doubling of the training rows (least squares; nan with < 2 points)."""
        if len(self.points) < 2:
            return math.nan
        x = np.log2([p.train_rows for p in self.points])
        y = np.array([p.apgr for p in self.points])
        return float(np.polyfit(x, y, 1)[0])

    def rows_for(self, target_apgr: float) -> float:
        """Training rows at which the log-linear fit reaches ``target_apgr`` (inf if it never does).

        An extrapolation: curves flatten, so read it as a lower bound on the data needed, not a promise.
        """
        last = self.points[-1]
        if last.apgr >= target_apgr:
            return float(last.train_rows)
        slope = self.slope_per_doubling()
        if not slope > 0:
            return math.inf
        return float(last.train_rows * 2 ** ((target_apgr - last.apgr) / slope))

    def to_dict(self) -> dict[str, Any]:
        def clean(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {"router": self.router, "dataset": self.dataset, "k": self.k, "group_by": self.group_by,
                "seed": self.seed, "draw_by": self.draw_by, "apgr_per_doubling": clean(self.slope_per_doubling()),
                "points": [{"fraction": p.fraction, "train_rows": p.train_rows, "train_units": p.train_units,
                            "apgr": clean(p.apgr), "apgr_tie_safe": clean(p.apgr_tie_safe), "cpt50": clean(p.cpt50),
                            "cpt80": clean(p.cpt80), "repeat_apgr": [clean(a) for a in p.repeat_apgr]}
                           for p in self.points]}


def check_fractions(fractions: Sequence[float]) -> list[float]:
    """Sorted, unique training shares in (0, 1]; ValueError naming the bad one."""
    out = sorted({float(f) for f in fractions})
    if not out:
        raise ValueError("learning curve: give at least one training share")
    for f in out:
        if not 0.0 < f <= 1.0:
            raise ValueError(f"learning curve: training share {f:g} is not in (0, 1]")
    return out


def _nested_subsets(groups: np.ndarray, fractions: list[float], rng: np.random.Generator) -> list[np.ndarray]:
    """Row positions for each share: one shuffle of the groups, a growing prefix of it per share."""
    uniq, inverse = np.unique(groups, return_inverse=True)
    order = rng.permutation(len(uniq))
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    out = []
    for f in fractions:
        take = max(1, int(round(f * len(uniq))))
        out.append(np.flatnonzero(rank[inverse] < take))
    return out


def learning_curve(make: Callable[[], Router], data: RoutingDataset,
                   fractions: Sequence[float] = DEFAULT_FRACTIONS, *, k: int = 5, group_by: GroupBy = "prompt",
                   seed: int = 0, repeats: int = 1, draw_by: GroupBy = "prompt", name: str | None = None,
                   on_fit: Callable[[], None] | None = None) -> LearningCurve:
    """Fit ``make()`` on growing shares of each fold's training prompts; score the held-out folds.

    ``draw_by="group"`` draws whole dataset groups (MMLU subjects) instead of prompts: with
    ``group_by="group"`` that is APGR on unseen subjects against the number of subjects trained on.

    ``repeats`` draws that many subsets per share below 1.0 (the full share is drawn once): the
    spread of ``repeat_apgr`` is the noise of the subsampling. Fits ``k × (shares below 1 × repeats
    + 1)`` routers (or ``k × shares × repeats`` when 1.0 is not among the shares).
    """
    fractions = check_fractions(fractions)
    if repeats < 1:
        raise ValueError(f"learning curve: repeats must be >= 1, got {repeats}")
    w, s = data.pair()
    yw, ys = data.scores[:, w], data.scores[:, s]
    qw, qs = float(yw.mean()), float(ys.mean())
    n = len(data)
    if draw_by not in ("prompt", "group"):
        raise ValueError(f"learning curve: draw_by must be 'prompt' or 'group', got {draw_by!r}")
    if draw_by == "group":
        if data.groups is None:
            raise ValueError(f"learning curve: dataset {data.name!r} has no groups to draw by")
        groups = np.unique(data.groups.astype(str), return_inverse=True)[1]
    else:
        groups = data.prompt_groups()
    splits = cv_splits(data, k, group_by=group_by, seed=seed)
    scores = np.full((len(fractions), repeats, n), np.nan)
    rows = np.full((len(fractions), len(splits), repeats), np.nan)  # mean over folds and draws below
    units = np.full_like(rows, np.nan)
    for fold, test in enumerate(splits):
        train = np.setdiff1d(np.arange(n), test)
        test_data = data.subset(test)
        for r in range(repeats):
            rng = np.random.default_rng([seed, fold, r])
            for i, part in enumerate(_nested_subsets(groups[train], fractions, rng)):
                if fractions[i] == 1.0 and r > 0:
                    scores[i, r, test] = scores[i, 0, test]
                    continue
                router = make().fit(data.subset(train[part]))
                scores[i, r, test] = _predict(router, test_data, False)[0]
                rows[i, fold, r] = len(part)
                units[i, fold, r] = len(np.unique(groups[train[part]]))
                if on_fit:
                    on_fit()
    points = []
    for i, f in enumerate(fractions):
        per_repeat = [summarize(routellm_curve(scores[i, r], yw, ys), qw, qs, n) for r in range(repeats)]
        tie = summarize(tie_safe_curve(scores[i, 0], yw, ys), qw, qs, n)
        points.append(LearningPoint(
            fraction=f, train_rows=float(np.nanmean(rows[i])),
            apgr=float(np.mean([p["apgr"] for p in per_repeat])), apgr_tie_safe=tie["apgr"],
            cpt50=per_repeat[0]["cpt50"], cpt80=per_repeat[0]["cpt80"],
            repeat_apgr=[p["apgr"] for p in per_repeat] if f < 1.0 else [per_repeat[0]["apgr"]],
            train_units=float(np.nanmean(units[i]))))
    router_name = str(name or getattr(make(), "name", "router"))
    return LearningCurve(router_name, data.name, k, group_by, seed, points, draw_by)
