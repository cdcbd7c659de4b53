"""Budgets shared by every worker through Redis: a call reserves its worst case at the global level
and its session's (one Lua script checks both and holds both), and settles to its actual cost
after. A reservation carries a TTL: the reservations of a worker that crashed expire and free
their money. Limits are never exceeded across workers, whatever the concurrency.

Redis must keep the spend across a restart (AOF, ``appendonly yes``): at start the first worker
writes an epoch marker, and a Redis that comes back without it has lost the spend — budgeted calls
are then refused (``fail_closed``) instead of counting from zero. Settlements that could not
reach Redis are kept and written when it is back.

Examples:
    >>> import asyncio
    >>> from graphroute.state import open_state
    >>> async def demo():
    ...     st = open_state("redis://127.0.0.1:6379/15", prefix="doctest-budget")
    ...     await st.client.flushdb()
    ...     b = st.budgets(global_limit=1.0, session_limits={"key:a": 0.5})
    ...     r = await b.areserve(0.4, "key:a"); await b.acommit(r, 0.3)
    ...     try:
    ...         await b.areserve(0.3, "key:a")
    ...     except Exception as exc:
    ...         refused = type(exc).__name__
    ...     spent = await b.aspent("key:a")
    ...     await st.aclose()
    ...     return spent, refused
    >>> asyncio.run(demo())
    (0.3, 'BudgetExceededError')
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from typing import Any

from graphroute.runtime.budgets import BudgetManager
from graphroute.runtime.failures import BudgetExceededError
from graphroute.state.base import Reservation, StateUnavailableError

log = logging.getLogger("graphroute.state")

GLOBAL = "*"


class RedisBudgets:
    """``ttl_s``: how long a reservation may stay unsettled (longer than any call with its retries)."""

    def __init__(self, st: Any, *, global_limit: float | None, session_limit: float | None,
                 session_limits: dict[str, float | None] | None, ttl_s: float) -> None:
        self.st, self.ttl_s = st, ttl_s
        self.global_limit, self.session_limit = global_limit, session_limit
        self.session_limits = dict(session_limits or {})
        self.keys = [st.key("budget", n) for n in ("spent", "held", "res", "exp", "epoch")]
        self.epoch: str | None = None
        self.local = BudgetManager(global_limit, session_limit, self.session_limits)  # fail_open only
        self._unsettled: deque[tuple[str, float, list[str]]] = deque()

    def limit_of(self, session: str | None) -> float | None:
        if session is None:
            return None
        return self.session_limits[session] if session in self.session_limits else self.session_limit

    async def _epoch(self) -> str:
        if self.epoch is None:
            mark = uuid.uuid4().hex
            await self.st.run(lambda: self.st.client.set(self.keys[4], mark, nx=True))
            got = await self.st.run(lambda: self.st.client.get(self.keys[4]))
            self.epoch = got.decode()
        return self.epoch

    async def _call(self, name: str, args: list[Any]) -> list:
        out = await self.st.script(name, self.keys, [await self._epoch(), *args])
        if int(out[0]) == -2:
            raise StateUnavailableError("Redis lost the budget state (restarted without persistence?): budgeted calls "
                                        "are refused until it is restored or the server restarted", self.st.host)
        return out

    async def _flush(self) -> None:
        while self._unsettled:
            item = self._unsettled.popleft()  # taken before the await: concurrent flushes never settle it twice
            try:
                await self._call("BUDGET_SETTLE", [item[0], item[1], *item[2]])
            except BaseException:
                self._unsettled.appendleft(item)
                raise

    def _scopes(self, session: str | None) -> list[tuple[str, float]]:
        out = [(GLOBAL, -1.0 if self.global_limit is None else self.global_limit)]
        if session is not None:
            lim = self.limit_of(session)
            out.append((session, -1.0 if lim is None else lim))
        return out

    async def areserve(self, amount: float, session: str | None = None, request_limit: float | None = None,
                       request_spent: float = 0.0) -> Reservation:
        """Hold ``amount`` at every level, or raise ``BudgetExceededError`` naming the level."""
        if request_limit is not None and request_spent + amount > request_limit + 1e-15:
            raise BudgetExceededError(f"request budget ${request_limit:g} (spent ${request_spent:.6f}) cannot cover "
                                      f"a call of up to ${amount:.6f}")
        rid = uuid.uuid4().hex
        try:
            await self._flush()
            out = await self._call("BUDGET_RESERVE", [rid, amount, self.ttl_s,
                                                      *[x for pair in self._scopes(session) for x in pair]])
        except StateUnavailableError:
            if self.st.policy == "fail_closed":
                raise
            log.warning("budget reserved under this worker's local limits only (Redis unreachable; fail_open)")
            r = self.local.reserve(amount, session, request_limit, request_spent)
            return Reservation(r, amount, session, request_limit, local=True)
        if int(out[0]) == 0:
            level, spent = out[1].decode(), float(out[2])
            what = f"global budget ${self.global_limit:g}" if level == GLOBAL else \
                f"session {level!r} budget ${self.limit_of(level):g}"
            raise BudgetExceededError(f"{what} (spent ${spent:.6f}) cannot cover a call of up to ${amount:.6f}")
        return Reservation(rid, amount, session, request_limit)

    async def _settle(self, r: Reservation, actual: float) -> None:
        if r.local:
            (self.local.commit(r.id, actual) if actual >= 0 else self.local.release(r.id))
            return
        scopes = [s for s, _ in self._scopes(r.session)]
        try:
            await self._flush()
            await self._call("BUDGET_SETTLE", [r.id, actual, *scopes])
        except StateUnavailableError:
            # the money is spent whatever Redis says: write it down when Redis is back
            self._unsettled.append((r.id, actual, scopes))

    async def acommit(self, r: Reservation, actual: float) -> None:
        """Replace the reservation by what the call really cost."""
        await self._settle(r, max(0.0, float(actual)))

    async def arelease(self, r: Reservation) -> None:
        """The call failed before costing anything: drop the reservation."""
        await self._settle(r, -1.0)

    async def aspent(self, session: str | None = None) -> float:
        raw = await self.st.run(lambda: self.st.client.hget(self.keys[0], GLOBAL if session is None else session))
        return float(raw or 0.0)

    async def aheld(self, session: str | None = None) -> float:
        """Money reserved by calls still running (for tests and metrics)."""
        raw = await self.st.run(lambda: self.st.client.hget(self.keys[1], GLOBAL if session is None else session))
        return float(raw or 0.0)

    async def aoverruns(self) -> int:
        """How many limits the shared spend exceeds now."""
        raw = await self.st.run(lambda: self.st.client.hgetall(self.keys[0]))
        spent = {k.decode(): float(v) for k, v in raw.items()}
        n = int(self.global_limit is not None and spent.get(GLOBAL, 0.0) > self.global_limit + 1e-9)
        limits = {k: self.limit_of(k) for k in spent if k != GLOBAL}
        return n + sum(1 for k, lim in limits.items() if lim is not None and spent[k] > lim + 1e-9)
