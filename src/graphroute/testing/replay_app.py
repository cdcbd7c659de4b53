"""An OpenAI-compatible HTTP server answering from recorded outcomes (``graphroute replay-server``):
each recorded model of a dataset is a model of the server, so a routed deployment (graphroute serve,
or any other proxy) can be run and evaluated offline against real HTTP. Each answer carries
``graphroute_replay`` (the recorded score and row).

Examples:
    >>> from fastapi.testclient import TestClient
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.testing import create_replay_app
    >>> data = load_dataset("routellm-gsm8k")
    >>> c = TestClient(create_replay_app(data))
    >>> [m["id"] for m in c.get("/v1/models").json()["data"]]
    ['mistralai/Mixtral-8x7B-Instruct-v0.1', 'gpt-4-1106-preview']
    >>> r = c.post("/v1/chat/completions", json={"model": "gpt-4-1106-preview",
    ...                                          "messages": [{"role": "user", "content": data.prompts[0]}]})
    >>> r.json()["graphroute_replay"]["score"]
    1.0
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from graphroute.datasets import RoutingDataset
from graphroute.serve.upstreams.recorded import RecordedUpstream
from graphroute.serve.wire import ChatRequest, error_body


def create_replay_app(data: RoutingDataset, *, latency_ms: float = 0.0) -> FastAPI:
    """The replay server for ``data``'s recorded models (``latency_ms``: wait per call)."""
    ups = {m: RecordedUpstream(m, data, m, latency_ms=latency_ms) for m in data.models}
    app = FastAPI(title="graphroute replay", description=f"recorded outcomes of {data.name}")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Any, exc: RequestValidationError) -> JSONResponse:
        e = (exc.errors() or [{}])[0]
        return JSONResponse(error_body(f"Invalid request: {e.get('msg', 'invalid')}", "invalid_request_error"), status_code=400)

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "replay"} for m in ups]}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest):
        up = ups.get(body.model)
        if up is None:
            return JSONResponse(error_body(f"The model `{body.model}` does not exist. Models: {', '.join(ups)}",
                                           "invalid_request_error", code="model_not_found", param="model"), status_code=404)
        req = body.model_dump(exclude_unset=True)
        if not body.stream:
            return await up.complete(req)
        want_usage = bool((body.stream_options or {}).get("include_usage"))

        async def events():
            async for ch in up.stream(req):
                if ch.get("choices") or want_usage:
                    yield b"data: " + json.dumps(ch).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app
