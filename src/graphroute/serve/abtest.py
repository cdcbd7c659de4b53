"""Experiments in the server: a request for an experiment's name is served by the arm its unit
(user, session, key) is assigned to; every other arm and every shadow decides on it too (nothing
called), and the record logged holds the assignment, each arm's decision, the propensity of the
model served under the split, its cost and latency. A shadow with ``sample`` > 0 is also called on
that share of requests after the answer went out, under its own budget and concurrency limit,
never on a private prompt (the privacy detector's), never with fallbacks; its answer is logged
beside the served one for a judge.

Examples:
    >>> from graphroute.serve.abtest import chance
    >>> from graphroute.types import Decision
    >>> chance(Decision(model="a", scores={}, probability=0.95, probabilities={"a": 0.95, "b": 0.05}), "a", "b", {})
    0.05
    >>> chance(Decision(model="a", scores={}, probability=1.0), "a", "b", {})
    0.0
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from graphroute.experiments.assignment import assign, sampled
from graphroute.experiments.design import ExperimentBlock
from graphroute.events import ExperimentEvent, ShadowEvent
from graphroute.strategies.privacy import PIIDetector
from graphroute.types import Decision

log = logging.getLogger("graphroute.serve")


def chance(d: Decision, chosen: str | None, model: str, mapping: dict[str, str]) -> float | None:
    """The chance decision ``d`` (which named config model ``chosen``) had of naming ``model``; None
    where the router does not say."""
    if d.probabilities:
        return float(sum(p for m, p in d.probabilities.items() if mapping.get(m, m) == model))
    p = 1.0 if d.probability is None else float(d.probability)
    if chosen == model:
        return p
    return 0.0 if p >= 1.0 else None


def shadow_session(experiment: str, shadow: str) -> str:
    """The budget session a shadow's calls are charged to (its ``budget`` is that session's limit)."""
    return f"shadow:{experiment}:{shadow}"


@dataclass
class Assigned:
    """One request's part in an experiment."""

    experiment: str
    block: ExperimentBlock
    arm: str
    unit: str | None
    running: bool
    others: asyncio.Task | None = None


class Experiments:
    """The experiments of one server. ``resolve``: virtual model name -> Target; ``call``: the
    service's coroutine that answers a shadow (model or router target) without fallbacks."""

    def __init__(self, blocks: dict[str, ExperimentBlock], resolve: Any, call: Any, sink: Any,
                 detector: PIIDetector | None = None) -> None:
        self.blocks, self.resolve, self.call, self.sink = blocks, resolve, call, sink
        self.detector = detector or PIIDetector()
        self._slots = {(e, s): asyncio.Semaphore(b.max_concurrency) for e, blk in blocks.items()
                       for s, b in blk.shadow.items()}
        self._tasks: set[asyncio.Task] = set()
        self.skipped: dict[str, int] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.blocks

    def names(self) -> list[str]:
        return list(self.blocks)

    def session_limits(self) -> dict[str, float | None]:
        """Every called shadow's cost cap, as a budget session limit."""
        return {shadow_session(e, s): b.budget for e, blk in self.blocks.items() for s, b in blk.shadow.items()
                if b.sample > 0}

    def start(self, name: str, request_id: str, unit: str | None) -> tuple[Assigned, Any]:
        """The arm of this request and its resolved target (the control outside start/stop)."""
        block = self.blocks[name]
        running = block.running()
        arm = assign(unit if unit is not None else f"request:{request_id}", block.weights(), block.salt or name) \
            if running else block.control
        return Assigned(name, block, arm, unit, running), self.resolve(block.arms[arm].target)

    def decide_others(self, a: Assigned, prompt: str, context: dict[str, Any]) -> None:
        """Every other arm's and every shadow's decision, in the background (nothing is called)."""
        if not a.running:
            return
        names = [(n, b.target) for n, b in a.block.arms.items() if n != a.arm] + \
                [(n, b.target) for n, b in a.block.shadow.items()]

        async def run() -> dict[str, tuple[Decision, str | None, Any]]:
            targets = [self.resolve(t) for _, t in names]
            outs = await asyncio.gather(*(t.decide(prompt, context) for t in targets), return_exceptions=True)
            return {n: (o[0], o[1], t) for (n, _), o, t in zip(names, outs, targets) if not isinstance(o, BaseException)}

        a.others = asyncio.create_task(run())

    async def finish(self, a: Assigned, target: Any, decision: Decision, chosen: str | None, *, request_id: str,
                     model: str | None, cost: float, latency_ms: float, error: str | None = None,
                     prompt: str = "", body: dict[str, Any] | None = None, tokens: int = 0, answer: str | None = None) -> None:
        """Log the request's experiment record and start the shadow calls it samples."""
        if not a.running:
            return
        others = {}
        if a.others is not None:
            with contextlib.suppress(Exception):
                others = await a.others
        decided = {a.arm: (decision, chosen, target), **others}
        shares = a.block.weights()
        propensity: float | None = None
        if model is not None and all(n in decided and decided[n][2].kind in ("model", "router") for n in shares):
            parts = [chance(d, c, model, t.mapping) for d, c, t in (decided[n] for n in shares)]
            if all(p is not None for p in parts):
                propensity = float(sum(shares[n] * float(p or 0.0) for n, p in zip(shares, parts)))
        record = ExperimentEvent(run_id=request_id, experiment=a.experiment, unit=a.unit, arm=a.arm, weights=shares,
                                 arm_probability=shares[a.arm],
                                 decisions={n: {"model": c, "probability": d.probability}
                                            for n, (d, c, _) in decided.items() if n in shares},
                                 shadows={n: {"model": c, "probability": d.probability}
                                          for n, (d, c, _) in decided.items() if n in a.block.shadow},
                                 model=model, chosen=chosen, propensity=propensity, cost=cost, latency_ms=latency_ms,
                                 fallback=model is not None and model != chosen, error=error)
        if self.sink is not None:
            self.sink.write(record.record())
        if error is None and body is not None:
            for name, blk in a.block.shadow.items():
                if name in decided and sampled(a.block.salt or a.experiment, name, request_id, blk.sample):
                    self._launch(a, name, decided[name], request_id, prompt, body, tokens, answer)

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def _launch(self, a: Assigned, name: str, decided: tuple, request_id: str, prompt: str, body: dict[str, Any],
                tokens: int, answer: str | None) -> None:
        if self.detector.sensitive(prompt):  # a private prompt is never sent where it is not served
            self._skip("private")
            return
        slot = self._slots[(a.experiment, name)]
        if slot.locked():
            self._skip("concurrency")
            return
        _, chosen, target = decided

        async def run() -> None:
            async with slot:
                t0 = time.perf_counter()
                out: dict[str, Any] = {"model": chosen, "output": None, "cost": 0.0, "error": None}
                try:
                    out.update(await self.call(target, chosen, prompt, body, tokens, shadow_session(a.experiment, name)))
                except Exception as exc:  # a shadow never fails the request it shadows: its error is logged
                    out["error"] = f"{type(exc).__name__}: {exc}"
                    self._skip("budget" if "Budget" in type(exc).__name__ else "error")
                if self.sink is not None:
                    self.sink.write(ShadowEvent(run_id=request_id, experiment=a.experiment, arm=name, unit=a.unit,
                                                served_output=answer, latency_ms=(time.perf_counter() - t0) * 1000,
                                                model=out["model"], output=out["output"], cost=float(out["cost"] or 0.0),
                                                error=out["error"]).record())

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for the shadow calls in flight (at shutdown), then cancel what is left."""
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=timeout_s)
            for t in pending:
                t.cancel()
