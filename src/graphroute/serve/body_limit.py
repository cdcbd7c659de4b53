"""A request body size limit as ASGI middleware: a declared ``Content-Length`` over the limit is
refused before the body is read, a chunked body (no declared length) is read here up to the
limit and refused as soon as it passes it; both with 413 in OpenAI's error format, before the app
parses anything. (Starlette has no body limit of its own; uvicorn's ``h11_max_incomplete_event_size``
bounds headers only.)

Examples:
    >>> from fastapi import FastAPI, Request
    >>> from fastapi.testclient import TestClient
    >>> from graphroute.serve.body_limit import BodyLimit
    >>> app = FastAPI()
    >>> @app.post("/echo")
    ... async def echo(request: Request): return {"n": len(await request.body())}
    >>> app.add_middleware(BodyLimit, max_bytes=10)
    >>> c = TestClient(app)
    >>> c.post("/echo", content=b"x" * 5).json(), c.post("/echo", content=b"x" * 11).status_code
    ({'n': 5}, 413)
"""

from __future__ import annotations

import json
from typing import Any


class BodyLimit:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, int(max_bytes)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"error": {"message": f"Request body too large: the limit is {self.max_bytes} bytes.",
                                     "type": "invalid_request_error", "param": None, "code": "request_too_large"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if declared is not None:
            if declared > self.max_bytes:
                return await self._refuse(send)
            return await self.app(scope, receive, send)
        # no declared length (chunked): read it here, up to the limit, before the app parses anything
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: the app sees the disconnect
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                return await self._refuse(send)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body, delivered = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
