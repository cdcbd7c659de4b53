"""Batched decisions: concurrent ``adecide`` calls on one router share one ``decide`` call.

Each request's prompt joins a queue; one worker per router (and event loop) takes every prompt
waiting, groups them by ``max_cost`` and runs ``decide`` on each group in a worker thread, so the
encoder embeds them in one forward and the head scores them in one call, while the event loop keeps
accepting and streaming. A request that arrives alone starts at once: batches form only from the
requests that arrive while a batch is being computed (``max_wait_ms`` adds a short wait for more,
but only while the previous batch held more than one prompt, so a lone request never waits).
Decisions are those ``decide`` gives one prompt at a time (tested on 2,000 MMLU prompts).

Examples:
    >>> import asyncio
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.routers import make_router
    >>> router = make_router("logistic").fit(load_dataset("routellm-gsm8k").subset(range(200)))
    >>> async def many():
    ...     return await asyncio.gather(*(router.adecide([f"What is {i} + {i}?"]) for i in range(8)))
    >>> out = asyncio.run(many())
    >>> [d[0].model for d in out] == [router.decide([f"What is {i} + {i}?"])[0].model for i in range(8)]
    True
"""

from __future__ import annotations

import asyncio
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

#: one thread per core for decision batches (the encoder uses the cores within a batch as well)
_POOL = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix="graphroute-decide")


@dataclass
class _Waiting:
    prompt: str
    max_cost: float | None
    future: asyncio.Future[Any]


@dataclass
class DecisionBatcher:
    """Batches one router's single-prompt decisions on one event loop.

    Args:
        decide: the router's ``decide(prompts, max_cost=...)``.
        max_batch: the most prompts one ``decide`` call takes.
        max_wait_ms: under load, how long a batch waits for more prompts before it starts.
    """

    decide: Callable[..., list[Any]]
    max_batch: int = 64
    max_wait_ms: float = 0.0
    batches: int = 0  # decide calls made
    decided: int = 0  # prompts decided
    _queue: list[_Waiting] = field(default_factory=list)
    _worker: asyncio.Task[None] | None = None
    _last: int = 0

    async def adecide(self, prompt: str, max_cost: float | None = None) -> Any:
        """The ``Decision`` for one prompt, decided with whatever other prompts are waiting."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(prompt, max_cost, fut))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())
        return await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            if self.max_wait_ms > 0 and self._last > 1 and len(self._queue) < self.max_batch:
                await asyncio.sleep(self.max_wait_ms / 1000)
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            self._last = len(batch)
            groups: dict[float | None, list[_Waiting]] = {}
            for w in batch:
                groups.setdefault(w.max_cost, []).append(w)
            for max_cost, items in groups.items():
                live = [w for w in items if not w.future.done()]  # a cancelled request is not decided
                if not live:
                    continue
                try:
                    out = await loop.run_in_executor(_POOL, self._decide, [w.prompt for w in live], max_cost)
                except BaseException as exc:  # every waiting request gets the error
                    for w in live:
                        if not w.future.done():
                            w.future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for w, d in zip(live, out):
                    if not w.future.done():
                        w.future.set_result(d)

    def _decide(self, prompts: list[str], max_cost: float | None) -> list[Any]:
        self.batches += 1
        self.decided += len(prompts)
        return self.decide(prompts, max_cost=max_cost)


_BATCHERS: weakref.WeakKeyDictionary[Any, tuple[asyncio.AbstractEventLoop, DecisionBatcher]] = weakref.WeakKeyDictionary()
_SETTINGS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def batcher_for(router: Any) -> DecisionBatcher:
    """The router's batcher on the running event loop (made on first use; a copy of a router gets its own)."""
    loop = asyncio.get_running_loop()
    held = _BATCHERS.get(router)
    if held is None or held[0] is not loop:
        held = (loop, DecisionBatcher(router.decide, **_SETTINGS.get(router, {})))
        _BATCHERS[router] = held
    return held[1]


def copy_batching(source: Any, copy: Any) -> None:
    """Give ``copy`` (a router copied from ``source``, e.g. at another threshold) ``source``'s batching."""
    if source in _SETTINGS:
        set_batching(copy, **_SETTINGS[source])


def set_batching(router: Any, *, max_batch: int = 64, max_wait_ms: float = 0.0) -> None:
    """How ``router``'s concurrent decisions are batched (``serve.batch`` sets it for a served router)."""
    if max_batch < 1 or max_wait_ms < 0:
        raise ValueError("max_batch >= 1 and max_wait_ms >= 0")
    _SETTINGS[router] = {"max_batch": int(max_batch), "max_wait_ms": float(max_wait_ms)}
    _BATCHERS.pop(router, None)
