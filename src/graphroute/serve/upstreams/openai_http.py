"""An OpenAI-compatible HTTP endpoint as an upstream (OpenAI, a vLLM or llama.cpp server, a proxy),
called with ``aiohttp`` (httpx's connection pool slowed to ~110 requests/s at 256 concurrent
requests in benchmarks/serve_overhead.py; aiohttp's does not): the request body is passed on whole (``tools``, ``response_format``, ``n``,
``logprobs`` and fields the server does not know), only ``model`` is replaced by the served name.
The key (``api_key_env``) goes in the ``Authorization`` header and nowhere else.

Examples:
    >>> import asyncio
    >>> from graphroute.serve.upstreams.openai_http import OpenAIUpstream
    >>> up = OpenAIUpstream("small", "gemma-3-270m", "http://127.0.0.1:9/v1", timeout_s=1)
    >>> try:
    ...     asyncio.run(up.complete({"messages": [{"role": "user", "content": "hi"}]}))
    ... except Exception as exc:
    ...     print(type(exc).__name__)
    ClientConnectorError
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import aiohttp

from graphroute.models.endpoints import api_key
from graphroute.runtime.failures import ProviderError
from graphroute.serve.upstreams.base import UpstreamStatusError


def _retry_after(headers) -> float | None:
    try:
        return float(headers.get("retry-after", ""))
    except ValueError:
        return None


def _status_error(status: int, headers, text: bytes) -> UpstreamStatusError:
    try:
        body = json.loads(text)
    except ValueError:
        body = {"error": {"message": text[:200].decode("utf-8", "replace"), "type": "upstream_error"}}
    return UpstreamStatusError(status, body, _retry_after(headers))


class OpenAIUpstream:
    """``model``: the config's id; ``served``: the name the endpoint serves; ``base_url`` ends in /v1."""

    def __init__(self, model: str, served: str, base_url: str, *, api_key_env: str | None = None, timeout_s: float = 60.0,
                 max_connections: int = 512, field: str | None = None) -> None:
        self.model, self.served = model, served
        key = api_key(api_key_env, field=field)
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.secrets = (key,) if key else ()  # never in a response: scrubbed from every error the server sends
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(10.0, timeout_s))
        # streams: each read is bounded, not the whole answer
        self._stream_timeout = aiohttp.ClientTimeout(total=None, sock_read=timeout_s, sock_connect=min(10.0, timeout_s))
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:  # made in the serving loop, on first use
            self._session = aiohttp.ClientSession(headers=self._headers, connector=aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections))
        return self._session

    def _body(self, body: dict[str, Any], stream: bool) -> dict[str, Any]:
        out = {**body, "model": self.served, "stream": stream}
        if stream:  # usage is what the cost is computed from; the client gets it only if it asked
            out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        else:
            out.pop("stream_options", None)
        return out

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self._client().post(self._url, json=self._body(body, False), timeout=self._timeout) as r:
            text = await r.read()
            if r.status >= 400:
                raise _status_error(r.status, r.headers, text)
        try:
            data = json.loads(text)
            if not isinstance(data.get("choices"), list) or not data["choices"]:
                raise ValueError("no choices")
        except (ValueError, AttributeError) as exc:
            raise ProviderError("malformed", f"not a chat completion: {exc}", self.model) from None
        return data

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async with self._client().post(self._url, json=self._body(body, True), timeout=self._stream_timeout) as r:
            if r.status >= 400:
                raise _status_error(r.status, r.headers, await r.read())
            async for raw in r.content:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    obj = json.loads(data)
                except ValueError:
                    raise ProviderError("malformed", f"unparsable stream event {data[:80]!r}", self.model) from None
                if isinstance(obj, dict) and obj.get("error"):
                    err = obj["error"]
                    raise ProviderError("server", str(err.get("message", err) if isinstance(err, dict) else err), self.model)
                yield obj

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
