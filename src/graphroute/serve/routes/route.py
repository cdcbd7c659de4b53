"""``POST /v1/route``: the decision alone, for clients that call the model themselves."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from graphroute.serve.context import RequestContext
from graphroute.serve.deps import ERRORS, Key, ServiceDep
from graphroute.serve.guard import mark
from graphroute.serve.wire import ChatRequest, RouteResponse
from graphroute.tracing import span

router = APIRouter()


@router.post("/v1/route", response_model=RouteResponse, responses=ERRORS)
async def route(body: ChatRequest, request: Request, svc: ServiceDep, key: Key) -> JSONResponse:
    with span("POST /v1/route", {"http.request.method": "POST", "http.route": "/v1/route",
                                 "graphroute.virtual_model": body.model}, kind="server", headers=request.headers) as sp:
        r = RequestContext(svc, request, body, key)
        sp.set_attribute("graphroute.request_id", r.id)
        mark(request, r.target.label, "route")
        await r.admit()
        decision, chosen = await r.route({"user": body.user, "session": r.session})
    extra = {"experiment": {"name": body.model, "arm": r.experiment.arm, "running": r.experiment.running}} \
        if r.experiment is not None else {}
    return JSONResponse({**decision.to_dict(), "request_id": r.id, "virtual_model": body.model, "model": chosen,
                         "router_model": decision.model, **extra}, headers=r.headers(chosen, decision.reason))
