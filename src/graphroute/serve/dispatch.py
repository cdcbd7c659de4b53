"""Calling upstreams for one request through the gateway: the chosen model, then its fallbacks, each
with retries, its circuit breaker and a budget reservation of the worst case.

Streams fall back only before the first token: a stream is opened, and it counts as answered by a
model once a chunk with content (or a tool call) arrives; failures before that try the next
model. After it, a failure ends the stream with an error event (``Stream``), never another
model's text spliced in. Closing a ``Stream`` (the client went away) closes the upstream call.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, AsyncIterator

from graphroute.costs import count_tokens
from graphroute.runtime.budgets import Reservation
from graphroute.runtime.failures import ProviderError, classify
from graphroute.runtime.gateway import Gateway, Reply
from graphroute.runtime.ledger import Ledger
from graphroute.types import CallAttempt


def _check_completion(payload: dict[str, Any], model: str) -> str:
    """The first choice's text; a completion with neither text nor tool calls is malformed."""
    try:
        msg = payload["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError("malformed", "no choices[0].message", model) from None
    text = msg.get("content") if isinstance(msg, dict) else None
    if not (isinstance(text, str) and text.strip()) and not (isinstance(msg, dict) and msg.get("tool_calls")):
        raise ProviderError("malformed", "empty answer (no content, no tool calls)", model)
    return text or ""


def _usage(payload: dict[str, Any]) -> tuple[int, int]:
    u = payload.get("usage") or {}
    return int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)


def _has_token(ch: dict[str, Any]) -> bool:
    for c in ch.get("choices") or []:
        d = c.get("delta") or {}
        if d.get("content") or d.get("tool_calls") or d.get("function_call"):
            return True
    return False


def _delta_text(ch: dict[str, Any]) -> str:
    return "".join(str((c.get("delta") or {}).get("content") or "") for c in ch.get("choices") or [])


class Dispatcher:
    """``gateway``: upstreams as its models; ``windows``/``max_out``: per model context window and
    output bound (the worst case a budget reserves)."""

    def __init__(self, gateway: Gateway, upstreams: dict[str, Any], windows: dict[str, int], max_out: dict[str, int],
                 timeout_s: float, token_margin: float = 1.0) -> None:
        self.gateway, self.upstreams, self.windows, self.max_out, self.timeout_s = gateway, upstreams, windows, max_out, timeout_s
        self.token_margin = token_margin

    def prepare(self, model: str, body: dict[str, Any], tokens: int, request: Ledger) -> dict[str, Any] | None:
        """The body for ``model``: its output bound applied (the budget's worst case must hold); None if
        the prompt does not fit its window."""
        cap = self.max_out.get(model, 1024)
        asked = body.get("max_completion_tokens") or body.get("max_tokens")
        out = min(int(asked), cap) if asked else cap
        if tokens + out > self.windows.get(model, 1 << 30):
            return None
        request.max_output_tokens = out * int(body.get("n") or 1)
        field = "max_completion_tokens" if "max_completion_tokens" in body and "max_tokens" not in body else "max_tokens"
        return {**body, field: out}

    async def _first_success(self, first: str, body: dict[str, Any], tokens: int, request: Ledger,
                             make_call: Any, defer: bool,
                             fallbacks: bool = True) -> tuple[str, Reply, Reservation | None, list[CallAttempt]]:
        """Try ``first`` then its fallbacks through the Gateway's one fallback loop:
        ``make_call(model, body)`` makes one try of one model."""
        attempts: list[CallAttempt] = []

        async def answer(model: str) -> tuple[Reply, Reservation | None]:
            sent = self.prepare(model, body, tokens, request)
            if sent is None:
                raise self.gateway.window_miss(model, tokens, self.windows.get(model), attempts)
            return await self.gateway.attempt(model, lambda: make_call(model, sent), tokens=tokens, request=request,
                                              attempts=attempts, defer=defer,
                                              reserve_tokens=math.ceil(tokens * self.token_margin))

        model, (reply, res) = await self.gateway.first_answer(self.gateway.chain(first) if fallbacks else [first],
                                                              answer, attempts)
        return model, reply, res, attempts

    async def _complete_once(self, model: str, sent: dict[str, Any]) -> Reply:
        t0 = time.perf_counter()
        payload = await asyncio.wait_for(self.upstreams[model].complete(sent), timeout=self.timeout_s)
        text = _check_completion(payload, model)
        tin, tout = _usage(payload)
        return Reply(text, tin, tout, (time.perf_counter() - t0) * 1000, None, payload)

    async def _open_once(self, model: str, sent: dict[str, Any]) -> Reply:
        t0 = time.perf_counter()
        it = self.upstreams[model].stream(sent).__aiter__()
        head: list[dict] = []
        try:  # each read is bounded by the upstream client's read timeout
            while not head or not _has_token(head[-1]):
                head.append(await it.__anext__())
        except StopAsyncIteration:
            await it.aclose()
            raise ProviderError("malformed", "the stream ended before any token", model) from None
        except BaseException:
            await it.aclose()
            raise
        ms = (time.perf_counter() - t0) * 1000
        return Reply("", 0, 0, ms, ms, (it, head, t0))

    async def complete(self, first: str, body: dict[str, Any], tokens: int,
                       request: Ledger, fallbacks: bool = True) -> tuple[dict[str, Any], str, list[CallAttempt]]:
        """``(completion, model that answered, attempts)`` or a typed error; ``fallbacks=False``: only
        ``first`` is tried (a shadow call: another model's answer would not be the shadow's)."""
        model, reply, _, attempts = await self._first_success(first, body, tokens, request, self._complete_once, False,
                                                              fallbacks)
        return reply.payload, model, attempts

    async def open_stream(self, first: str, body: dict[str, Any], tokens: int, request: Ledger) -> "Stream":
        """A stream that has produced its first token (or a typed error: nothing was sent yet)."""
        model, reply, res, attempts = await self._first_success(first, body, tokens, request, self._open_once, True)
        it, head, t0 = reply.payload
        return Stream(self, model, it, head, t0, reply.ttft_ms, res, tokens, request, attempts)


class Stream:
    """An opened upstream stream: iterate for chunks; ``error`` is set if it broke after the first token.
    ``cost``/``usage`` are final once iteration ends (or ``aclose`` ran)."""

    def __init__(self, d: Dispatcher, model: str, it: Any, head: list[dict], t0: float, ttft_ms: float | None,
                 res: Reservation | None, tokens: int, request: Ledger, attempts: list[CallAttempt]) -> None:
        self.d, self.model, self._it, self._head, self._t0, self.ttft_ms = d, model, it, head, t0, ttft_ms
        self._res, self.tokens, self.request, self.attempts = res, tokens, request, attempts
        self.error: ProviderError | None = None
        self.usage: dict[str, Any] | None = None
        self.cost = 0.0
        self.output_tokens = 0  # the upstream's count, else counted from the streamed text
        self._text: list[str] = []
        self._settled = False

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """Upstream chunks (the usage-only chunk is kept in ``usage``, not yielded)."""
        try:
            for ch in self._head:
                self._text.append(_delta_text(ch))
                yield ch
            while True:
                try:
                    ch = await self._it.__anext__()
                except StopAsyncIteration:
                    break
                if ch.get("usage"):
                    self.usage = ch["usage"]
                if not ch.get("choices"):
                    continue
                self._text.append(_delta_text(ch))
                yield ch
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:  # after the first token: end with an error, the breaker counts it
            self.error = classify(exc if not isinstance(exc, asyncio.TimeoutError) else TimeoutError("timed out"), self.model)
            await self.d.gateway.breakers[self.model].arecord_failure()
            self.attempts.append(CallAttempt(model=self.model, error=self.error.kind, message=str(self.error)))
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the upstream call and settle the budget with the tokens known (idempotent)."""
        if self._settled:
            return
        self._settled = True
        try:
            await self._it.aclose()
        except RuntimeError:  # cancelled inside the upstream's own read: its connection is closed by its context
            pass
        finally:
            text = "".join(self._text)
            tin = int((self.usage or {}).get("prompt_tokens") or 0)
            tout = int((self.usage or {}).get("completion_tokens") or 0) or (int(count_tokens([text])[0]) if text else 0)
            ms = (time.perf_counter() - self._t0) * 1000
            self.output_tokens = tout
            self.cost = await self.d.gateway.settle(self.model, self._res, Reply(text, tin, tout, ms, self.ttft_ms),
                                                    self.request, self.attempts if self.error is None else [], tokens=self.tokens)
