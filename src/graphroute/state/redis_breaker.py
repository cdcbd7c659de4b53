"""A circuit breaker shared by every worker through Redis: failures are counted across workers,
and after the cool-down exactly one worker's call is elected the half-open probe (a probe whose
worker dies frees its slot after ``trial_ttl_s``). While Redis is unreachable the worker falls back
to its own in-memory breaker and returns to the shared one when Redis is back.

Examples:
    >>> import asyncio
    >>> from graphroute.state import open_state
    >>> async def demo():
    ...     a, b = (open_state("redis://127.0.0.1:6379/15", prefix="doctest-br") for _ in range(2))  # two workers
    ...     await a.client.delete(*[a.key("br:m", s) for s in ("", "f", "t")])
    ...     ba, bb = a.breaker("m", failures=2, cooldown_s=0.05), b.breaker("m", failures=2, cooldown_s=0.05)
    ...     await ba.arecord_failure(await ba.aallow()); await bb.arecord_failure(await bb.aallow())
    ...     opened = await bb.aallow()
    ...     await asyncio.sleep(0.06)
    ...     probes = [await ba.aallow() > 0, await bb.aallow() > 0]     # one probe for both workers
    ...     await a.aclose(); await b.aclose()
    ...     return opened, ba.state, probes
    >>> asyncio.run(demo())
    (0, 'half_open', [True, False])
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from graphroute.runtime.breaker import ADMITTED, REFUSED, TRIAL, CircuitBreaker, Ticket
from graphroute.state.base import StateUnavailableError


def _local(ticket: int) -> bool:
    """A ticket of the local breaker (given while Redis was unreachable)."""
    return isinstance(ticket, Ticket) and not ticket.shared


class RedisBreaker:
    """``state`` and ``trips`` are the last ones Redis answered."""

    def __init__(self, st: Any, name: str, *, failures: int, window_s: float, cooldown_s: float, trial_ttl_s: float) -> None:
        self.st, self.name = st, name
        self.failures, self.window_s, self.cooldown_s, self.trial_ttl_s = failures, window_s, cooldown_s, trial_ttl_s
        self.keys = [st.key(f"br:{name}", ""), st.key(f"br:{name}", "f"), st.key(f"br:{name}", "t")]
        self.state, self.trips = "closed", 0
        self.local = CircuitBreaker(failures=failures, window_s=window_s, cooldown_s=cooldown_s)

    async def aallow(self) -> int:
        token = uuid.uuid4().hex
        try:
            verdict, state = await self.st.script("BREAKER_ALLOW", self.keys,
                                                  [self.failures, self.cooldown_s, self.trial_ttl_s, token, self.window_s])
        except StateUnavailableError:
            return self.local.allow()
        self.state = state.decode() if isinstance(state, bytes) else state
        if not int(verdict):
            return REFUSED
        return Ticket(int(verdict), time.monotonic(), token if int(verdict) == TRIAL else "", shared=True)

    async def arecord_success(self, ticket: int = ADMITTED) -> None:
        if _local(ticket):
            self.local.record_success(ticket)
            return
        try:
            self.state = (await self.st.script("BREAKER_SUCCESS", self.keys,
                                               [getattr(ticket, "token", ""), "1" if ticket == TRIAL else "0"])).decode()
        except StateUnavailableError:
            self.local.record_success()

    async def arecord_failure(self, ticket: int = ADMITTED) -> None:
        if _local(ticket):
            self.local.record_failure(ticket)
            return
        try:
            state = (await self.st.script("BREAKER_FAILURE", self.keys, [self.failures, self.window_s,
                                                                       getattr(ticket, "token", ""),
                                                                       uuid.uuid4().hex])).decode()
        except StateUnavailableError:
            self.local.record_failure()
            return
        if state == "open" and self.state != "open":
            self.trips += 1
        self.state = state

    async def arelease(self, ticket: int) -> None:
        if _local(ticket):
            self.local.release(ticket)
            return
        if not getattr(ticket, "token", ""):
            return
        try:
            await self.st.run(lambda: self.st.client.zrem(self.keys[2], ticket.token))  # type: ignore[attr-defined]
        except StateUnavailableError:
            pass  # the token expires after trial_ttl_s

    async def refresh(self) -> str:
        """Read the shared state (for metrics)."""
        try:
            raw = await self.st.run(lambda: self.st.client.hmget(self.keys[0], "state", "trips"))
        except StateUnavailableError:
            return self.local.state
        self.state = (raw[0] or b"closed").decode()
        self.trips = int(raw[1] or 0)
        return self.state

