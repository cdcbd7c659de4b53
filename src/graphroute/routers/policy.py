"""Decision policies: from predicted per-model quality to one chosen model, with its reason.

* ``ThresholdPolicy`` — two models: the strong one when ``q_strong - q_weak >= threshold``;
* ``CostPolicy`` — any number: ``argmax(q - lam * cost)``;
* ``TargetQualityPolicy`` — any number: the cheapest model predicted to reach ``target``,
  else the best predicted one;
* ``TolerancePolicy`` — any number: the cheapest model predicted within ``tolerance`` of the
  best predicted one (NVIDIA's rule).

Every policy also honours a per-call ``max_cost`` (a remaining budget): models whose expected
cost exceeds it are not chosen while a cheaper one exists. And every policy says what a prompt
unlike the router's training data gets (``unfamiliar``: ``None`` for the normal decision,
``"strong"``, ``"weak"`` or a model name), below ``min_familiarity`` (see
``Decision``). ``explore`` (epsilon) sends that share of decisions to a
uniformly random model and reports each decision's probability, so logged feedback can train a
router without the bias of its own past choices.

Examples:
    >>> import numpy as np
    >>> from graphroute.routers.policy import ThresholdPolicy, policy_from_dict, policy_to_dict
    >>> p = ThresholdPolicy(0.1, unfamiliar="strong")
    >>> p.choose(np.array([0.7, 0.75]), ["small", "big"], "small", "big")[0]
    'small'
    >>> policy_from_dict(policy_to_dict(p)) == p
    True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from graphroute.errors import UnknownModelError
from graphroute.metrics.choices import tolerance_choice
from graphroute.registry import Registry

POLICIES = Registry("policy", legacy=("kind",))


def affordable(models: Sequence[str], costs: dict[str, float] | None, max_cost: float | None) -> np.ndarray:
    """Which models fit a remaining budget (the cheapest always does: nothing else is less bad)."""
    ok = np.ones(len(models), dtype=bool)
    if costs and max_cost is not None:
        ok = np.array([costs.get(m, 0.0) <= max_cost for m in models])
        if not ok.any():
            ok[int(np.argmin([costs.get(m, 0.0) for m in models]))] = True
    return ok


@dataclass(kw_only=True)
class Policy(ABC):
    """Fields every policy has: expected dollars per model, and what unfamiliar prompts get."""

    costs: dict[str, float] | None = None
    unfamiliar: str | None = None
    min_familiarity: float = 0.05
    explore: float = 0.0  # epsilon-greedy: this share of decisions goes to a uniformly random model
    kind: ClassVar[str] = ""

    def explored(self, model: str, models: Sequence[str], rng: np.random.Generator,
                 max_cost: float | None = None) -> tuple[str, float, bool]:
        """Epsilon-greedy over a decision, among the models within ``max_cost``:
        ``(model, the probability it had, explored?)``."""
        if self.explore <= 0:
            return model, 1.0, False
        pool = [m for m, ok in zip(models, affordable(models, self.costs, max_cost)) if ok]
        if model not in pool:
            pool.append(model)
        pick = pool[int(rng.integers(len(pool)))] if rng.random() < self.explore else model
        p = self.explore / len(pool) + (1.0 - self.explore) * (pick == model)
        return pick, float(p), pick != model

    @abstractmethod
    def choose(self, q: np.ndarray, models: Sequence[str], weak: str, strong: str, max_cost: float | None = None,
               gain: float | None = None) -> tuple[str, str]:
        """``(model, reason)`` for one prompt's predicted qualities ``q``; each policy defines it."""

    def chances(self, model: str, models: Sequence[str], max_cost: float | None = None) -> dict[str, float] | None:
        """Every model's chance under epsilon-greedy around ``model`` (None without exploration):
        what off-policy evaluation and an experiment's propensities need."""
        if self.explore <= 0:
            return None
        pool = [m for m, ok in zip(models, affordable(models, self.costs, max_cost)) if ok]
        if model not in pool:
            pool.append(model)
        return {m: self.explore / len(pool) + (1.0 - self.explore) * (m == model) for m in pool}

    def prices(self, models: Sequence[str]) -> np.ndarray:
        """Each model's expected dollars per call (0 where unknown), in ``models`` order."""
        return np.array([(self.costs or {}).get(m, 0.0) for m in models])

    def target_for_unfamiliar(self, models: Sequence[str], weak: str, strong: str) -> str | None:
        """The model an unfamiliar prompt is sent to (None: the normal decision)."""
        if self.unfamiliar is None:
            return None
        target = {"weak": weak, "strong": strong}.get(self.unfamiliar, self.unfamiliar)
        if target not in models:
            raise UnknownModelError(target, list(models), "policy unfamiliar=")
        return target


@POLICIES.register("threshold")
@dataclass
class ThresholdPolicy(Policy):
    """Pair routing on the predicted gain of the strong model over the weak one."""

    threshold: float = 0.0
    kind: ClassVar[str] = "threshold"

    def choose(self, q: np.ndarray, models: Sequence[str], weak: str, strong: str, max_cost: float | None = None,
               gain: float | None = None) -> tuple[str, str]:
        if gain is None:
            gain = float(q[models.index(strong)] - q[models.index(weak)])
        ok = affordable(models, self.costs, max_cost)
        if gain >= self.threshold:
            if ok[models.index(strong)]:
                return strong, f"predicted gain of {strong} over {weak} is {gain:+.3f} >= threshold {self.threshold:+.3f}"
            return weak, f"gain {gain:+.3f} clears the threshold but {strong} exceeds the remaining budget {max_cost}"
        return weak, f"predicted gain of {strong} over {weak} is {gain:+.3f} < threshold {self.threshold:+.3f}"


@POLICIES.register("cost")
@dataclass
class CostPolicy(Policy):
    """``argmax(predicted quality - lam * expected cost)``; ``lam = 0`` is the best predicted model."""

    lam: float = 0.0
    kind: ClassVar[str] = "cost"

    def choose(self, q: np.ndarray, models: Sequence[str], weak: str, strong: str, max_cost: float | None = None,
               gain: float | None = None) -> tuple[str, str]:
        c = self.prices(models)
        util = np.where(affordable(models, self.costs, max_cost), q - self.lam * c, -np.inf)
        j = int(np.argmax(util))
        return models[j], f"highest quality - {self.lam:g}*cost ({q[j]:.3f} - {self.lam:g}*{c[j]:.6g})"


@POLICIES.register("target")
@dataclass
class TargetQualityPolicy(Policy):
    """The cheapest model predicted to reach ``target`` quality, else the best predicted."""

    target: float = 0.8
    kind: ClassVar[str] = "target"

    def choose(self, q: np.ndarray, models: Sequence[str], weak: str, strong: str, max_cost: float | None = None,
               gain: float | None = None) -> tuple[str, str]:
        c = self.prices(models)
        ok = affordable(models, self.costs, max_cost)
        good = np.flatnonzero((q >= self.target) & ok)
        if len(good):
            j = int(good[np.argmin(c[good])])
            return models[j], f"cheapest model predicted to reach {self.target:.3f} ({q[j]:.3f})"
        j = int(np.argmax(np.where(ok, q, -np.inf)))
        return models[j], f"no model predicted to reach {self.target:.3f}; best predicted {q[j]:.3f}"


@POLICIES.register("tolerance")
@dataclass
class TolerancePolicy(Policy):
    """The cheapest model whose predicted quality is within ``tolerance`` of the best predicted one.

    Examples:
        >>> import numpy as np
        >>> p = TolerancePolicy(costs={"small": 0.1, "mid": 0.5, "big": 2.0}, tolerance=0.05)
        >>> p.choose(np.array([0.60, 0.78, 0.80]), ["small", "mid", "big"], "small", "big")[0]
        'mid'
    """

    tolerance: float = 0.0
    kind: ClassVar[str] = "tolerance"

    def choose(self, q: np.ndarray, models: Sequence[str], weak: str, strong: str, max_cost: float | None = None,
               gain: float | None = None) -> tuple[str, str]:
        c = self.prices(models)
        ok = affordable(models, self.costs, max_cost)
        masked = np.where(ok, q, -np.inf)
        j, best = int(tolerance_choice(masked[None, :], c, self.tolerance)[0]), float(masked.max())
        return models[j], f"cheapest model predicted within {self.tolerance:.3g} of the best ({q[j]:.3f} vs {best:.3f})"


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    return {"name": policy.kind, **asdict(policy)}


def policy_from_dict(d: dict[str, Any]) -> Policy:
    d = dict(d)
    if "name" not in d and "kind" in d:  # folders saved before 1.1 name the policy with "kind"
        d["name"] = d.pop("kind")
    return POLICIES.make(d)


def unfamiliar_choice(policy: Policy, familiarity: float, model: str, reason: str, fallback: str | None,
                max_cost: float | None) -> tuple[str, str]:
    """An unfamiliar prompt's model and reason: the policy's ``unfamiliar`` model when it is set and
    affordable, else the router's own choice, noted as unfamiliar."""
    note = f"unfamiliar prompt: familiarity {familiarity:.3f} < {policy.min_familiarity:g}"
    over_budget = bool(policy.costs and max_cost is not None and fallback and policy.costs.get(fallback, 0.0) > max_cost)
    if fallback is None or fallback == model or over_budget:
        return model, f"{reason} ({note})"
    return fallback, f"{note}, sent to {fallback} (the router alone: {model}, {reason})"

