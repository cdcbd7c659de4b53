"""A circuit breaker per model: opens after ``failures`` failures within ``window_s`` seconds,
lets one probe through after ``cooldown_s`` (half-open), closes when the probe succeeds and opens
again when it fails. One breaker object per model is shared by retries, fallbacks and all
concurrent requests.

While the window holds failures with no success after them, new calls are admitted only as
trials, at most ``failures`` minus the failures so far at a time: under load, a provider that has
just died gets no more failed calls than the threshold before its breaker opens.

``allow`` answers a ticket (0 refused, 1 admitted, 2 trial) that ``record_success`` /
``record_failure`` take back. The ``a``-methods are the same as coroutines (the state-backend
protocol, :mod:`graphroute.state`), so a shared breaker in Redis is used the same way.

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

import threading
import time
from collections import deque
from typing import Callable

REFUSED, ADMITTED, TRIAL = 0, 1, 2


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
            if self.state == "closed":
                self._prune(self.clock())
                if not self._recent:
                    return ADMITTED
                if len(self._recent) + self._trials < self.failures:
                    self._trials += 1
                    return TRIAL
                return REFUSED
            if self.state == "open" and self.clock() - self._opened_at >= self.cooldown_s:
                self.state = "half_open"
                self._trials += 1
                return TRIAL
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
