"""The server's outer guard (ASGI middleware): every ``/v1`` response is counted by status in
``graphroute_requests_total`` (refusals included: 401, 403, 404, 413, 429, 500), an unexpected
exception becomes a 500 in OpenAI's format without tearing down the client's keep-alive
connection, and a key sent in the query string is refused with 401 before anything reads it.
The access log never shows a query string (``NoQueryInAccessLog``).

Examples:
    >>> from fastapi import FastAPI
    >>> from fastapi.testclient import TestClient
    >>> from graphroute.serve.guard import Guard
    >>> from graphroute.serve.metrics import ServeMetrics
    >>> app, metrics = FastAPI(), ServeMetrics(breakers=dict)
    >>> @app.post("/v1/boom")
    ... async def boom(): raise KeyError("x")
    >>> app.add_middleware(Guard, metrics=metrics)
    >>> c = TestClient(app)
    >>> c.post("/v1/boom").json()["error"]["type"], c.post("/v1/boom?api_key=gr-123").status_code
    ('server_error', 401)
    >>> text = metrics.render().decode()
    >>> 'graphroute_requests_total{code="500",kind="unknown",virtual_model="unknown"} 1.0' in text, 'code="401"' in text
    (True, True)
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from graphroute.redaction import redact
from graphroute.serve.api_errors import APIError, as_api_error, error_response

log = logging.getLogger("graphroute.serve")

#: query parameters that carry a credential; a request with one is refused (keys go in a header)
KEY_PARAMS = frozenset({"api_key", "api-key", "apikey", "key", "token", "access_token", "auth", "authorization"})
#: the state fields handlers set so that a refusal is counted under its virtual model
LABEL, KIND, COUNTED = "graphroute_label", "graphroute_kind", "graphroute_counted"


def mark(request: Any, label: str, kind: str) -> None:
    """Name the virtual model a request is for (its refusal is counted under it)."""
    request.state.graphroute_label, request.state.graphroute_kind = label, kind


def counted(request: Any) -> None:
    """The handler counted this request itself (with its decision): the guard does not count it again."""
    request.state.graphroute_counted = True


class NoQueryInAccessLog(logging.Filter):
    """uvicorn's access log line without the query string (it could hold a key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[query removed]", *args[3:])
        return True


def hide_query_strings() -> None:
    """Install ``NoQueryInAccessLog`` on uvicorn's access logger (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, NoQueryInAccessLog) for f in access.filters):
        access.addFilter(NoQueryInAccessLog())


class Guard:
    """``metrics``: the server's ``ServeMetrics``; ``secrets``: the
    upstreams' keys, scrubbed from every error it sends."""

    def __init__(self, app: Any, metrics: Any, secrets: Any = ()) -> None:
        self.app, self.metrics, self.secrets = app, metrics, list(secrets)

    async def _send_error(self, send: Any, err: APIError) -> None:
        resp = error_response(err, self.secrets)
        await send({"type": "http.response.start", "status": resp.status_code, "headers": resp.raw_headers})
        await send({"type": "http.response.body", "body": resp.body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), [0]
        state = scope.setdefault("state", {})
        query = scope.get("query_string", b"").decode("latin-1")
        if query and any(k.lower() in KEY_PARAMS for k, _ in parse_qsl(query, keep_blank_values=True)):
            status[0] = 401
            await self._send_error(send, APIError(401, "Send the API key in the 'Authorization: Bearer' header; a key "
                                                       "in the URL is refused (URLs are logged and cached).",
                                                  "authentication_error", "key_in_url"))
        else:
            async def watched(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, watched)
            except Exception as exc:  # answered here, so uvicorn keeps the client's connection open
                if status[0]:
                    raise  # the response had started (a stream): nothing more can be sent
                err = as_api_error(exc)
                log.error("%s %s: %s", scope.get("method"), scope.get("path"), redact(f"{type(exc).__name__}: {exc}"))
                log.debug("traceback", exc_info=True)
                status[0] = err.status
                await self._send_error(send, err)
        if scope.get("path", "").startswith("/v1/") and not state.get(COUNTED):
            self.metrics.request(state.get(LABEL, "unknown"), state.get(KIND, "unknown"), status[0] or 500,
                                 time.perf_counter() - t0)

