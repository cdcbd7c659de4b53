"""A request's ledger: what the Gateway and the server keep for one request while it is answered.

Its identity (session, budget, output bound) is set once; ``spent`` and ``provider_ms`` are the only
fields that change, as calls settle, so it is a slotted keyword-only dataclass rather than a frozen one.

Examples:
    >>> from graphroute.runtime.ledger import Ledger
    >>> led = Ledger(session="s1", budget=0.5)
    >>> led.add(cost=0.01, provider_ms=120.0); led.add(cost=0.02, provider_ms=80.0)
    >>> round(led.spent, 4), led.provider_ms, led.remaining
    (0.03, 200.0, 0.47)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(kw_only=True, slots=True)
class Ledger:
    """One request's budget context and running totals.

    Args:
        session: the session whose budget the request draws on (None: none).
        budget: the request's own dollar cap (None: none).
        max_output_tokens: the output bound a reservation assumes (None: the gateway's).
        spent: dollars settled so far over every attempt.
        provider_ms: time spent inside provider calls so far.
    """

    session: str | None = None
    budget: float | None = None
    max_output_tokens: int | None = None
    spent: float = 0.0
    provider_ms: float = 0.0

    def add(self, *, cost: float, provider_ms: float) -> None:
        """Account one settled call."""
        self.spent += cost
        self.provider_ms += provider_ms

    @property
    def remaining(self) -> float | None:
        """Dollars left under ``budget`` (None without one)."""
        return None if self.budget is None else round(self.budget - self.spent, 12)
