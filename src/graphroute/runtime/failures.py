"""Typed provider failures, how to recognise them in any provider's exceptions, and secret redaction.

Examples:
    >>> from graphroute.runtime.failures import classify, redact
    >>> classify(TimeoutError("read timed out")).kind
    'timeout'
    >>> redact("key sk-abcdefghijklmnopqrstuvwx failed")
    'key [REDACTED] failed'
"""

from __future__ import annotations

from graphroute.errors import GraphRouteError
from graphroute.redaction import redact

class ProviderError(GraphRouteError, RuntimeError):
    """A model call failed. ``kind``: timeout, rate_limit, server, malformed, context_length, auth,
    other. ``retryable``: worth retrying on the same model. Messages are redacted of secrets."""

    kinds = ("timeout", "rate_limit", "server", "malformed", "context_length", "auth", "other")

    def __init__(self, kind: str, message: str, model: str = "", retry_after: float | None = None) -> None:
        self.kind, self.model, self.retry_after = kind, model, retry_after
        super().__init__(redact(f"{model + ': ' if model else ''}{kind}: {message}"))

    @property
    def retryable(self) -> bool:
        return self.kind in ("timeout", "rate_limit", "server", "malformed")


class BudgetExceededError(GraphRouteError, RuntimeError):
    """A call would exceed a request, session or global budget; nothing was called."""


class NoModelAvailableError(GraphRouteError, RuntimeError):
    """Every candidate failed, was refused (privacy, budget) or has its circuit open."""


def classify(exc: BaseException, model: str = "") -> ProviderError:
    """Map any exception to a :class:`ProviderError` by its type, status code and message."""
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
