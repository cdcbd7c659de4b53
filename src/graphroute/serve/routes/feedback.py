"""``POST /v1/feedback``: a score for an answered request. The body's schema names this server's
metrics and each one's score range, so the router is built per app (``feedback_router``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from graphroute.serve.context import admit
from graphroute.serve.deps import ERRORS, Key, ServiceDep
from graphroute.serve.guard import mark
from graphroute.serve.wire import ErrorResponse, feedback_request


def feedback_router(metrics: Any) -> APIRouter:
    """The feedback route for a server whose ``serve.feedback_metrics`` are ``metrics``."""
    router = APIRouter()

    async def feedback(body: Any, request: Request, svc: ServiceDep, key: Key) -> Any:
        mark(request, "-", "feedback")
        await admit(svc, key)
        return await svc.feedback(body.request_id, body.score, body.metric, key)

    feedback.__annotations__["body"] = feedback_request(metrics)
    router.post("/v1/feedback", responses={**ERRORS, 409: {"model": ErrorResponse}})(feedback)
    return router
