"""Out-of-fold predictions: grouped k-fold cross-validation, or train on one dataset and test on another."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.routers.base import Router

GroupBy = Literal["prompt", "group"]


@dataclass
class Predictions:
    """A router's predictions for every test row, each made by a router that never saw that row."""

    scores: np.ndarray  # (n,) need for the strong model
    quality: np.ndarray | None  # (n, m) predicted quality, None for routers without it
    folds: np.ndarray  # (n,) fold id of each row (0 in train/test mode)


def cv_splits(data: RoutingDataset, k: int, *, group_by: GroupBy = "prompt", seed: int = 0) -> list[np.ndarray]:
    """Test-row indices of each fold; rows in one group never straddle folds.

    ``group_by="prompt"`` groups identical prompts; ``"group"`` uses the dataset's groups
    (e.g. MMLU subjects: leave-subjects-out).
    """
    from sklearn.model_selection import GroupKFold

    if group_by == "group":
        if data.groups is None:
            raise ValueError(f"dataset {data.name!r} has no groups to split by")
        _, groups = np.unique(data.groups.astype(str), return_inverse=True)
    else:
        groups = data.prompt_groups()
    n_groups = len(np.unique(groups))
    if not 2 <= k <= n_groups:
        raise ValueError(f"--cv {k}: need 2 <= K <= number of groups ({n_groups})")
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(data)), groups=groups)]


def _predict(router: Router, test: RoutingDataset, want_quality: bool) -> tuple[np.ndarray, np.ndarray | None]:
    scores = np.asarray(router.score_dataset(test), dtype=np.float64)
    quality = np.asarray(router.quality_dataset(test), dtype=np.float64) if want_quality else None
    return scores, quality


def cross_val_predict(
    make: Callable[[], Router],
    data: RoutingDataset,
    k: int = 5,
    *,
    group_by: GroupBy = "prompt",
    seed: int = 0,
    want_quality: bool = False,
    on_fold: Callable[[], None] | None = None,
    max_folds: int | None = None,
) -> Predictions:
    """Fit a fresh router on each training part and predict its held-out fold.

    ``max_folds``: evaluate only the first that many folds of the same K-fold split (a slow router
    on one held-out fold); rows of the other folds keep fold id -1 and NaN scores.
    """
    n = len(data)
    scores = np.full(n, np.nan)
    quality = np.full((n, len(data.models)), np.nan) if want_quality else None
    folds = np.full(n, -1, dtype=np.int64)
    splits = cv_splits(data, k, group_by=group_by, seed=seed)
    for f, test_idx in enumerate(splits[:max_folds] if max_folds else splits):
        train_idx = np.setdiff1d(np.arange(n), test_idx)
        router = make().fit(data.subset(train_idx))
        s, q = _predict(router, data.subset(test_idx), want_quality)
        scores[test_idx] = s
        if quality is not None:
            quality[test_idx] = q
        folds[test_idx] = f
        if on_fold:
            on_fold()
    return Predictions(scores, quality, folds)


def train_test_predict(make: Callable[[], Router], train: RoutingDataset, test: RoutingDataset, *,
                       want_quality: bool = False) -> Predictions:
    """Fit on ``train``, predict every row of ``test`` (models must match ``train``'s)."""
    test = test.select_models(train.models)
    router = make().fit(train)
    s, q = _predict(router, test, want_quality)
    return Predictions(s, q, np.zeros(len(test), dtype=np.int64))
