"""Decision policies: from predicted per-model quality to one chosen model, with its reason.

* :class:`ThresholdPolicy` — two models: the strong one when ``q_strong - q_weak >= threshold``;
* :class:`CostPolicy` — any number: ``argmax(q - lam * cost)``;
* :class:`TargetQualityPolicy` — any number: the cheapest model predicted to reach ``target``,
  else the best predicted one.

Every policy also honours a per-call ``max_cost`` (a remaining budget): models whose expected
cost exceeds it are not chosen while a cheaper one exists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np


@dataclass
class Decision:
    """What a router decided for one query, and why."""

    model: str | None
    scores: dict[str, float]
    threshold: float | None = None
    reason: str = ""
    policy: str = ""
    route: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _affordable(models: Sequence[str], costs: dict[str, float] | None, max_cost: float | None) -> np.ndarray:
    ok = np.ones(len(models), dtype=bool)
    if costs and max_cost is not None:
        ok = np.array([costs.get(m, 0.0) <= max_cost for m in models])
        if not ok.any():  # nothing fits: the cheapest is the least bad
            ok[int(np.argmin([costs.get(m, 0.0) for m in models]))] = True
    return ok


@dataclass
class ThresholdPolicy:
    """Pair routing on the predicted gain of the strong model over the weak one."""

    threshold: float = 0.0
    costs: dict[str, float] | None = None
    kind: str = field(default="threshold", init=False)

    def choose(self, q: np.ndarray, models: Sequence[str], weak: str, strong: str, max_cost: float | None = None,
               gain: float | None = None) -> tuple[str, str]:
        if gain is None:
            gain = float(q[models.index(strong)] - q[models.index(weak)])
        ok = _affordable(models, self.costs, max_cost)
        if gain >= self.threshold:
            if ok[models.index(strong)]:
                return strong, f"predicted gain of {strong} over {weak} is {gain:+.3f} >= threshold {self.threshold:+.3f}"
            return weak, f"gain {gain:+.3f} clears the threshold but {strong} exceeds the remaining budget {max_cost}"
        return weak, f"predicted gain of {strong} over {weak} is {gain:+.3f} < threshold {self.threshold:+.3f}"


@dataclass
class CostPolicy:
    """``argmax(predicted quality - lam * expected cost)``; ``lam = 0`` is the best predicted model."""

    lam: float = 0.0
    costs: dict[str, float] | None = None
    kind: str = field(default="cost", init=False)

    def choose(self, q: np.ndarray, models: Sequence[str], weak: str, strong: str, max_cost: float | None = None) -> tuple[str, str]:
        c = np.array([(self.costs or {}).get(m, 0.0) for m in models])
        util = np.where(_affordable(models, self.costs, max_cost), q - self.lam * c, -np.inf)
        j = int(np.argmax(util))
        return models[j], f"highest quality - {self.lam:g}*cost ({q[j]:.3f} - {self.lam:g}*{c[j]:.6g})"


@dataclass
class TargetQualityPolicy:
    """The cheapest model predicted to reach ``target`` quality, else the best predicted."""

    target: float = 0.8
    costs: dict[str, float] | None = None
    kind: str = field(default="target", init=False)

    def choose(self, q: np.ndarray, models: Sequence[str], weak: str, strong: str, max_cost: float | None = None) -> tuple[str, str]:
        c = np.array([(self.costs or {}).get(m, 0.0) for m in models])
        ok = _affordable(models, self.costs, max_cost)
        good = np.flatnonzero((q >= self.target) & ok)
        if len(good):
            j = int(good[np.argmin(c[good])])
            return models[j], f"cheapest model predicted to reach {self.target:.3f} ({q[j]:.3f})"
        j = int(np.argmax(np.where(ok, q, -np.inf)))
        return models[j], f"no model predicted to reach {self.target:.3f}; best predicted {q[j]:.3f}"


POLICIES = {"threshold": ThresholdPolicy, "cost": CostPolicy, "target": TargetQualityPolicy}
Policy = ThresholdPolicy | CostPolicy | TargetQualityPolicy


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    return asdict(policy)


def policy_from_dict(d: dict[str, Any]) -> Policy:
    d = dict(d)
    kind = d.pop("kind", "threshold")
    if kind not in POLICIES:
        raise ValueError(f"unknown policy kind {kind!r}")
    return POLICIES[kind](**d)
