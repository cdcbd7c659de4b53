"""``GET /v1/models``: the virtual models the caller's key may use (experiments, aliases, routers,
graphs and models)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from graphroute.serve.deps import ERRORS, Key, ServiceDep
from graphroute.serve.guard import mark

router = APIRouter()


@router.get("/v1/models", responses=ERRORS)
async def models(request: Request, svc: ServiceDep, key: Key) -> dict[str, Any]:
    mark(request, "-", "models")
    names = [n for n in [*svc.experiments.names(), *svc.resolver.names()] if key is None or key.may_use(n)]
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "graphroute"} for n in names]}
