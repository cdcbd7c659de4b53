"""What the server calls: an upstream answers OpenAI chat-completion bodies, whole or as a stream of
chunk objects. A failure is a ``ProviderError`` (retried, counted by the
breaker, then the next fallback) or an ``UpstreamStatusError`` the client caused (relayed).

Examples:
    >>> from graphroute.serve.upstreams.base import UpstreamStatusError
    >>> e = UpstreamStatusError(400, {"error": {"message": "bad tools", "type": "invalid_request_error"}})
    >>> e.client_fault, str(e)
    (True, 'HTTP 400: bad tools')
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Protocol

from graphroute.errors import UpstreamStatusError

__all__ = ["Upstream", "UpstreamStatusError"]


class Upstream(Protocol):
    """A model behind the OpenAI chat-completions API."""

    model: str  # the config's model id

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """A ``chat.completion`` for ``body`` (its ``model`` is replaced by the upstream's own name)."""

    def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """``chat.completion.chunk`` objects; the last one carries ``usage``."""

    async def aclose(self) -> None:
        """Release connections."""


