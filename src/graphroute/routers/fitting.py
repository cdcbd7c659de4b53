"""Fit a router and calibrate it on prompts it was not fitted on, in one call.

A router used at its raw threshold rarely does what its user wants (the MMLU classifier sent 94.8 %
of MMLU prompts to GPT-4 at threshold 0; ``benchmarks/default_router.py``), and calibrating on the
prompts it was fitted on flatters it (a kNN member has seen every answer). ``fit_router`` holds
out a share of the data, fits on the rest, calibrates on the held-out share, and returns the router
with its policy: what ``graphroute fit --calibrate``, a YAML ``fit: {calibrate: ...}`` block and the
README do.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.routers.base import Router, make_router
from graphroute.routers.calibration import check_target

#: Share of the data held out to calibrate on by default.
HOLDOUT = 0.2


def held_out_count(n: int, holdout: float) -> int:
    """How many of ``n`` prompts ``split_for_calibration`` holds out (all of them with ``holdout=0``:
    then the fit data itself is calibrated on)."""
    return n if holdout == 0 else max(1, int(round(holdout * n)))


def split_for_calibration(data: RoutingDataset, holdout: float = HOLDOUT, seed: int = 0
                          ) -> tuple[RoutingDataset, RoutingDataset]:
    """``(fit_on, calibrate_on)``: a seeded random ``holdout`` share of the rows held out."""
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    if holdout == 0:  # calibrate on the fit data itself (flattering: only when there is nothing to hold out)
        return data, data
    order = np.random.default_rng(seed).permutation(len(data))
    n_cal = held_out_count(len(data), holdout)
    return data.subset(np.sort(order[n_cal:])), data.subset(np.sort(order[:n_cal]))


def fit_router(spec: Any, data: RoutingDataset | Sequence[RoutingDataset], *, calibrate: dict[str, Any] | None = None,
               holdout: float = HOLDOUT, seed: int = 0) -> Router:
    """A router fitted on ``data`` and, with ``calibrate``, calibrated on a held-out share of it.

    Args:
        spec: a router spec (``"classifier"``, ``"knn:k=100"``, a mapping) or an unfitted router.
        data: a dataset, or several recording the same models (concatenated).
        calibrate: one target, as ``Router.calibrate`` takes it (``{"best_share": 0.95}``,
            ``{"strong_share": 0.3}``, ``{"cost_per_query": 0.0001, "rule": "tolerance"}``); None fits
            on all of ``data`` and keeps the default policy.
        holdout: the share of prompts held out to calibrate on (0: calibrate on the fit data).
        seed: the split's seed.

    Examples:
        >>> from graphroute.datasets import load_dataset
        >>> from graphroute.routers import fit_router
        >>> r = fit_router("logistic", load_dataset("routellm-gsm8k"), calibrate={"strong_share": 0.3})
        >>> round(r.calibration_.strong_share, 2)
        0.3
    """
    if not isinstance(data, RoutingDataset):
        data = RoutingDataset.concat(list(data))
    router = spec if isinstance(spec, Router) else make_router(spec)
    if not calibrate:
        return router.fit(data)
    target = check_target(dict(calibrate))
    fit_on, cal_on = split_for_calibration(data, holdout, seed)
    router.fit(fit_on)
    router.calibrate(cal_on, **target)
    return router
