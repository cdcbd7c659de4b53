"""``graphroute experiment report``: each arm's quality, cost and latency with bootstrap intervals,
each arm against the control with the test its metric needs, Holm's correction over every
comparison, a sample-ratio-mismatch check against the configured split, the sample size the
configured minimum effect needs, and a verdict that says "not enough data" until that size is
reached. A fixed-horizon design: significance before the planned size is shown, not acted on.
With ``analysis: unit`` every figure is over units (each user's mean), which stays right when a
user's requests are alike; per request, the tests treat requests as independent.

Examples:
    >>> import numpy as np
    >>> from graphroute.experiments import ExperimentBlock, report
    >>> cfg = ExperimentBlock.model_validate({"arms": {"a": {"target": "x"}, "b": {"target": "y"}},
    ...                                       "metrics": ["feedback"], "min_effect": {"feedback": 0.05}})
    >>> rng = np.random.default_rng(1)
    >>> def log(n):
    ...     out = []
    ...     for i in range(n):
    ...         arm = "ab"[i % 2]
    ...         out += [{"event": "experiment", "experiment": "e", "run_id": f"r{i}", "arm": arm, "unit": f"u{i}",
    ...                  "weights": {"a": 0.5, "b": 0.5}},
    ...                 {"event": "feedback", "run_id": f"r{i}", "score": float(rng.random() < (0.6 if arm == "a" else 0.7))}]
    ...     return out
    >>> report(log(200), "e", cfg).verdict
    'not enough data'
    >>> report(log(4000), "e", cfg).verdict
    'b is better on feedback'
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from graphroute.errors import ConfigError
from graphroute.experiments.design import METRICS, ExperimentBlock
from graphroute.experiments.records import outcomes
from graphroute.experiments.stats import Kind, compare, holm, kind_of, mean_ci, sample_size, srm

#: a sample-ratio mismatch is flagged below this p-value (a broken split, not chance)
SRM_ALPHA = 0.001


@dataclass
class ArmSummary:
    name: str
    shadow: bool
    units: int
    requests: int
    expected_share: float | None
    observed_share: float | None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> n, mean, ci


@dataclass
class ArmVerdict:
    arm: str
    metric: str
    kind: str
    comparison: dict[str, Any]
    needed: int | None  # control units the minimum effect needs (None: no min_effect, or unknown yet)
    have: int
    verdict: str


@dataclass
class ExperimentReport:
    experiment: str
    control: str
    primary: str
    alpha: float
    arms: list[ArmSummary]
    comparisons: list[ArmVerdict]
    srm_p: float
    srm_by: str
    verdict: str
    analysis: str = "request"  # what the tests treat as independent: requests or units

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def comparison(self, arm: str, metric: str) -> ArmVerdict:
        return next(c for c in self.comparisons if c.arm == arm and c.metric == metric)


def _arm_values(tab: dict[str, list[Any]], arm: str, shadow: bool, metric: str, by_unit: bool = False) -> np.ndarray:
    """The arm's values of ``metric``: per request, or (``by_unit``) each unit's mean (a request
    without a unit is a unit of its own)."""
    rows = [(u if u is not None else r, v) for a, s, u, r, v in zip(tab["arm"], tab["shadow"], tab["unit"], tab["run_id"],
                                                                   tab[metric]) if a == arm and s == shadow and not math.isnan(v)]
    if not by_unit:
        return np.asarray([v for _, v in rows], dtype=np.float64)
    sums: dict[Any, list[float]] = {}
    for u, v in rows:
        acc = sums.setdefault(u, [0.0, 0.0])
        acc[0] += v
        acc[1] += 1
    return np.asarray([t / n for t, n in sums.values()], dtype=np.float64)


def _verdict(metric: str, c: Any, needed: int | None, have: int, alpha: float, srm_bad: bool) -> str:
    better = (c.diff > 0) == (METRICS[metric] == "higher")
    if srm_bad:
        return "sample ratio mismatch: not trusted"
    if have < 2:
        return "not enough data"
    if needed is not None and have < needed:
        lean = f" (leaning {'better' if better else 'worse'}, p={c.p_adjusted:.3g})" if c.p_adjusted < alpha else ""
        return f"not enough data: {needed - have} more per arm{lean}"
    if c.p_adjusted < alpha:
        return "better" if better else "worse"
    return "no difference found" + ("" if needed is not None else " (no min_effect: power unknown)")


def report(records: Iterable[dict[str, Any]], experiment: str, config: ExperimentBlock, *,
           n_resamples: int = 2000, seed: int = 0) -> ExperimentReport:
    """The report of ``experiment`` from its logged records under its configuration."""
    recs = list(records)
    tab = outcomes(recs, experiment)
    if not tab["arm"]:
        raise ConfigError(f"no records of experiment {experiment!r} in the logs", field="experiment")
    arms = list(config.arms)
    unknown = sorted({a for a, s in zip(tab["arm"], tab["shadow"]) if not s and a not in config.arms})
    if unknown:
        raise ConfigError(f"the logs hold arms {unknown} that experiment {experiment!r} does not configure",
                          field=f"experiments.{experiment}.arms")
    shares = config.weights()
    # the split is checked on what was randomised: units when the requests carry them
    units = {a: {u for x, s, u in zip(tab["arm"], tab["shadow"], tab["unit"]) if x == a and not s and u is not None}
             for a in arms}
    by = "units" if all(units.values()) and config.unit != "request" else "requests"
    counts = Counter(a for a, s in zip(tab["arm"], tab["shadow"]) if not s)
    observed = [len(units[a]) if by == "units" else counts[a] for a in arms]
    srm_p = srm(observed, [shares[a] for a in arms])
    srm_bad = srm_p < SRM_ALPHA
    shadows = sorted({a for a, s in zip(tab["arm"], tab["shadow"]) if s})
    by_unit = config.analysis == "unit"
    cache: dict[tuple[str, bool, str], np.ndarray] = {}

    def values(arm: str, shadow: bool, metric: str) -> np.ndarray:  # the control's are read once per metric
        key = (arm, shadow, metric)
        if key not in cache:
            cache[key] = _arm_values(tab, arm, shadow, metric, by_unit)
        return cache[key]

    summaries = [ArmSummary(a, False, len(units[a]), counts[a], shares[a], obs / max(1, sum(observed)))
                 for a, obs in zip(arms, observed)]
    summaries += [ArmSummary(a, True, 0, sum(1 for x, sh in zip(tab["arm"], tab["shadow"]) if sh and x == a), None, None)
                  for a in shadows]
    for s in summaries:
        for m in config.metrics:
            x = values(s.name, s.shadow, m)
            lo, hi = mean_ci(x, config.alpha, n_resamples, seed)
            s.metrics[m] = {"n": int(len(x)), "mean": float(x.mean()) if len(x) else math.nan, "ci": [lo, hi]}
    control = config.control
    pending: list[tuple[str, str, str, Any, int | None, int]] = []
    for a in [*arms[1:], *shadows]:
        for m in config.metrics:
            x0, x1 = values(control, False, m), values(a, a in shadows, m)
            if len(x0) < 2 or len(x1) < 2:
                continue
            # units' means are continuous whatever the scores: Welch's t-test on them
            kind: Kind = "continuous" if by_unit else kind_of(m, np.concatenate([x0, x1]))
            c = compare(x0, x1, kind, config.alpha, n_resamples, seed)
            ratio = shares[a] / shares[control] if a in shares else 1.0
            need = sample_size(x0, config.min_effect[m], kind, config.alpha, config.power, ratio) \
                if m in config.min_effect else None
            pending.append((a, m, kind, c, need, min(len(x0), int(len(x1) / ratio) if ratio > 0 else len(x1))))
    for row, p in zip(pending, holm([r[3].p_value for r in pending], config.alpha)):
        row[3].p_adjusted = p
    comps = [ArmVerdict(a, m, kind, c.to_dict(), need, have, _verdict(m, c, need, have, config.alpha, srm_bad))
             for a, m, kind, c, need, have in pending]
    return ExperimentReport(experiment, control, str(config.primary), config.alpha, summaries, comps, srm_p, by,
                            _overall(comps, config, srm_bad), config.analysis)


def _overall(comps: list[ArmVerdict], config: ExperimentBlock, srm_bad: bool) -> str:
    if srm_bad:
        return "sample ratio mismatch: the split is broken; fix assignment before reading results"
    primary = [c for c in comps if c.metric == config.primary and c.arm in config.arms]
    if not primary or any(c.verdict.startswith("not enough data") for c in primary):
        return "not enough data"
    better = [c for c in primary if c.verdict == "better"]
    if better:
        best = max(better, key=lambda c: c.comparison["diff"] * (1 if METRICS[str(config.primary)] == "higher" else -1))
        return f"{best.arm} is better on {config.primary}"
    if any(c.verdict == "worse" for c in primary) and len(primary) == 1:
        return f"{config.control} (control) is better on {config.primary}"
    return f"no arm differs from {config.control} (control) on {config.primary}"
