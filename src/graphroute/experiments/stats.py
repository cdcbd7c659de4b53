"""The statistics an experiment report uses, each from scipy or statsmodels: bootstrap confidence
intervals, the two-proportion z-test (binary scores), Welch's t-test (cost, latency), a bootstrap
test (graded scores), the sample-ratio-mismatch chi-square, Holm's correction and the sample
size a minimum effect needs.

Examples:
    >>> import numpy as np
    >>> from graphroute.experiments.stats import compare, sample_size
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.binomial(1, 0.70, 4000), rng.binomial(1, 0.75, 4000)
    >>> c = compare(a, b, kind="binary")
    >>> c.test, c.p_value < 0.01, round(c.diff, 3)
    ('two-proportion z', True, 0.047)
    >>> sample_size(a, 0.05, kind="binary")  # per arm, for 80 % power at alpha 0.05
    1245
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np
from scipy import stats

from graphroute.extras import require


def _statsmodels(module: str):
    """``statsmodels.stats.<module>`` (the ``serve`` extra installs statsmodels; imported on first use)."""
    return require(f"statsmodels.stats.{module}", "experiment statistics")


Kind = Literal["binary", "graded", "continuous"]
TESTS = {"binary": "two-proportion z", "graded": "bootstrap", "continuous": "Welch t"}


def kind_of(metric: str, values: np.ndarray) -> Kind:
    """Scores of 0 and 1 only are binary; other feedback and judge scores are graded; cost and
    latency are continuous."""
    if metric in ("cost", "latency"):
        return "continuous"
    return "binary" if len(values) and np.isin(values, (0.0, 1.0)).all() else "graded"


#: above this many values the percentile bootstrap replaces BCa (BCa's jackknife holds n x n values,
#: and at that size the two agree to the third digit)
BCA_MAX = 5000


def mean_ci(x: np.ndarray, alpha: float = 0.05, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval for the mean: BCa up to ``BCA_MAX`` values (and where it is defined),
    else the percentile method."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0:
        m = float(x.mean()) if len(x) else math.nan
        return m, m
    rng = np.random.default_rng(seed)
    res = stats.bootstrap((x,), np.mean, confidence_level=1 - alpha, n_resamples=n_resamples, random_state=rng,
                          vectorized=True, method="BCa" if len(x) <= BCA_MAX else "percentile")
    lo, hi = res.confidence_interval
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = np.quantile(res.bootstrap_distribution, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@dataclass
class Comparison:
    """An arm against the control on one metric: ``diff`` = arm − control, its interval, the test's p."""

    test: str
    diff: float
    ci: tuple[float, float]
    p_value: float
    p_adjusted: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def compare(control: np.ndarray, arm: np.ndarray, kind: Kind, alpha: float = 0.05, n_resamples: int = 2000,
            seed: int = 0) -> Comparison:
    """The test that fits ``kind`` of ``arm`` against ``control``."""
    a, b = np.asarray(control, dtype=np.float64), np.asarray(arm, dtype=np.float64)
    diff = float(b.mean() - a.mean())
    if kind == "binary":
        count, nobs = np.array([b.sum(), a.sum()]), np.array([len(b), len(a)])
        if count.sum() in (0, nobs.sum()):  # every score the same: nothing to tell apart
            return Comparison(TESTS[kind], diff, (diff, diff), 1.0)
        prop = _statsmodels("proportion")
        _, p = prop.proportions_ztest(count, nobs)
        lo, hi = prop.confint_proportions_2indep(count[0], nobs[0], count[1], nobs[1], method="wald", alpha=alpha)
        return Comparison(TESTS[kind], diff, (float(lo), float(hi)), float(p))
    if kind == "continuous":
        if np.ptp(np.concatenate([a, b])) == 0:
            return Comparison(TESTS[kind], diff, (diff, diff), 1.0)
        res = stats.ttest_ind(b, a, equal_var=False)
        ci = res.confidence_interval(confidence_level=1 - alpha)
        return Comparison(TESTS[kind], diff, (float(ci.low), float(ci.high)), float(res.pvalue))
    rng = np.random.default_rng(seed)
    boot = stats.bootstrap((b, a), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), n_resamples=n_resamples,
                           confidence_level=1 - alpha, method="percentile", random_state=rng, vectorized=True)
    dist = boot.bootstrap_distribution
    # the test that inverts the percentile interval: twice the share of resamples on the other side of 0
    p = min(1.0, 2 * min(float((dist <= 0).mean()), float((dist >= 0).mean())))
    return Comparison(TESTS[kind], diff, (float(boot.confidence_interval.low), float(boot.confidence_interval.high)), p)


def sample_size(control: np.ndarray, min_effect: float, kind: Kind, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0) -> int | None:
    """Units of the control arm needed to detect ``min_effect`` (the arm: ``ratio`` times that);
    None when the control's spread is not known yet."""
    x = np.asarray(control, dtype=np.float64)
    if min_effect <= 0 or len(x) < 2:
        return None
    if kind == "binary":
        p0 = float(np.clip(x.mean(), 1e-3, 1 - 1e-3))
        p1 = p0 + min_effect if p0 + min_effect < 1 else p0 - min_effect
        es = abs(_statsmodels("proportion").proportion_effectsize(p1, p0))
        n = _statsmodels("power").NormalIndPower().solve_power(effect_size=es, alpha=alpha, power=power, ratio=ratio)
    else:
        sd = float(x.std(ddof=1))
        if sd == 0:
            return None
        n = _statsmodels("power").TTestIndPower().solve_power(effect_size=min_effect / sd, alpha=alpha, power=power, ratio=ratio)
    return int(math.ceil(float(np.atleast_1d(n)[0])))


def srm(counts: Sequence[int], shares: Sequence[float]) -> float:
    """p-value of the chi-square test of observed arm counts against the configured split."""
    n = np.asarray(counts, dtype=np.float64)
    p = np.asarray(shares, dtype=np.float64) / np.sum(shares)
    if n.sum() == 0:
        return 1.0
    return float(stats.chisquare(n, n.sum() * p).pvalue)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> list[float]:
    """Holm-adjusted p-values (family-wise error at ``alpha`` over every comparison of a report)."""
    if not len(p_values):
        return []
    return [float(p) for p in _statsmodels("multitest").multipletests(list(p_values), alpha=alpha, method="holm")[1]]


def normal_ci(terms: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """``(mean, low, high)``: the central-limit interval of the mean of i.i.d. ``terms``."""
    t = np.asarray(terms, dtype=np.float64)
    m = float(t.mean())
    half = float(stats.norm.ppf(1 - alpha / 2) * t.std(ddof=1) / math.sqrt(len(t))) if len(t) > 1 else math.nan
    return m, m - half, m + half
