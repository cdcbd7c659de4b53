"""One chat or route request's context: who asks (the key, authenticated by a dependency), what it
asks for (the virtual model resolved, an experiment's arm assigned), what it is billed (every
prompt token, capped), and what is settled when it ends (metrics, telemetry, the experiment record).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fastapi import Request

from graphroute.serve.api_errors import APIError
from graphroute.serve.billing import prompt_tokens
from graphroute.serve.guard import counted, mark
from graphroute.serve.service import Service
from graphroute.serve.wire import ChatRequest, last_user_text
from graphroute.tracing import current_span, decision_attributes, prompt_attribute, span
from graphroute.types import CallAttempt
from graphroute.runtime.ledger import Ledger


async def admit(svc: Service, key: Any) -> None:
    """A 429 when ``key`` is over its rate limit (chat, route and feedback calls all count)."""
    wait = await svc.keys.admit(key)
    if wait is not None:
        raise APIError(429, f"Rate limit reached for key {key.name!r}; retry in {wait:.0f} s.", "rate_limit_error",
                       "rate_limit_exceeded", headers={"retry-after": str(int(wait + 0.999))})


def header_text(text: str) -> str:
    """A header-safe (latin-1, one line, bounded) version of ``text``."""
    return " ".join(str(text).split())[:200].encode("latin-1", "replace").decode("latin-1")


def sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class RequestContext:
    """One chat (or route) request's bookkeeping: ids, key, target, decision, timing. Building it
    resolves the virtual model (a 404 lists only what the key may use), checks the
    key may use it and counts every billed prompt token."""

    def __init__(self, svc: Service, http: Request, body: ChatRequest, key: Any) -> None:
        self.svc, self.http, self.t0 = svc, http, time.perf_counter()
        self.id = uuid.uuid4().hex
        self.key = key
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
        self.ledger = Ledger(session=self.session)
        self.decision: Any = None
        self.chosen: str | None = None
        self.span: Any = current_span()

    async def admit(self) -> None:
        await admit(self.svc, self.key)

    def routing(self, decision: Any, model: str | None, cost: float, attempts: list[CallAttempt]) -> dict[str, Any]:
        d = decision.to_dict()
        return {"virtual_model": self.target.name, "model": model, "chosen": d["model"] if self.target.kind != "router"
                else self.target.mapping.get(d["model"], d["model"]), "reason": d["reason"], "request_id": self.id,
                "scores": d["scores"], "familiarity": d["familiarity"], "probability": d["probability"], "cost": cost,
                "attempts": [{"model": a.model, "error": a.error} for a in attempts]}

    def headers(self, model: str | None, reason: str) -> dict[str, str]:
        return {"x-graphroute-model": model or "", "x-graphroute-request-id": self.id, "x-graphroute-reason": header_text(reason)}

    async def route(self, context: dict[str, Any]) -> tuple[Any, str | None]:
        """The target's decision for this request, in a ``graphroute.route`` span."""
        with span("graphroute.route", {"graphroute.virtual_model": self.target.name, **prompt_attribute(self.prompt)}) as ds:
            self.decision, self.chosen = await self.target.decide(self.prompt, context)
            ds.set_attributes({**decision_attributes(self.decision, virtual_model=self.target.name,
                                                     arm=self.experiment.arm if self.experiment is not None else None),
                               "graphroute.chosen": self.chosen or ""})
        return self.decision, self.chosen

    async def decide(self, body: ChatRequest) -> tuple[Any, str | None]:
        """The decision of a request that will be answered (the other arms of its experiment decide too)."""
        context = {"user": body.user, "session": self.session}
        await self.route({"run_id": self.id, **context})
        if self.experiment is not None:  # the other arms and the shadows decide while this one is served
            self.svc.experiments.decide_others(self.experiment, self.prompt, context)
        return self.decision, self.chosen

    async def done(self, code: int, decision: Any, chosen: str | None, model: str | None, cost: float,
                   attempts: list[CallAttempt],
                   answer: str | None = None) -> None:
        m = self.svc.metrics
        ms = (time.perf_counter() - self.t0) * 1000
        if self.span.is_recording():  # a stream settles after its request span has ended
            self.span.set_attributes({"http.response.status_code": code, "graphroute.model": model or "",
                                      "graphroute.cost_usd": cost, "graphroute.fallback": model is not None and
                                      chosen is not None and model != chosen and self.target.kind in ("model", "router")})
        m.request(self.target.label, self.target.kind, code, ms / 1000)
        counted(self.http)
        m.attempts(attempts, chosen, model)
        ok = model is not None and code == 200
        if ok and model is not None:
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
