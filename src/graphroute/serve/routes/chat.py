"""``POST /v1/chat/completions``: decide, then answer whole or as a server-sent event stream, through
the dispatcher (the Gateway's fallback loop) for models and routers, or by running a cascade or graph."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from graphroute.costs import count_tokens
from graphroute.runtime.failures import NoModelAvailableError
from graphroute.serve.api_errors import as_api_error, scrub, upstream_refusal
from graphroute.serve.context import RequestContext, sse
from graphroute.serve.deps import ERRORS, SSE, Key, ServiceDep
from graphroute.serve.guard import counted
from graphroute.serve.service import Service
from graphroute.serve.upstreams import UpstreamStatusError
from graphroute.serve.wire import (ChatRequest, Completion, completion, error_body, first_text, relayed, text_chunks,
                                   usage, usage_chunk)
from graphroute.tracing import span
from graphroute.types import CallAttempt

router = APIRouter()


@router.post("/v1/chat/completions", response_model=Completion, responses={**ERRORS, 200: {"content": SSE}})
async def chat_completions(body: ChatRequest, request: Request, svc: ServiceDep, key: Key) -> Response:
    # the request's server span (FastAPI's own telemetry is off: create_app), a caller's traceparent continued
    with span("POST /v1/chat/completions", {"http.request.method": "POST", "http.route": "/v1/chat/completions",
                                            "graphroute.virtual_model": body.model}, kind="server",
              headers=request.headers) as sp:
        r = RequestContext(svc, request, body, key)
        sp.set_attribute("graphroute.request_id", r.id)
        await r.admit()
        try:
            return await _answer(svc, r, body)
        except Exception as exc:
            await r.failed(exc)
            raise


async def _run_whole(r: RequestContext, n: int) -> tuple[list[str], str, float, list[CallAttempt]]:
    """A cascade or graph target's ``n`` answers (run concurrently)."""
    run = r.svc.run_cascade if r.target.kind == "cascade" else r.svc.run_graph
    obj = r.target.router if r.target.kind == "cascade" else r.target.graph
    outs = await asyncio.gather(*(run(obj, r.prompt, r.session) for _ in range(n)))
    return [o[0] for o in outs], outs[0][1], float(sum(o[2] for o in outs)), [a for o in outs for a in o[3]]


async def _answer(svc: Service, r: RequestContext, body: ChatRequest) -> Response:
    decision, chosen = await r.decide(body)
    if r.target.kind in ("cascade", "graph"):
        texts, model, cost, attempts = await _run_whole(r, body.n)
        routing = {**r.routing(decision, model, cost, attempts), "reason": f"{decision.reason}; answered by {model}"}
        tin, tout = r.tokens, int(sum(count_tokens(texts)))
        if body.stream:
            chunks = text_chunks(texts, model=model, request_id=r.id)
            chunks[0]["routing"] = routing
            tail = [usage_chunk(model=model, request_id=r.id, created=chunks[0]["created"], usage=usage(tin, tout, cost))] \
                if (body.stream_options or {}).get("include_usage") else []
            await r.done(200, decision, chosen, model, cost, attempts, answer=texts[0])
            return StreamingResponse(iter([sse(c) for c in chunks + tail] + [b"data: [DONE]\n\n"]),
                                     media_type="text/event-stream", headers=r.headers(model, routing["reason"]))
        payload = completion(texts[0], texts=texts, model=model, request_id=r.id, prompt_tokens=tin,
                             completion_tokens=tout, extra={"routing": routing})
        payload["usage"]["cost"] = cost
        await r.done(200, decision, chosen, model, cost, attempts, answer=texts[0])
        return JSONResponse(payload, headers=r.headers(model, routing["reason"]))
    if chosen is None:
        raise NoModelAvailableError(f"router gave no model ({decision.reason})")
    if body.stream:
        return await _stream(r, decision, chosen, body)
    try:
        payload, model, attempts = await svc.dispatcher.complete(chosen, r.body, r.tokens, r.ledger)
    except UpstreamStatusError as exc:
        return await _refused(r, exc, decision, chosen)
    cost = r.ledger.spent
    reason = decision.reason if model == chosen else f"{decision.reason}; {chosen} failed, fallback {model} answered"
    payload = relayed(payload, model=model, request_id=r.id, cost=cost,
                      extra={"routing": {**r.routing(decision, model, cost, attempts), "reason": reason}})
    await r.done(200, decision, chosen, model, cost, attempts, answer=first_text(payload))
    return JSONResponse(payload, headers=r.headers(model, reason))


async def _refused(r: RequestContext, exc: UpstreamStatusError, decision: Any, chosen: str) -> Response:
    """An upstream refused the request itself (400/404/413/422): its message, redacted, in OpenAI's
    format; nothing else of what it sent back."""
    await r.done(exc.status_code, decision, chosen, None, 0.0, [])
    err = upstream_refusal(exc, chosen, r.svc.secrets)
    return JSONResponse(error_body(err.message, err.type, code=err.code, param=err.param), status_code=err.status,
                        headers=r.headers(chosen, decision.reason))


async def _stream(r: RequestContext, decision: Any, chosen: str, body: ChatRequest) -> Response:
    try:
        stream = await r.svc.dispatcher.open_stream(chosen, r.body, r.tokens, r.ledger)
    except UpstreamStatusError as exc:
        return await _refused(r, exc, decision, chosen)
    model = stream.model
    reason = decision.reason if model == chosen else f"{decision.reason}; {chosen} failed, fallback {model} answered"
    want_usage = bool((body.stream_options or {}).get("include_usage"))

    async def events():
        # the request is settled (telemetry, experiment record, metrics) before the last event is sent: a
        # client that closes at [DONE] cancels this generator at its next yield, and nothing may be lost then
        first, created, settled = True, int(time.time()), False
        try:
            async for ch in stream.chunks():
                ch = {**ch, "id": f"chatcmpl-{r.id}", "model": model}
                if first:
                    ch["routing"] = {**r.routing(decision, model, 0.0, stream.attempts), "reason": reason}
                    first = False
                yield sse(ch)
            if stream.error is not None:
                err = as_api_error(stream.error)
                await stream.aclose()
                settled = True
                await r.done(502, decision, chosen, model, stream.cost, stream.attempts)
                yield sse(error_body(scrub(f"the stream from {model} broke after its first token: {stream.error}",
                                            r.svc.secrets),
                                      err.type, code=err.code))
                return
            await stream.aclose()  # settled: some servers (llama.cpp) report 0 completion tokens for streams
            settled = True
            if stream.ttft_ms is not None:
                r.svc.metrics.first_token(model, stream.ttft_ms / 1000)
            await r.done(200, decision, chosen, model, stream.cost, stream.attempts)
            if want_usage:
                u = {**(stream.usage or {}), **usage(int((stream.usage or {}).get("prompt_tokens") or r.tokens),
                                                     stream.output_tokens)}
                yield sse(usage_chunk(model=model, request_id=r.id, created=created, usage={**u, "cost": stream.cost}))
            yield b"data: [DONE]\n\n"
        except asyncio.CancelledError:  # the client went away: the upstream call is closed in aclose
            if not settled:
                r.svc.metrics.request(r.target.label, r.target.kind, 499, time.perf_counter() - r.t0)
                counted(r.http)
            raise
        finally:
            await stream.aclose()

    return StreamingResponse(events(), media_type="text/event-stream", headers=r.headers(model, reason),
                             background=BackgroundTask(stream.aclose))
