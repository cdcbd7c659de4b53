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
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from graphroute.costs import count_tokens
from graphroute.runtime.failures import BudgetExceededError, NoModelAvailableError, ProviderError, redact
from graphroute.serve.auth import AuthError
from graphroute.serve.settings import ServeFile, load_serve_config
from graphroute.serve.body_limit import BodyLimit
from graphroute.serve.service import Service
from graphroute.state import StateUnavailableError
from graphroute.serve.targets import UnknownVirtualModelError
from graphroute.serve.upstreams import UpstreamStatusError
from graphroute.serve.wire import (ChatRequest, Completion, ErrorResponse, FeedbackRequest, RouteResponse, error_body,
                                   last_user_text, text_chunks, usage)

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 429, 502, 503)}
_SSE = {"text/event-stream": {"schema": {"type": "string"}}}


class APIError(Exception):
    def __init__(self, status: int, message: str, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.status, self.message, self.type, self.code, self.param, self.headers = status, message, type, code, param, headers
        super().__init__(message)

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(redact(self.message), self.type, code=self.code, param=self.param),
                            status_code=self.status, headers=self.headers)


def as_api_error(exc: BaseException) -> APIError:
    """A typed failure in OpenAI's terms."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, AuthError):
        return APIError(exc.status, str(exc), "invalid_request_error" if exc.status == 403 else "authentication_error", exc.code)
    if isinstance(exc, UnknownVirtualModelError):
        return APIError(404, str(exc), code="model_not_found", param="model")
    if isinstance(exc, StateUnavailableError):  # fail_closed: budgets cannot be checked, so nothing is spent
        return APIError(503, f"Budgets are unavailable: {exc}", "service_unavailable", "state_unavailable",
                        headers={"retry-after": "1"})
    if isinstance(exc, BudgetExceededError):
        return APIError(429, f"Budget exceeded: {exc}", "insufficient_quota", "insufficient_quota")
    if isinstance(exc, NoModelAvailableError):
        return APIError(503, str(exc), "service_unavailable", "no_model_available")
    if isinstance(exc, ProviderError):
        return APIError(502, str(exc), "upstream_error", exc.kind)
    return APIError(500, f"internal error: {type(exc).__name__}", "server_error")


def _header(text: str) -> str:
    """A header-safe (latin-1, one line, bounded) version of ``text``."""
    return " ".join(str(text).split())[:200].encode("latin-1", "replace").decode("latin-1")


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class _Request:
    """One chat request's bookkeeping: ids, key, target, decision, timing."""

    def __init__(self, svc: Service, http: Request, body: ChatRequest) -> None:
        self.svc, self.t0 = svc, time.perf_counter()
        self.id = uuid.uuid4().hex
        self.key = svc.keys.authenticate(http.headers.get("authorization"))
        self.body = body.model_dump(exclude_unset=True)
        self.experiment = None
        if body.model in svc.experiments:  # the arm its unit is assigned to serves it
            unit = svc.experiments.blocks[body.model].unit
            who = {"user": body.user, "session": http.headers.get("x-graphroute-session"),
                   "key": self.key.name if self.key is not None else None, "request": None}[unit]
            self.experiment, self.target = svc.experiments.start(body.model, self.id, who)
            self.target.label = f"{body.model}:{self.experiment.arm}"
        else:
            self.target = svc.resolver.resolve(body.model)
        svc.keys.check_model(self.key, body.model)
        self.prompt = last_user_text(self.body["messages"])
        if self.target.kind != "model" and not self.prompt.strip():
            raise APIError(400, "The last user message is empty: there is nothing to route on.", param="messages")
        text = " ".join(str(m.get("content") or "") for m in self.body["messages"])
        self.tokens = int(count_tokens([text])[0])
        cap = svc.cfg.serve.max_prompt_tokens
        if cap is not None and self.tokens > cap:
            raise APIError(400, f"This request has {self.tokens} prompt tokens; this server accepts at most {cap}.",
                           code="context_length_exceeded", param="messages")
        self.session = self.key.session if self.key is not None else None
        self.gw = {"session": self.session, "budget": None, "spent": 0.0, "provider_ms": 0.0}
        self.decision: Any = None
        self.chosen: str | None = None

    async def admit(self) -> None:
        wait = await self.svc.keys.admit(self.key)
        if wait is not None:
            raise APIError(429, f"Rate limit reached for key {self.key.name!r}; retry in {wait:.0f} s.",  # type: ignore[union-attr]
                           "rate_limit_error", "rate_limit_exceeded", headers={"retry-after": str(int(wait + 0.999))})

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
        m.attempts(attempts, chosen, model)
        ok = model is not None and code == 200
        if ok:
            m.decision(model, cost)
            await self.svc.remember(self.id, self.prompt, decision, self.target, cost, ms, fallback=model != chosen,
                                    served=model)
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
        await r.done(exc.status_code, decision, chosen, None, 0.0, [])
        return JSONResponse(exc.body, status_code=exc.status_code, headers=r.headers(chosen, decision.reason))
    cost = r.gw["spent"]
    reason = decision.reason if model == chosen else f"{decision.reason}; {chosen} failed, fallback {model} answered"
    tin, tout = int((payload.get("usage") or {}).get("prompt_tokens") or 0), int((payload.get("usage") or {}).get("completion_tokens") or 0)
    payload = {**payload, "id": f"chatcmpl-{r.id}", "model": model, "usage": {**(payload.get("usage") or usage(tin, tout)),
                                                                               "cost": cost},
               "routing": {**r.routing(decision, model, cost, attempts), "reason": reason}}
    await r.done(200, decision, chosen, model, cost, attempts,
                 answer=((payload.get("choices") or [{}])[0].get("message") or {}).get("content"))
    return JSONResponse(payload, headers=r.headers(model, reason))


async def _stream(r: _Request, decision: Any, chosen: str, body: ChatRequest) -> Response:
    try:
        stream = await r.svc.dispatcher.open_stream(chosen, r.body, r.tokens, r.gw)
    except UpstreamStatusError as exc:
        await r.done(exc.status_code, decision, chosen, None, 0.0, [])
        return JSONResponse(exc.body, status_code=exc.status_code, headers=r.headers(chosen, decision.reason))
    model = stream.model
    reason = decision.reason if model == chosen else f"{decision.reason}; {chosen} failed, fallback {model} answered"
    want_usage = bool((body.stream_options or {}).get("include_usage"))

    async def events():
        first, created = True, int(time.time())
        try:
            async for ch in stream.chunks():
                ch = {**ch, "id": f"chatcmpl-{r.id}", "model": model}
                if first:
                    ch["routing"] = {**r.routing(decision, model, 0.0, stream.attempts), "reason": reason}
                    first = False
                yield _sse(ch)
            if stream.error is not None:
                err = as_api_error(stream.error)
                yield _sse(error_body(redact(f"the stream from {model} broke after its first token: {stream.error}"),
                                      err.type, code=err.code))
                await r.done(502, decision, chosen, model, stream.cost, stream.attempts)
                return
            if want_usage:  # settled: some servers (llama.cpp) report 0 completion tokens for streams
                await stream.aclose()
                u = {**(stream.usage or {}), **usage(int((stream.usage or {}).get("prompt_tokens") or r.tokens),
                                                     stream.output_tokens)}
                yield _sse({"id": f"chatcmpl-{r.id}", "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": {**u, "cost": stream.cost}})
            yield b"data: [DONE]\n\n"
            await r.done(200, decision, chosen, model, stream.cost, stream.attempts)
        except asyncio.CancelledError:  # the client went away: the upstream call is closed in aclose
            r.svc.metrics.request(r.target.label, r.target.kind, 499, time.perf_counter() - r.t0)
            raise
        finally:
            await stream.aclose()

    return StreamingResponse(events(), media_type="text/event-stream", headers=r.headers(model, reason),
                             background=BackgroundTask(stream.aclose))


def create_app(config: ServeFile | str | Path) -> FastAPI:
    """The server as an ASGI app (mount it in your own FastAPI/Starlette app, or run it with uvicorn)."""
    cfg = config if isinstance(config, ServeFile) else load_serve_config(config)
    svc = Service(cfg)
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await svc.start()
        yield
        await svc.aclose()

    app = FastAPI(title="graphroute", version="1.0", description="OpenAI-compatible routing server", lifespan=lifespan)
    app.state.service = svc
    app.add_middleware(BodyLimit, max_bytes=cfg.serve.max_body_bytes)

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> JSONResponse:
        return as_api_error(exc).response()

    @app.exception_handler(APIError)
    async def _api(request: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        e = (exc.errors() or [{}])[0]
        loc = [str(x) for x in e.get("loc", ()) if x != "body"]
        return APIError(400, f"Invalid request: {'.'.join(loc) or 'body'}: {e.get('msg', 'invalid')}",
                        param=".".join(loc) or None).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return APIError(exc.status_code, str(exc.detail), "invalid_request_error",
                        "not_found" if exc.status_code == 404 else None, headers=getattr(exc, "headers", None)).response()

    for cls in (AuthError, BudgetExceededError, NoModelAvailableError, ProviderError, UnknownVirtualModelError):
        app.add_exception_handler(cls, _any)

    @app.post("/v1/chat/completions", response_model=Completion, responses={**_ERRORS, 200: {"content": _SSE}})
    async def chat_completions(body: ChatRequest, request: Request):
        return await chat(svc, request, body)

    @app.post("/v1/route", response_model=RouteResponse, responses=_ERRORS)
    async def route(body: ChatRequest, request: Request):
        r = _Request(svc, request, body)
        decision, chosen = await r.target.decide(r.prompt, {"user": body.user, "session": r.session})
        extra = {"experiment": {"name": body.model, "arm": r.experiment.arm, "running": r.experiment.running}} \
            if r.experiment is not None else {}
        return JSONResponse({**decision.to_dict(), "request_id": r.id, "virtual_model": body.model, "model": chosen,
                             "router_model": decision.model, **extra}, headers=r.headers(chosen, decision.reason))

    @app.post("/v1/feedback", responses=_ERRORS)
    async def feedback(body: FeedbackRequest, request: Request):
        svc.keys.authenticate(request.headers.get("authorization"))
        try:
            return await svc.feedback(body.request_id, body.score, body.metric)
        except KeyError:
            raise APIError(404, f"No answered request {body.request_id!r} awaits feedback (unknown, already scored or older than serve.feedback_ttl_s).",
                           code="request_not_found", param="request_id") from None

    @app.get("/v1/models", responses=_ERRORS)
    async def models(request: Request):
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

    return app
