"""State in this process only (the default): breakers and budgets are the runtime's own classes,
the rest small dictionaries under one lock. Nothing is shared with another worker.

Examples:
    >>> import asyncio
    >>> from graphroute.state import MemoryState
    >>> st = MemoryState()
    >>> [asyncio.run(st.rate_hit("team-a", limit=2, window_s=60)) is None for _ in range(3)]
    [True, True, False]
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from graphroute.runtime.breaker import CircuitBreaker
from graphroute.runtime.budgets import BudgetManager
from graphroute.runtime.cache_entry import CacheEntry

#: entries kept for ``cache_since`` / ``remember`` before the oldest are dropped
MAX_LOG = 100_000


def decayed(total: float, t_last: float, now: float, half_life_s: float | None) -> float:
    """``total`` seen at ``t_last``, decayed by its half-life to ``now``.

    Examples:
        >>> decayed(8.0, 0.0, 20.0, 10.0)
        2.0
    """
    if not half_life_s:
        return total
    return total * math.pow(0.5, max(0.0, now - t_last) / half_life_s)


def window_wait(into: float, window_s: float, cur: float, prev: float, limit: int) -> float | None:
    """Sliding-window counter: the previous window's count weighs by the share of it still inside
    the sliding window. None when one more request fits, else the seconds until it does.

    Examples:
        >>> window_wait(30.0, 60.0, cur=1, prev=10, limit=10) is None   # 10 * 0.5 + 1 + 1 <= 10
        True
        >>> window_wait(30.0, 60.0, cur=9, prev=10, limit=10)           # wait for the next window
        30.0
    """
    if prev * (1.0 - into / window_s) + cur + 1 <= limit:
        return None
    if cur + 1 > limit or prev <= 0:
        return max(0.001, window_s - into)
    return max(0.001, (1.0 - (limit - cur - 1) / prev) * window_s - into)


class MemoryState:
    """``clock``: wall time in seconds (expiries and decay)."""

    url = "memory://"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int, int]] = {}
        self._bandit: dict[str, dict[str, tuple[float, float, float]]] = {}
        self._cache: list[CacheEntry] = []
        self._cache_base = 0  # cursor of self._cache[0]
        self._kept: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._claims: OrderedDict[str, float] = OrderedDict()

    def breaker(self, name: str, *, failures: int = 3, window_s: float = 30.0, cooldown_s: float = 10.0) -> CircuitBreaker:
        return CircuitBreaker(failures=failures, window_s=window_s, cooldown_s=cooldown_s)

    def budgets(self, global_limit: float | None = None, session_limit: float | None = None,
                session_limits: dict[str, float | None] | None = None, ttl_s: float = 300.0) -> BudgetManager:
        return BudgetManager(global_limit=global_limit, session_limit=session_limit, session_limits=session_limits)

    async def rate_hit(self, key: str, limit: int, window_s: float) -> float | None:
        """A sliding-window counter: None if a request may go now, else the seconds to wait."""
        now = self.clock()
        w = int(now // window_s)
        with self._lock:
            cur_w, cur, prev = self._windows.get(key, (w, 0, 0))
            if cur_w != w:
                cur, prev = (0, cur) if cur_w == w - 1 else (0, 0)
            wait = window_wait(now % window_s, window_s, cur, prev, limit)
            if wait is not None:
                self._windows[key] = (w, cur, prev)
                return wait
            self._windows[key] = (w, cur + 1, prev)
            return None

    async def bandit_add(self, namespace: str, cell: str, reward: float, half_life_s: float | None) -> None:
        now = self.clock()
        with self._lock:
            cells = self._bandit.setdefault(namespace, {})
            s, n, t = cells.get(cell, (0.0, 0.0, now))
            cells[cell] = (decayed(s, t, now, half_life_s) + reward, decayed(n, t, now, half_life_s) + 1.0, now)

    async def bandit_stats(self, namespace: str, half_life_s: float | None = None) -> dict[str, tuple[float, float]]:
        now = self.clock()
        with self._lock:
            return {c: (decayed(s, t, now, half_life_s), decayed(n, t, now, half_life_s))
                    for c, (s, n, t) in self._bandit.get(namespace, {}).items()}

    async def cache_put(self, entry: CacheEntry) -> bool:
        with self._lock:
            self._cache.append(entry)
            if len(self._cache) > MAX_LOG:
                drop = len(self._cache) - MAX_LOG
                del self._cache[:drop]
                self._cache_base += drop
        return True

    async def cache_since(self, cursor: Any) -> tuple[list[CacheEntry], Any]:
        """Entries added after ``cursor`` (None: all kept), and the new cursor."""
        with self._lock:
            start = max(0, (cursor or 0) - self._cache_base)
            now = self.clock()
            return [e for e in self._cache[start:] if e.expires_at > now], self._cache_base + len(self._cache)

    async def remember(self, key: str, value: dict, ttl_s: float) -> None:
        with self._lock:
            self._kept[key] = (self.clock() + ttl_s, value)
            while len(self._kept) > MAX_LOG:
                self._kept.popitem(last=False)

    async def peek(self, key: str) -> dict | None:
        """The value kept under ``key`` (left in place); None if unknown or expired."""
        with self._lock:
            exp, value = self._kept.get(key, (0.0, None))
            return value if exp > self.clock() else None

    async def claim(self, key: str, ttl_s: float) -> bool:
        """True for the first caller of ``key`` within ``ttl_s`` (e.g. one feedback per request and
        metric), False for every later one."""
        now = self.clock()
        with self._lock:
            if self._claims.get(key, 0.0) > now:
                return False
            self._claims[key] = now + ttl_s
            self._claims.move_to_end(key)
            while len(self._claims) > MAX_LOG:
                self._claims.popitem(last=False)
            return True

    async def aclose(self) -> None:
        return None
