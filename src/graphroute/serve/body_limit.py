"""A request body size limit as ASGI middleware: a declared ``Content-Length`` over the limit is
refused before the body is read, a chunked body as soon as it passes the limit; both with 413 in
OpenAI's error format. (Starlette has no body limit of its own; uvicorn's ``h11_max_incomplete_event_size``
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


class _TooLarge(Exception):
    pass


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
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    return await self._refuse(send)
        seen, started = 0, False

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def watch(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except _TooLarge:
            if not started:
                await self._refuse(send)
