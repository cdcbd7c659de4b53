"""``GET /health`` (breaker states), ``GET /metrics`` (Prometheus), and the OpenAPI document and its
Swagger page (``/openapi.json``, ``/docs``: a valid key is needed unless ``serve.open_docs``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from graphroute.serve.deps import ServiceDep

router = APIRouter()


@router.get("/health")
async def health(svc: ServiceDep) -> dict[str, Any]:
    states = {m: b.state for m, b in svc.gateway.breakers.items()}
    return {"status": "ok" if any(s != "open" for s in states.values()) else "degraded", "models": states}


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(svc: ServiceDep) -> PlainTextResponse:
    return PlainTextResponse(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def _docs_allowed(request: Request, svc: ServiceDep) -> None:
    if not request.app.state.open_docs:  # serve.open_docs: false (the default with keys): a valid key is needed
        svc.keys.authenticate(request.headers.get("authorization"))


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, svc: ServiceDep) -> JSONResponse:
    _docs_allowed(request, svc)
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
async def docs(request: Request, svc: ServiceDep) -> HTMLResponse:
    _docs_allowed(request, svc)
    return get_swagger_ui_html(openapi_url="/openapi.json", title="graphroute")
