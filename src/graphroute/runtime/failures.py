"""Typed provider failures, how to recognise them in any provider's exceptions, and secret redaction.

Examples:
    >>> from graphroute.runtime.failures import classify, redact
    >>> classify(TimeoutError("read timed out")).kind
    'timeout'
    >>> redact("key sk-abcdefghijklmnopqrstuvwx failed")
    'key [REDACTED] failed'
"""

from __future__ import annotations

from graphroute.errors import BudgetExceededError, NoModelAvailableError, ProviderError, StateUnavailableError
from graphroute.redaction import redact
from graphroute.types import CallAttempt

__all__ = ["BudgetExceededError", "NoModelAvailableError", "ProviderError", "classify", "no_model", "redact", "refusal"]

def classify(exc: BaseException, model: str = "") -> ProviderError:
    """Map any exception to a ``ProviderError`` by its type, status code and message."""
    if isinstance(exc, ProviderError):
        return exc
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    name, msg = type(exc).__name__.lower(), str(exc)
    low = msg.lower()
    if isinstance(exc, TimeoutError) or "timeout" in name or "timed out" in low:
        kind = "timeout"
    elif status == 429 or "ratelimit" in name or "rate limit" in low or "429" in low:
        kind = "rate_limit"
    elif "context" in low and ("length" in low or "window" in low or "too long" in low) or "contextwindow" in name:
        kind = "context_length"
    elif status in (401, 403) or "auth" in name or "unauthorized" in low or "forbidden" in low:
        kind = "auth"
    elif (isinstance(status, int) and status >= 500) or "server" in name or " 50" in f" {low}" or "internal error" in low:
        kind = "server"
    elif isinstance(exc, (ValueError, KeyError)) or "parse" in low or "malformed" in low or "json" in name:
        kind = "malformed"
    else:
        kind = "other"
    retry_after = getattr(exc, "retry_after", None)
    return ProviderError(kind, msg or type(exc).__name__, model, retry_after if isinstance(retry_after, (int, float)) else None)


def refusal(exc: BaseException) -> str:
    """An attempt's error label for a call refused before it was made: ``budget`` (no money left) or
    ``state_unavailable`` (the shared budgets cannot be checked: an outage, not a budget)."""
    return "state_unavailable" if isinstance(exc, StateUnavailableError) else "budget"


def no_model(attempts: list[CallAttempt], last: BaseException | None) -> BaseException:
    """What a fallback chain that ran out raises: the refusal itself when every attempt was refused
    for the same reason (budget, or the state outage), else ``NoModelAvailableError``."""
    kinds = {a.error for a in attempts}
    if last is not None and len(kinds) == 1 and kinds <= {"budget", "state_unavailable"}:
        return last
    return NoModelAvailableError(f"every model failed or was refused: {[(a.model, a.error) for a in attempts]}")
