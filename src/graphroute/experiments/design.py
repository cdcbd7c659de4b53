"""An experiment's configuration: the ``experiments`` block of a ``graphroute serve`` file.

.. code-block:: yaml

    serve:
      experiments:
        clf-vs-knn:                       # clients ask for model "clf-vs-knn"
          arms:                           # the first arm is the control
            control: {target: router-clf, weight: 50}
            knn: {target: router-knn, weight: 50}
          unit: user                      # sticky by the request's "user" (or: session, key, request)
          start: 2026-12-01T00:00:00Z     # outside [start, stop) every request goes to the control arm
          stop: 2026-12-15T00:00:00Z
          shadow:
            mlp: {target: router-mlp}     # decides on every request, never serves (free)
            big: {target: gpt-4o, sample: 0.05, budget: 2.0, max_concurrency: 4}  # also called on 5 %
          metrics: [feedback, cost, latency]
          min_effect: {feedback: 0.02, cost: 0.0005, latency: 100}
          analysis: unit                  # tests over users' means (default: request)
          alpha: 0.05
          power: 0.8

Examples:
    >>> from graphroute.experiments import ExperimentBlock
    >>> e = ExperimentBlock.model_validate({"arms": {"a": {"target": "router-x"}, "b": {"target": "router-y", "weight": 3}}})
    >>> e.weights(), e.control
    ({'a': 0.25, 'b': 0.75}, 'a')
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: metrics an experiment can judge, and which direction is better
METRICS = {"feedback": "higher", "judge": "higher", "cost": "lower", "latency": "lower"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArmBlock(_Strict):
    """One arm: a virtual model of the server (``router-<name>``, ``graph:<name>``, a model id, an alias)."""

    target: str
    weight: float = Field(1.0, ge=0, description="relative share of units (weights need not sum to 100)")


class ShadowBlock(_Strict):
    """A shadow arm: decides on every request without serving it; with ``sample`` > 0 it is also
    called on that share of requests (never on private prompts), under ``budget`` dollars and at
    most ``max_concurrency`` calls in flight per worker. Its answers are logged, not returned."""

    target: str
    sample: float = Field(0.0, ge=0, le=1, description="share of requests the shadow is also called on")
    budget: float | None = Field(None, ge=0, description="dollars the shadow's calls may spend in all")
    max_concurrency: int = Field(4, ge=1, description="shadow calls in flight per worker (more are skipped)")

    @model_validator(mode="after")
    def _capped(self) -> "ShadowBlock":
        if self.sample > 0 and self.budget is None:
            raise ValueError("a shadow that is called (sample > 0) needs a budget (its cost cap, in dollars)")
        return self


class ExperimentBlock(_Strict):
    """Arms, split, stickiness, schedule, shadows and how the result is judged."""

    arms: dict[str, ArmBlock] = Field(description="arm name -> target; the first is the control")
    unit: Literal["user", "session", "key", "request"] = Field(
        "user", description="what keeps its arm: the request's user field, its x-graphroute-session header, its API "
                            "key, or nothing (each request drawn anew)")
    salt: str | None = Field(None, description="hash salt (default: the experiment's name); a new salt reshuffles units")
    start: datetime | None = None
    stop: datetime | None = None
    shadow: dict[str, ShadowBlock] = Field(default_factory=dict)
    metrics: list[str] = Field(default_factory=lambda: ["feedback", "cost", "latency"])
    primary: str | None = Field(None, description="the metric the verdict is on (default: the first of metrics)")
    min_effect: dict[str, float] = Field(default_factory=dict, description="smallest difference worth detecting, per "
                                                                           "metric, in its own unit")
    analysis: Literal["request", "unit"] = Field(
        "request", description="what the tests treat as independent: requests, or units (each unit's mean; right "
                               "when one user sends many requests whose outcomes are alike)")
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)

    @field_validator("arms")
    @classmethod
    def _two(cls, v: dict[str, ArmBlock]) -> dict[str, ArmBlock]:
        if len(v) < 2:
            raise ValueError("an experiment needs at least two arms (the first is the control)")
        if sum(a.weight for a in v.values()) <= 0:
            raise ValueError("the arms' weights sum to 0")
        return v

    @field_validator("metrics")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if m not in METRICS]
        if bad:
            raise ValueError(f"unknown metrics {bad}; known: {', '.join(METRICS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ExperimentBlock":
        if not self.metrics:
            raise ValueError("metrics is empty")
        if self.primary is None:
            self.primary = self.metrics[0]
        if self.primary not in self.metrics:
            raise ValueError(f"primary {self.primary!r} is not among metrics {self.metrics}")
        bad = [m for m in self.min_effect if m not in self.metrics]
        if bad:
            raise ValueError(f"min_effect for {bad}, which are not among metrics {self.metrics}")
        both = set(self.arms) & set(self.shadow)
        if both:
            raise ValueError(f"{sorted(both)} are both arms and shadows")
        for t in (self.start, self.stop):
            if t is not None and t.tzinfo is None:
                raise ValueError("start and stop need a time zone (e.g. 2026-12-01T00:00:00Z)")
        if self.start is not None and self.stop is not None and self.stop <= self.start:
            raise ValueError("stop is not after start")
        return self

    @property
    def control(self) -> str:
        return next(iter(self.arms))

    def weights(self) -> dict[str, float]:
        """The configured split as shares that sum to 1."""
        total = sum(a.weight for a in self.arms.values())
        return {k: a.weight / total for k, a in self.arms.items()}

    def running(self, now: datetime | None = None) -> bool:
        """Is ``now`` within ``[start, stop)``?"""
        now = now or datetime.now(timezone.utc)
        return (self.start is None or now >= self.start) and (self.stop is None or now < self.stop)
