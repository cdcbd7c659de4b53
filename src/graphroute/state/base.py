"""The state-backend protocol: what graphroute keeps while it serves (circuit breakers, budgets,
rate limits, bandit statistics, semantic-cache entries, requests awaiting feedback), behind one
interface so that one process (``MemoryState``) or many
(``RedisState``) share it.

Every method that changes state is one atomic step of the backend: one lock in memory, one Lua
script in Redis. Methods are coroutines, so a network backend never blocks the event loop.

Examples:
    >>> import asyncio
    >>> from graphroute.state import open_state
    >>> async def demo():
    ...     st = open_state(None)                      # in memory: today's single-process behaviour
    ...     b = st.breaker("gpt4", failures=2, window_s=10, cooldown_s=5)
    ...     t = await b.aallow(); await b.arecord_failure(t)
    ...     t = await b.aallow(); await b.arecord_failure(t)
    ...     return b.state, await b.aallow()
    >>> asyncio.run(demo())
    ('open', 0)
"""

from __future__ import annotations

from typing import Any, Protocol

from graphroute.errors import StateUnavailableError
from graphroute.runtime.budgets import Reservation  # noqa: F401 (part of the protocol)
from graphroute.runtime.cache_entry import CacheEntry  # noqa: F401 (part of the protocol)

#: what a breaker's ``aallow`` answers: refused (0), admitted (1), or admitted as a trial (2: the
#: half-open probe, or a call while failures have no success between them), reported back after
from graphroute.runtime.breaker import ADMITTED, REFUSED, TRIAL  # noqa: E402

POLICIES = ("fail_closed", "fail_open")


class Breaker(Protocol):
    """One model's circuit breaker: ``state`` is the last one seen (closed, open, half_open)."""

    state: str
    trips: int

    async def aallow(self) -> int: ...
    async def arecord_success(self, ticket: int = ADMITTED) -> None: ...
    async def arecord_failure(self, ticket: int = ADMITTED) -> None: ...
    async def arelease(self, ticket: int) -> None: ...


class Budgets(Protocol):
    """Global and per-session limits in dollars; reservations hold a call's worst case until it settles."""

    global_limit: float | None

    def limit_of(self, session: str | None) -> float | None: ...
    async def areserve(self, amount: float, session: str | None = None, request_limit: float | None = None,
                       request_spent: float = 0.0) -> Reservation: ...
    async def acommit(self, r: Reservation, actual: float) -> None: ...
    async def arelease(self, r: Reservation) -> None: ...
    async def aspent(self, session: str | None = None) -> float: ...


class StateBackend(Protocol):
    """The factory of shared pieces; ``url`` names it (``memory://`` or ``redis://host:port/db``)."""

    url: str

    def breaker(self, name: str, *, failures: int = 3, window_s: float = 30.0, cooldown_s: float = 10.0) -> Breaker: ...
    def budgets(self, global_limit: float | None = None, session_limit: float | None = None,
                session_limits: dict[str, float | None] | None = None, ttl_s: float = 300.0) -> Budgets: ...
    async def rate_hit(self, key: str, limit: int, window_s: float) -> float | None: ...
    async def bandit_add(self, namespace: str, cell: str, reward: float, half_life_s: float | None) -> None: ...
    async def bandit_stats(self, namespace: str, half_life_s: float | None = None) -> dict[str, tuple[float, float]]: ...
    async def cache_put(self, entry: CacheEntry) -> bool: ...
    async def cache_since(self, cursor: Any) -> tuple[list[CacheEntry], Any]: ...
    async def remember(self, key: str, value: dict, ttl_s: float) -> None: ...
    async def peek(self, key: str) -> dict | None: ...
    async def claim(self, key: str, ttl_s: float) -> bool: ...
    async def aclose(self) -> None: ...


__all__ = ["ADMITTED", "POLICIES", "REFUSED", "TRIAL", "Breaker", "Budgets", "CacheEntry", "Reservation", "StateBackend",
           "StateUnavailableError"]
