"""A circuit breaker per model: opens after ``failures`` failures within ``window_s`` seconds,
lets one probe through after ``cooldown_s`` (half-open), closes when the probe succeeds and opens
again when it fails. One breaker object per model is shared by retries, fallbacks and all
concurrent requests.

While the window holds failures with no success after them, new calls are admitted only as
trials, at most ``failures`` minus the failures so far at a time: under load, a provider that has
just died gets no more failed calls than the threshold before its breaker opens.

``allow`` answers a ticket (0 refused, 1 admitted, 2 trial; a ``Ticket``, which a shared
breaker also gives its trial token) that ``record_success`` / ``record_failure`` take back. ``SlowStart`` caps the calls
in flight to a model that has not shown that it answers (at start, after a failure, after its
breaker closes). The ``a``-methods are the same as coroutines (the state-backend
protocol, ``graphroute.state``), so a shared breaker in Redis is used the same way.

Examples:
    >>> from graphroute.runtime import CircuitBreaker
    >>> t = [0.0]
    >>> b = CircuitBreaker(failures=3, window_s=10, cooldown_s=5, clock=lambda: t[0])
    >>> for _ in range(3): b.record_failure(b.allow())
    >>> b.state, b.allow()
    ('open', 0)
    >>> t[0] = 6.0; probe = b.allow(); probe, b.state, b.allow()
    (2, 'half_open', 0)
    >>> b.record_success(probe); b.state
    'closed'
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any, Callable

REFUSED, ADMITTED, TRIAL = 0, 1, 2


class Ticket(int):
    """An admission (compares as its kind: 1 admitted, 2 trial) with when it was admitted (``at``, on
    the breaker's clock) and, for a shared breaker, its trial token."""

    at: float
    token: str = ""
    shared: bool = False

    def __new__(cls, kind: int, at: float, token: str = "", shared: bool = False) -> "Ticket":
        t = super().__new__(cls, kind)
        t.at, t.token, t.shared = at, token, shared
        return t


class CircuitBreaker:
    """States: ``closed`` (calls pass), ``open`` (refused), ``half_open`` (one probe in flight)."""

    def __init__(self, failures: int = 3, window_s: float = 30.0, cooldown_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.window_s, self.cooldown_s, self.clock = failures, window_s, cooldown_s, clock
        self.state = "closed"
        self.trips = 0
        self._recent: deque[float] = deque()
        self._opened_at = 0.0
        self._trials = 0  # trial calls in flight
        self._lock = threading.Lock()

    def allow(self) -> int:
        """May a call go to this model now? A ticket: 0 refused, 1 admitted, 2 a trial (in half-open,
        only the first caller gets the probe)."""
        with self._lock:
            now = self.clock()
            if self.state == "closed":
                self._prune(now)
                if not self._recent:
                    return Ticket(ADMITTED, now)
                if len(self._recent) + self._trials < self.failures:
                    self._trials += 1
                    return Ticket(TRIAL, now)
                return REFUSED
            if self.state == "open" and now - self._opened_at >= self.cooldown_s:
                self.state = "half_open"
                self._trials += 1
                return Ticket(TRIAL, now)
            return REFUSED

    def record_success(self, ticket: int = ADMITTED) -> None:
        with self._lock:
            self._done(ticket)
            if self.state == "open" or (self.state == "half_open" and ticket != TRIAL):
                return  # a call admitted before the breaker opened says nothing about the model now
            self.state = "closed"
            self._recent.clear()

    def record_failure(self, ticket: int = ADMITTED) -> None:
        with self._lock:
            self._done(ticket)
            now = self.clock()
            if self.state == "half_open":
                self._open(now)
                return
            if self.state == "open":
                return
            self._recent.append(now)
            self._prune(now)
            if len(self._recent) >= self.failures:
                self._open(now)

    def _prune(self, now: float) -> None:
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()

    def release(self, ticket: int) -> None:
        """The call ended with no verdict on the model (cancelled, or the client's own fault)."""
        with self._lock:
            self._done(ticket)

    def _done(self, ticket: int) -> None:
        if ticket == TRIAL:
            self._trials = max(0, self._trials - 1)

    def _open(self, now: float) -> None:
        self.state, self._opened_at = "open", now
        self.trips += 1
        self._recent.clear()

    # the state-backend protocol (graphroute.state.base.Breaker)
    async def aallow(self) -> int:
        return self.allow()

    async def arecord_success(self, ticket: int = ADMITTED) -> None:
        self.record_success(ticket)

    async def arecord_failure(self, ticket: int = ADMITTED) -> None:
        self.record_failure(ticket)

    async def arelease(self, ticket: int) -> None:
        self.release(ticket)


class SlowStart:
    """Calls in flight to one model, capped while it has shown no recent success: at most ``first``
    at a time when no call has succeeded within its recent window (four times its typical call
    time, at least ``min_recent_s``) — at start, once a provider stops answering, and after its
    breaker closes until answers flow again. A model that keeps answering is never capped, however
    many of its calls fail; a caller waits for a slot (at most ``wait_s``) instead of failing. A
    burst at a provider dead from the start reaches it ``first`` calls at a time (per worker), and
    a provider that dies under load gets calls unchecked only until its answers have been missing
    for one short window. While capped, calls go in waves: a slot a failed call frees is not
    handed on until the rest of its wave has reported, so a failing model sees at most ``first``
    calls before the breaker (told of each failure before the slot frees) has heard of them all.

    Examples:
        >>> import asyncio
        >>> from graphroute.runtime.breaker import SlowStart
        >>> async def burst(gate, n, ok):    # n callers at once; the most in flight together
        ...     now = most = 0
        ...     async def one():
        ...         nonlocal now, most
        ...         started = await gate.acquire(wait_s=5)
        ...         now += 1; most = max(most, now)
        ...         await asyncio.sleep(0.01)
        ...         now -= 1; gate.release(started, ok)
        ...     await asyncio.gather(*[one() for _ in range(n)])
        ...     return most
        >>> asyncio.run(burst(SlowStart(first=3), 30, False))     # failing from the start: 3 at a time
        3
        >>> asyncio.run(burst(SlowStart(first=3), 30, True)) > 3  # answering: no cap once answers flow
        True
    """

    def __init__(self, first: int = 3, min_recent_s: float = 0.02, clock: Callable[[], float] = time.monotonic) -> None:
        self.first, self.min_recent_s, self.clock = first, min_recent_s, clock
        self.last_ok = float("-inf")  # at start nothing is known of the model
        self.call_s = 0.0  # typical time of a successful call (exponentially weighted)
        self.inflight = 0
        self.failed = 0  # failures of the current wave while capped (reset when the wave ends)
        self._waiting = 0
        self._cond: Any = None

    @property
    def healthy(self) -> bool:
        """A call succeeded within the recent window."""
        return self.clock() - self.last_ok <= max(self.min_recent_s, 4 * self.call_s)

    async def acquire(self, wait_s: float) -> float | None:
        """A slot: the call's start time, or None when none freed within ``wait_s``."""
        if self._open():
            self.inflight += 1
            return self.clock()
        if self._cond is None:
            self._cond = asyncio.Condition()
        self._waiting += 1
        try:
            async with self._cond:
                await asyncio.wait_for(self._cond.wait_for(self._open), wait_s)
                self.inflight += 1
                return self.clock()
        except asyncio.TimeoutError:
            return None
        finally:
            self._waiting -= 1

    def _open(self) -> bool:
        return self.healthy or self.inflight + self.failed < self.first

    def release(self, started: float, ok: bool | None) -> None:
        """The call ended: ``ok`` True (answered), False (failed) or None (no verdict on the model)."""
        self.inflight = max(0, self.inflight - 1)
        if ok is False:
            self.failed += 1
        if ok or self.inflight == 0:
            self.failed = 0
        if ok:
            now = self.clock()
            self.call_s = (now - started) if self.call_s == 0.0 else 0.8 * self.call_s + 0.2 * (now - started)
            self.last_ok = now
        self._wake()

    def _wake(self) -> None:
        cond = self._cond
        if cond is not None and self._waiting:
            async def notify() -> None:
                async with cond:
                    cond.notify_all()
            try:
                asyncio.get_running_loop().create_task(notify())
            except RuntimeError:  # no loop running: nobody can be waiting
                pass
