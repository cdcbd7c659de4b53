"""Failures in OpenAI's terms: every typed graphroute error as a status, a type and a code, and an
upstream's refusal rebuilt from its message alone, redacted, never relayed as it came.

Examples:
    >>> from graphroute.serve.api_errors import as_api_error, upstream_refusal
    >>> from graphroute.serve.upstreams import UpstreamStatusError
    >>> e = upstream_refusal(UpstreamStatusError(400, {"error": {"message": "bad key sk-abcdefghijklmnopqrstu",
    ...     "type": "invalid_request_error", "code": "invalid_value", "param": "tools"},
    ...     "echo": {"Authorization": "Bearer mykey123456"}}), "gpt4", secrets=["mykey123456"])
    >>> e.status, e.code, e.param, e.message
    (400, 'invalid_value', 'tools', 'The upstream of gpt4 refused the request: bad key [REDACTED]')
    >>> as_api_error(KeyError("x")).status
    500
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from graphroute.errors import (
    APIError,
    AuthError,
    BudgetExceededError,
    FeedbackError,
    GraphRouteError,
    NoModelAvailableError,
    PromptError,
    ProviderError,
    StateUnavailableError,
    UnknownVirtualModelError,
    UpstreamStatusError,
)
from graphroute.redaction import redact
from graphroute.serve.wire import error_body

__all__ = ["APIError", "as_api_error", "error_response", "install_error_handlers", "scrub", "upstream_refusal"]

#: pydantic's names for a union's branches, left out of the field path a 400 names
_BRANCH = re.compile(r"^(str|int|float|bool|none|list\[.*|dict\[.*|tagged-union\[.*|function-.*)$")
_FEEDBACK_STATUS = {"request_not_found": 404, "feedback_already_recorded": 409}
_SHORT = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,64}$")


def error_response(err: APIError, secrets: Iterable[str] = ()) -> JSONResponse:
    """The JSON response of ``err``; the message redacted of ``secrets`` (the upstreams' keys) and any key."""
    return JSONResponse(error_body(scrub(err.message, secrets), err.type, code=err.code, param=err.param),
                        status_code=err.status, headers=err.headers)


def as_api_error(exc: BaseException) -> APIError:
    """A typed failure in OpenAI's terms (anything else: a 500 naming only its type)."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, AuthError):
        return APIError(exc.status, str(exc), "invalid_request_error" if exc.status == 403 else "authentication_error", exc.code)
    if isinstance(exc, UnknownVirtualModelError):
        return APIError(404, str(exc), code="model_not_found", param="model")
    if isinstance(exc, FeedbackError):
        return APIError(_FEEDBACK_STATUS.get(exc.code, 400), str(exc), code=exc.code, param=exc.param)
    if isinstance(exc, PromptError):
        return APIError(400, f"The prompt cannot be routed: {exc}", code="invalid_prompt", param="messages")
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


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets (upstream keys), URL credentials, keys and bearer tokens."""
    for s in secrets:
        if s:
            text = text.replace(s, "[REDACTED]")
    return redact(text)


def upstream_refusal(exc: UpstreamStatusError, model: str, secrets: Iterable[str] = ()) -> APIError:
    """An upstream's 400/404/413/422 as the client's error: its status, its message (bounded, with
    the upstream's keys, bearer tokens and URL credentials removed), a short ``code``/``param`` when
    it gave one; nothing else of its body (a provider may echo the request's headers there)."""
    body: Any = exc.body
    err = body.get("error") if isinstance(body, dict) else None
    message = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
    if not isinstance(message, str) or not message.strip():
        message = f"HTTP {exc.status_code}"
    code = err.get("code") if isinstance(err, dict) else None
    param = err.get("param") if isinstance(err, dict) else None
    return APIError(exc.status_code, f"The upstream of {model} refused the request: {scrub(message[:500], secrets)}",
                    "invalid_request_error", code if isinstance(code, str) and _SHORT.match(code) else None,
                    param if isinstance(param, str) and _SHORT.match(param) else None)


def install_error_handlers(app: FastAPI, secrets: Iterable[str]) -> None:
    """Every error the app raises answered in OpenAI's format: typed graphroute errors by
    ``as_api_error``, invalid bodies as 400 naming the deepest field, unknown paths as 404."""
    secrets = list(secrets)

    @app.exception_handler(APIError)
    async def _api(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc, secrets)

    @app.exception_handler(GraphRouteError)
    async def _typed(request: Request, exc: GraphRouteError) -> JSONResponse:
        return error_response(as_api_error(exc), secrets)

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
