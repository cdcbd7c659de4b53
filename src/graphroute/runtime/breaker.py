"""A circuit breaker per model: opens after ``failures`` failures within ``window_s`` seconds,
lets one probe through after ``cooldown_s`` (half-open), closes when the probe succeeds and opens
again when it fails. One breaker object per model is shared by retries, fallbacks and all
concurrent requests.

Examples:
    >>> from graphroute.runtime import CircuitBreaker
    >>> t = [0.0]
    >>> b = CircuitBreaker(failures=3, window_s=10, cooldown_s=5, clock=lambda: t[0])
    >>> for _ in range(3): b.record_failure()
    >>> b.state, b.allow()
    ('open', False)
    >>> t[0] = 6.0; b.allow(), b.state, b.allow()
    (True, 'half_open', False)
    >>> b.record_success(); b.state
    'closed'
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable


class CircuitBreaker:
    """States: ``closed`` (calls pass), ``open`` (refused), ``half_open`` (one probe in flight)."""

    def __init__(self, failures: int = 3, window_s: float = 30.0, cooldown_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.window_s, self.cooldown_s, self.clock = failures, window_s, cooldown_s, clock
        self.state = "closed"
        self.trips = 0
        self._recent: deque[float] = deque()
        self._opened_at = 0.0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """May a call go to this model now? (In half-open, only the first caller gets the probe.)"""
        with self._lock:
            if self.state == "closed":
                return True
            if self.state == "open" and self.clock() - self._opened_at >= self.cooldown_s:
                self.state = "half_open"
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self.state = "closed"
            self._recent.clear()

    def record_failure(self) -> None:
        with self._lock:
            now = self.clock()
            if self.state == "half_open":
                self._open(now)
                return
            self._recent.append(now)
            while self._recent and now - self._recent[0] > self.window_s:
                self._recent.popleft()
            if self.state == "closed" and len(self._recent) >= self.failures:
                self._open(now)

    def _open(self, now: float) -> None:
        self.state, self._opened_at = "open", now
        self.trips += 1
        self._recent.clear()
