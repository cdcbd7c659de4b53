"""What the server calls: an upstream answers OpenAI chat-completion bodies, whole or as a stream of
chunk objects. A failure is a :class:`~graphroute.runtime.ProviderError` (retried, counted by the
breaker, then the next fallback) or an :class:`UpstreamStatusError` the client caused (relayed).

Examples:
    >>> from graphroute.serve.upstreams.base import UpstreamStatusError
    >>> e = UpstreamStatusError(400, {"error": {"message": "bad tools", "type": "invalid_request_error"}})
    >>> e.client_fault, str(e)
    (True, 'HTTP 400: bad tools')
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Protocol


class Upstream(Protocol):
    """A model behind the OpenAI chat-completions API."""

    model: str  # the config's model id

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """A ``chat.completion`` for ``body`` (its ``model`` is replaced by the upstream's own name)."""

    def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """``chat.completion.chunk`` objects; the last one carries ``usage``."""

    async def aclose(self) -> None:
        """Release connections."""


class UpstreamStatusError(Exception):
    """An upstream answered with an HTTP error. ``client_fault``: the request itself is at fault
    (400/404/413/422): relayed to the client as it is, never retried, not the provider's failure."""

    def __init__(self, status_code: int, body: Any, retry_after: float | None = None) -> None:
        self.status_code, self.body, self.retry_after = int(status_code), body, retry_after
        self.client_fault = self.status_code in (400, 404, 413, 422)
        err = body.get("error") if isinstance(body, dict) else None
        message = err.get("message") if isinstance(err, dict) else (err if isinstance(err, str) else str(body)[:200])
        super().__init__(f"HTTP {self.status_code}: {message}")
