"""Budgets per request, per session and global, enforced *before* a call: a call reserves its worst
case (prompt tokens at the input price + max output tokens at the output price) at every level;
the reservation is replaced by the actual cost when the call returns, or released when it fails.
Concurrent calls therefore cannot jointly overrun a limit.

Examples:
    >>> from graphroute.runtime import BudgetManager
    >>> b = BudgetManager(global_limit=1.0, session_limit=0.5)
    >>> r = b.reserve(0.4, session="s1"); b.commit(r, 0.3)
    >>> b.spent("s1")
    0.3
    >>> b.can_afford(0.3, session="s1")
    False
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

from graphroute.runtime.failures import BudgetExceededError


@dataclass(frozen=True)
class Reservation:
    """Money held for one call until it settles: by this process's ``BudgetManager`` or by the
    shared state (``graphroute.state``; ``id`` unique across workers, ``local`` when a worker held it
    itself during a Redis outage under ``fail_open``)."""

    id: Any
    amount: float
    session: str | None
    request_limit: float | None = None
    local: bool = False


class BudgetManager:
    """``global_limit`` and ``session_limit`` (each session) in dollars; ``None`` = unlimited.
    ``session_limits``: a different limit for named sessions (e.g. one per API key)."""

    def __init__(self, global_limit: float | None = None, session_limit: float | None = None,
                 session_limits: dict[str, float | None] | None = None) -> None:
        self.global_limit, self.session_limit = global_limit, session_limit
        self.session_limits = dict(session_limits or {})
        self._spent_global = 0.0
        self._reserved_global = 0.0
        self._spent: dict[str, float] = {}
        self._reserved: dict[str, float] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def _fits(self, amount: float, session: str | None) -> str | None:
        if self.global_limit is not None and self._spent_global + self._reserved_global + amount > self.global_limit + 1e-15:
            return f"global budget ${self.global_limit:g} (spent ${self._spent_global:.6f})"
        limit = self.limit_of(session)
        if session is not None and limit is not None:
            used = self._spent.get(session, 0.0) + self._reserved.get(session, 0.0)
            if used + amount > limit + 1e-15:
                return f"session {session!r} budget ${limit:g} (spent ${self._spent.get(session, 0.0):.6f})"
        return None

    def limit_of(self, session: str | None) -> float | None:
        """The limit that applies to ``session`` (None: unlimited)."""
        if session is None:
            return None
        return self.session_limits[session] if session in self.session_limits else self.session_limit

    def can_afford(self, amount: float, session: str | None = None) -> bool:
        with self._lock:
            return self._fits(amount, session) is None

    def reserve(self, amount: float, session: str | None = None, request_limit: float | None = None,
                request_spent: float = 0.0) -> Reservation:
        """Hold ``amount`` or raise ``BudgetExceededError`` naming the level that refuses."""
        if request_limit is not None and request_spent + amount > request_limit + 1e-15:
            raise BudgetExceededError(f"request budget ${request_limit:g} (spent ${request_spent:.6f}) cannot cover "
                                      f"a call of up to ${amount:.6f}")
        with self._lock:
            why = self._fits(amount, session)
            if why:
                raise BudgetExceededError(f"{why} cannot cover a call of up to ${amount:.6f}")
            self._reserved_global += amount
            if session is not None:
                self._reserved[session] = self._reserved.get(session, 0.0) + amount
            return Reservation(next(self._ids), amount, session, request_limit)

    def commit(self, r: Reservation, actual: float) -> None:
        """Replace the reservation by what the call really cost."""
        with self._lock:
            self._release(r)
            self._spent_global += actual
            if r.session is not None:
                self._spent[r.session] = self._spent.get(r.session, 0.0) + actual

    def release(self, r: Reservation) -> None:
        """The call failed before costing anything: drop the reservation."""
        with self._lock:
            self._release(r)

    def _release(self, r: Reservation) -> None:
        self._reserved_global -= r.amount
        if r.session is not None:
            self._reserved[r.session] -= r.amount

    def spent(self, session: str | None = None) -> float:
        with self._lock:
            return self._spent_global if session is None else self._spent.get(session, 0.0)

    # the state-backend protocol (graphroute.state.base.Budgets)
    async def areserve(self, amount: float, session: str | None = None, request_limit: float | None = None,
                       request_spent: float = 0.0) -> Reservation:
        return self.reserve(amount, session, request_limit, request_spent)

    async def acommit(self, r: Reservation, actual: float) -> None:
        self.commit(r, actual)

    async def arelease(self, r: Reservation) -> None:
        self.release(r)

    async def aspent(self, session: str | None = None) -> float:
        return self.spent(session)

    def overruns(self) -> int:
        """How many limits are exceeded right now (0 unless a provider returned more than its max tokens)."""
        with self._lock:
            n = int(self.global_limit is not None and self._spent_global > self.global_limit + 1e-12)
            limits = {k: self.limit_of(k) for k in self._spent}
            n += sum(1 for k, v in self._spent.items() if (lim := limits[k]) is not None and v > lim + 1e-12)
            return n
