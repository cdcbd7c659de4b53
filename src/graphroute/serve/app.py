"""The OpenAI-compatible HTTP server (FastAPI): ``/v1/chat/completions`` (whole and SSE streams),
``/v1/models``, ``/v1/route``, ``/v1/feedback``, ``/health``, ``/metrics``. Every answer carries its
decision: headers ``x-graphroute-model``, ``x-graphroute-request-id``, ``x-graphroute-reason``, a
``routing`` object in the body and the cost in dollars in ``usage.cost``. Errors use OpenAI's format.

Examples:
    >>> from fastapi.testclient import TestClient
    >>> from graphroute.serve import create_app
    >>> from graphroute.datasets import load_dataset
    >>> client = TestClient(create_app("graphs/serve.yaml"))
    >>> q = load_dataset("routellm-gsm8k").prompts[0]
    >>> r = client.post("/v1/chat/completions", json={"model": "mixtral", "messages": [{"role": "user", "content": q}]})
    >>> r.status_code, r.headers["x-graphroute-model"], r.json()["choices"][0]["message"]["content"].split()[-1]
    (200, 'mixtral', '540')
    >>> client.post("/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]}).json()["error"]["code"]
    'model_not_found'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from graphroute.costs import count_tokens
from graphroute.errors import GraphRouteError
from graphroute.runtime.failures import NoModelAvailableError
from graphroute.serve.api_errors import APIError, as_api_error, error_response, scrub, upstream_refusal
from graphroute.serve.billing import prompt_tokens
from graphroute.serve.body_limit import BodyLimit
from graphroute.serve.guard import Guard, counted, hide_query_strings, mark
from graphroute.serve.service import Service
from graphroute.serve.settings import ServeFile, load_serve_config
from graphroute.serve.upstreams import UpstreamStatusError
from graphroute.serve.wire import (ChatRequest, Completion, ErrorResponse, RouteResponse, error_body, feedback_request,
                                   last_user_text, text_chunks, usage)

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 429, 502, 503)}
_BRANCH = re.compile(r"^(str|int|float|bool|none|list\[.*|dict\[.*|tagged-union\[.*|function-.*)$")
_SSE = {"text/event-stream": {"schema": {"type": "string"}}}


async def admit(svc: Service, key: Any) -> None:
    """A 429 when ``key`` is over its rate limit (chat, route and feedback calls all count)."""
    wait = await svc.keys.admit(key)
    if wait is not None:
        raise APIError(429, f"Rate limit reached for key {key.name!r}; retry in {wait:.0f} s.", "rate_limit_error",
                       "rate_limit_exceeded", headers={"retry-after": str(int(wait + 0.999))})


def _header(text: str) -> str:
    """A header-safe (latin-1, one line, bounded) version of ``text``."""
    return " ".join(str(text).split())[:200].encode("latin-1", "replace").decode("latin-1")


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class _Request:
    """One chat (or route) request's bookkeeping: ids, key, target, decision, timing. Building it
    authenticates, resolves the virtual model (a 404 lists only what the key may use), checks the
    key may use it and counts every billed prompt token."""

    def __init__(self, svc: Service, http: Request, body: ChatRequest) -> None:
        self.svc, self.http, self.t0 = svc, http, time.perf_counter()
        self.id = uuid.uuid4().hex
        self.key = svc.keys.authenticate(http.headers.get("authorization"))
        self.body = body.model_dump(exclude_unset=True)
        self.experiment = None
        key = self.key
        visible = (lambda n: key.may_use(n)) if key is not None else None
        if body.model in svc.experiments:  # the arm its unit is assigned to serves it
            svc.keys.check_model(self.key, body.model)
            unit = svc.experiments.blocks[body.model].unit
            who = {"user": body.user, "session": http.headers.get("x-graphroute-session"),
                   "key": self.key.name if self.key is not None else None, "request": None}[unit]
            self.experiment, self.target = svc.experiments.start(body.model, self.id, who)
            self.target.label = f"{body.model}:{self.experiment.arm}"
        else:
            self.target = svc.resolver.resolve(body.model, visible)
        mark(http, self.target.label, self.target.kind)
        svc.keys.check_model(self.key, body.model)
        self.prompt = last_user_text(self.body["messages"])
        if self.target.kind != "model" and not self.prompt.strip():
            raise APIError(400, "The last user message is empty: there is nothing to route on.", param="messages")
        self.tokens = prompt_tokens(self.body)  # every billed part: messages of every role, tools, schemas
        cap = svc.cfg.serve.max_prompt_tokens
        if cap is not None and self.tokens > cap:
            raise APIError(400, f"This request is billed {self.tokens} prompt tokens (messages, tools and schemas); "
                                f"this server accepts at most {cap}.", code="context_length_exceeded", param="messages")
        self.session = self.key.session if self.key is not None else None
        self.gw = {"session": self.session, "budget": None, "spent": 0.0, "provider_ms": 0.0}
        self.decision: Any = None
        self.chosen: str | None = None

    async def admit(self) -> None:
        await admit(self.svc, self.key)

    def routing(self, decision: Any, model: str | None, cost: float, attempts: list[dict]) -> dict[str, Any]:
        d = decision.to_dict()
        return {"virtual_model": self.target.name, "model": model, "chosen": d["model"] if self.target.kind != "router"
                else self.target.mapping.get(d["model"], d["model"]), "reason": d["reason"], "request_id": self.id,
                "scores": d["scores"], "familiarity": d["familiarity"], "probability": d["probability"], "cost": cost,
                "attempts": [{"model": a["model"], "error": a.get("error")} for a in attempts]}

    def headers(self, model: str | None, reason: str) -> dict[str, str]:
        return {"x-graphroute-model": model or "", "x-graphroute-request-id": self.id, "x-graphroute-reason": _header(reason)}

    async def decide(self, body: ChatRequest) -> tuple[Any, str | None]:
        context = {"user": body.user, "session": self.session}
        self.decision, self.chosen = await self.target.decide(self.prompt, {"run_id": self.id, **context})
        if self.experiment is not None:  # the other arms and the shadows decide while this one is served
            self.svc.experiments.decide_others(self.experiment, self.prompt, context)
        return self.decision, self.chosen

    async def done(self, code: int, decision: Any, chosen: str | None, model: str | None, cost: float, attempts: list[dict],
                   answer: str | None = None) -> None:
        m = self.svc.metrics
        ms = (time.perf_counter() - self.t0) * 1000
        m.request(self.target.label, self.target.kind, code, ms / 1000)
        counted(self.http)
        m.attempts(attempts, chosen, model)
        ok = model is not None and code == 200
        if ok:
            m.decision(model, cost)
            # a cascade's later stage or a graph's steps are its own answer, not a fallback
            fallback = self.target.kind in ("model", "router") and model != chosen
            await self.svc.remember(self.id, self.prompt, decision, self.target, cost, ms, fallback=fallback,
                                    served=model, key=self.key.name if self.key is not None else None,
                                    experiment=self.experiment.experiment if self.experiment is not None else None)
        if self.experiment is not None:
            await self.svc.experiments.finish(self.experiment, self.target, decision, chosen, request_id=self.id,
                                              model=model if ok else None, cost=cost, latency_ms=ms,
                                              error=None if ok else f"HTTP {code}", prompt=self.prompt, body=self.body,
                                              tokens=self.tokens, answer=answer)

    async def failed(self, exc: BaseException) -> None:
        """An experiment's request that raised: its assignment is logged all the same (the split check counts it)."""
        if self.experiment is not None and self.decision is not None:
            await self.svc.experiments.finish(self.experiment, self.target, self.decision, self.chosen, request_id=self.id,
                                              model=None, cost=0.0, latency_ms=(time.perf_counter() - self.t0) * 1000,
                                              error=type(exc).__name__)


async def _run_whole(r: _Request, n: int) -> tuple[list[str], str, float, list[dict]]:
    """A cascade or graph target's ``n`` answers (run concurrently)."""
    run = r.svc.run_cascade if r.target.kind == "cascade" else r.svc.run_graph
    obj = r.target.router if r.target.kind == "cascade" else r.target.graph
    outs = await asyncio.gather(*(run(obj, r.prompt, r.session) for _ in range(n)))
    return [o[0] for o in outs], outs[0][1], float(sum(o[2] for o in outs)), [a for o in outs for a in o[3]]


async def chat(svc: Service, http: Request, body: ChatRequest) -> Response:
    r = _Request(svc, http, body)
    await r.admit()
    try:
        return await _answer(svc, r, body)
    except Exception as exc:
        await r.failed(exc)
        raise


async def _answer(svc: Service, r: _Request, body: ChatRequest) -> Response:
    decision, chosen = await r.decide(body)
    if r.target.kind in ("cascade", "graph"):
        texts, model, cost, attempts = await _run_whole(r, body.n)
        routing = {**r.routing(decision, model, cost, attempts), "reason": f"{decision.reason}; answered by {model}"}
        tin, tout = r.tokens, int(sum(count_tokens(texts)))
        if body.stream:
            chunks = [{**c, "model": model} for c in text_chunks(texts, model=model, request_id=r.id)]
            chunks[0]["routing"] = routing
            tail = [{"id": f"chatcmpl-{r.id}", "object": "chat.completion.chunk", "created": chunks[0]["created"],
                     "model": model, "choices": [], "usage": usage(tin, tout, cost)}] \
                if (body.stream_options or {}).get("include_usage") else []
            await r.done(200, decision, chosen, model, cost, attempts, answer=texts[0])
            return StreamingResponse(iter([_sse(c) for c in chunks + tail] + [b"data: [DONE]\n\n"]),
                                     media_type="text/event-stream", headers=r.headers(model, routing["reason"]))
        payload = {"id": f"chatcmpl-{r.id}", "object": "chat.completion", "created": int(time.time()), "model": model,
                   "choices": [{"index": i, "message": {"role": "assistant", "content": t}, "logprobs": None,
                                "finish_reason": "stop"} for i, t in enumerate(texts)],
                   "usage": usage(tin, tout, cost), "routing": routing}
        await r.done(200, decision, chosen, model, cost, attempts, answer=texts[0])
        return JSONResponse(payload, headers=r.headers(model, routing["reason"]))
    if chosen is None:
        raise NoModelAvailableError(f"router gave no model ({decision.reason})")
    if body.stream:
        return await _stream(r, decision, chosen, body)
    try:
        payload, model, attempts = await svc.dispatcher.complete(chosen, r.body, r.tokens, r.gw)
    except UpstreamStatusError as exc:
        return await _refused(r, exc, decision, chosen)
    cost = r.gw["spent"]
    reason = decision.reason if model == chosen else f"{decision.reason}; {chosen} failed, fallback {model} answered"
    tin, tout = int((payload.get("usage") or {}).get("prompt_tokens") or 0), int((payload.get("usage") or {}).get("completion_tokens") or 0)
    payload = {**payload, "id": f"chatcmpl-{r.id}", "model": model, "usage": {**(payload.get("usage") or usage(tin, tout)),
                                                                               "cost": cost},
               "routing": {**r.routing(decision, model, cost, attempts), "reason": reason}}
    await r.done(200, decision, chosen, model, cost, attempts,
                 answer=((payload.get("choices") or [{}])[0].get("message") or {}).get("content"))
    return JSONResponse(payload, headers=r.headers(model, reason))


async def _refused(r: _Request, exc: UpstreamStatusError, decision: Any, chosen: str) -> Response:
    """An upstream refused the request itself (400/404/413/422): its message, redacted, in OpenAI's
    format; nothing else of what it sent back."""
    await r.done(exc.status_code, decision, chosen, None, 0.0, [])
    err = upstream_refusal(exc, chosen, r.svc.secrets)
    return JSONResponse(error_body(err.message, err.type, code=err.code, param=err.param), status_code=err.status,
                        headers=r.headers(chosen, decision.reason))


async def _stream(r: _Request, decision: Any, chosen: str, body: ChatRequest) -> Response:
    try:
        stream = await r.svc.dispatcher.open_stream(chosen, r.body, r.tokens, r.gw)
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
                yield _sse(ch)
            if stream.error is not None:
                err = as_api_error(stream.error)
                await stream.aclose()
                settled = True
                await r.done(502, decision, chosen, model, stream.cost, stream.attempts)
                yield _sse(error_body(scrub(f"the stream from {model} broke after its first token: {stream.error}",
                                            r.svc.secrets),
                                      err.type, code=err.code))
                return
            await stream.aclose()  # settled: some servers (llama.cpp) report 0 completion tokens for streams
            settled = True
            await r.done(200, decision, chosen, model, stream.cost, stream.attempts)
            if want_usage:
                u = {**(stream.usage or {}), **usage(int((stream.usage or {}).get("prompt_tokens") or r.tokens),
                                                     stream.output_tokens)}
                yield _sse({"id": f"chatcmpl-{r.id}", "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": {**u, "cost": stream.cost}})
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


def create_app(config: ServeFile | str | Path) -> FastAPI:
    """The server as an ASGI app (mount it in your own FastAPI/Starlette app, or run it with uvicorn)."""
    cfg = config if isinstance(config, ServeFile) else load_serve_config(config)
    svc = Service(cfg)
    hide_query_strings()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await svc.start()
        yield
        await svc.aclose()

    app = FastAPI(title="graphroute", version="1.0", description="OpenAI-compatible routing server", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = svc
    app.add_middleware(BodyLimit, max_bytes=cfg.serve.max_body_bytes)
    app.add_middleware(Guard, metrics=svc.metrics, secrets=svc.secrets)  # outermost: counts refusals, 413s and 500s too
    open_docs = cfg.serve.open_docs if cfg.serve.open_docs is not None else not svc.keys.enabled

    @app.exception_handler(APIError)
    async def _api(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc, svc.secrets)

    @app.exception_handler(GraphRouteError)
    async def _typed(request: Request, exc: GraphRouteError) -> JSONResponse:
        return error_response(as_api_error(exc), svc.secrets)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # the deepest error is the one that says what is wrong (a union lists one per alternative)
        e = max(exc.errors() or [{}], key=lambda err: len(err.get("loc", ())))
        loc = [str(x) for x in e.get("loc", ()) if x != "body" and not _BRANCH.match(str(x))]
        return error_response(APIError(400, f"Invalid request: {'.'.join(loc) or 'body'}: {e.get('msg', 'invalid')}",
                                       param=".".join(loc) or None))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(APIError(exc.status_code, str(exc.detail), "invalid_request_error",
                                       "not_found" if exc.status_code == 404 else None,
                                       headers=getattr(exc, "headers", None)))

    @app.post("/v1/chat/completions", response_model=Completion, responses={**_ERRORS, 200: {"content": _SSE}})
    async def chat_completions(body: ChatRequest, request: Request):
        return await chat(svc, request, body)

    @app.post("/v1/route", response_model=RouteResponse, responses=_ERRORS)
    async def route(body: ChatRequest, request: Request):
        r = _Request(svc, request, body)
        mark(request, r.target.label, "route")
        await r.admit()
        decision, chosen = await r.target.decide(r.prompt, {"user": body.user, "session": r.session})
        extra = {"experiment": {"name": body.model, "arm": r.experiment.arm, "running": r.experiment.running}} \
            if r.experiment is not None else {}
        return JSONResponse({**decision.to_dict(), "request_id": r.id, "virtual_model": body.model, "model": chosen,
                             "router_model": decision.model, **extra}, headers=r.headers(chosen, decision.reason))

    async def feedback(body: Any, request: Request):
        mark(request, "-", "feedback")
        key = svc.keys.authenticate(request.headers.get("authorization"))
        await admit(svc, key)
        return await svc.feedback(body.request_id, body.score, body.metric, key)

    # the body's schema names this server's metrics and each one's score range
    feedback.__annotations__["body"] = feedback_request(cfg.serve.feedback_metrics)
    app.post("/v1/feedback", responses={**_ERRORS, 409: {"model": ErrorResponse}})(feedback)

    @app.get("/v1/models", responses=_ERRORS)
    async def models(request: Request):
        mark(request, "-", "models")
        key = svc.keys.authenticate(request.headers.get("authorization"))
        names = [n for n in [*svc.experiments.names(), *svc.resolver.names()] if key is None or key.may_use(n)]
        return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "graphroute"} for n in names]}

    @app.get("/health")
    async def health():
        states = {m: b.state for m, b in svc.gateway.breakers.items()}
        return {"status": "ok" if any(s != "open" for s in states.values()) else "degraded", "models": states}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics():
        return PlainTextResponse(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request):
        if not open_docs:  # serve.open_docs: false (the default with keys): a valid key is needed
            svc.keys.authenticate(request.headers.get("authorization"))
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request):
        if not open_docs:
            svc.keys.authenticate(request.headers.get("authorization"))
        return get_swagger_ui_html(openapi_url="/openapi.json", title="graphroute")

    return app
