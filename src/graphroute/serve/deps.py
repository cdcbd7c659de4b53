"""The server's FastAPI dependencies: the process's ``Service`` and the
caller's key (authenticated from ``Authorization: Bearer ...``; None when the server has no keys), and
the response descriptions the routes share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from graphroute.serve.service import Service
from graphroute.serve.wire import ErrorResponse

#: error responses every API route documents (OpenAI's error format)
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 429, 502, 503)}
#: a route that may answer as a server-sent event stream
SSE = {"text/event-stream": {"schema": {"type": "string"}}}


async def service(request: Request) -> Service:
    """The Service ``create_app`` built for this app (async: FastAPI runs a plain def dependency in a thread
    pool, a thread hop per request on the hot path)."""
    return request.app.state.service


async def api_key(request: Request, svc: Annotated[Service, Depends(service)]) -> Any:
    """The caller's key: a 401 without a valid one, None when the server has no keys."""
    return svc.keys.authenticate(request.headers.get("authorization"))


ServiceDep = Annotated[Service, Depends(service)]
Key = Annotated[Any, Depends(api_key)]
