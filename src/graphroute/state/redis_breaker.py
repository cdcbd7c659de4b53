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

import uuid
from typing import Any

from graphroute.runtime.breaker import ADMITTED, TRIAL, CircuitBreaker
from graphroute.state.base import StateUnavailableError


class RedisBreaker:
    """``state`` and ``trips`` are the last ones Redis answered."""

    def __init__(self, st: Any, name: str, *, failures: int, window_s: float, cooldown_s: float, trial_ttl_s: float) -> None:
        self.st, self.name = st, name
        self.failures, self.window_s, self.cooldown_s, self.trial_ttl_s = failures, window_s, cooldown_s, trial_ttl_s
        self.keys = [st.key(f"br:{name}", ""), st.key(f"br:{name}", "f"), st.key(f"br:{name}", "t")]
        self.state, self.trips = "closed", 0
        self.local = CircuitBreaker(failures=failures, window_s=window_s, cooldown_s=cooldown_s)
        self._tokens: dict[int, str] = {}  # our ticket numbers -> Redis trial tokens
        self._next = 10  # shared tickets are > 2; 0-2 are the local breaker's own

    async def aallow(self) -> int:
        token = uuid.uuid4().hex
        try:
            verdict, state = await self.st.script("BREAKER_ALLOW", self.keys,
                                                  [self.failures, self.cooldown_s, self.trial_ttl_s, token,
                                                                        self.window_s])
        except StateUnavailableError:
            return self.local.allow()
        self.state = state.decode() if isinstance(state, bytes) else state
        if int(verdict) != TRIAL:
            return int(verdict)
        self._next += 1
        self._tokens[self._next] = token
        return self._next

    def _token(self, ticket: int) -> str:
        return self._tokens.pop(ticket, "") if ticket > TRIAL else ""

    async def arecord_success(self, ticket: int = ADMITTED) -> None:
        if ticket <= TRIAL and ticket != ADMITTED:
            self.local.record_success(ticket)
            return
        token = self._token(ticket)
        try:
            self.state = (await self.st.script("BREAKER_SUCCESS", self.keys, [token, "1" if token else "0"])).decode()
        except StateUnavailableError:
            self.local.record_success()

    async def arecord_failure(self, ticket: int = ADMITTED) -> None:
        if ticket <= TRIAL and ticket != ADMITTED:
            self.local.record_failure(ticket)
            return
        try:
            state = (await self.st.script("BREAKER_FAILURE", self.keys, [self.failures, self.window_s, self._token(ticket),
                                                                       uuid.uuid4().hex])).decode()
        except StateUnavailableError:
            self.local.record_failure()
            return
        if state == "open" and self.state != "open":
            self.trips += 1
        self.state = state

    async def arelease(self, ticket: int) -> None:
        if ticket <= TRIAL:
            self.local.release(ticket)
            return
        token = self._token(ticket)
        try:
            await self.st.run(lambda: self.st.client.zrem(self.keys[2], token))
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

