"""The OpenAI-compatible HTTP server (FastAPI): ``/v1/chat/completions`` (whole and SSE streams),
``/v1/models``, ``/v1/route``, ``/v1/feedback``, ``/health``, ``/metrics``. Every answer carries its
decision: headers ``x-graphroute-model``, ``x-graphroute-request-id``, ``x-graphroute-reason``, a
``routing`` object in the body and the cost in dollars in ``usage.cost``. Errors use OpenAI's format.

Examples:
    >>> from fastapi.testclient import TestClient
    >>> from graphroute.serve import create_app
    >>> from graphroute.datasets import load_dataset
    >>> client = TestClient(create_app("graphs/serve.yaml"))
    >>> q = load_dataset("routellm-gsm8k").prompts[0]
    >>> r = client.post("/v1/chat/completions", json={"model": "mixtral", "messages": [{"role": "user", "content": q}]})
    >>> r.status_code, r.headers["x-graphroute-model"], r.json()["choices"][0]["message"]["content"].split()[-1]
    (200, 'mixtral', '540')
    >>> client.post("/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]}).json()["error"]["code"]
    'model_not_found'
"""

from __future__ import annotations

import contextlib
import inspect
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from graphroute.serve.api_errors import install_error_handlers
from graphroute.serve.body_limit import BodyLimit
from graphroute.serve.guard import Guard, hide_query_strings
from graphroute.serve.routes import admin, chat, models, route, ui
from graphroute.serve.routes.feedback import feedback_router
from graphroute.serve.service import Service
from graphroute.serve.settings import ServeFile, load_serve_config


def fastapi_telemetry() -> dict[str, Any]:
    """FastAPI's built-in OpenTelemetry (versions that have it) turned off: graphroute's routes make
    the one server span per request themselves (each span costs about 35 us on the request and
    75 us to export on these cores; FastAPI's would add one to five per request), ``/metrics`` has
    graphroute's metrics, and probes, scrapes and the dashboard are not traced."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def create_app(config: ServeFile | str | Path) -> FastAPI:
    """The server as an ASGI app (mount it in your own FastAPI/Starlette app, or run it with uvicorn).

    It builds the ``Service`` once and assembles the routes of ``graphroute.serve.routes``, the
    middleware and the error handlers; it defines no route itself.

    Args:
        config: a serve file (YAML path) or its parsed ``ServeFile``.

    Returns:
        The FastAPI app.

    Raises:
        ConfigError: the serve file is invalid (naming the file, line and field).
    """
    cfg = config if isinstance(config, ServeFile) else load_serve_config(config)
    svc = Service(cfg)
    hide_query_strings()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await svc.start()
        yield
        await svc.aclose()

    app = FastAPI(title="graphroute", version="1.0", description="OpenAI-compatible routing server", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None, **fastapi_telemetry())
    app.state.service = svc
    app.state.open_docs = cfg.serve.open_docs if cfg.serve.open_docs is not None else not svc.keys.enabled
    app.add_middleware(BodyLimit, max_bytes=cfg.serve.max_body_bytes)
    app.add_middleware(Guard, metrics=svc.metrics, secrets=svc.secrets)  # outermost: counts refusals, 413s and 500s too
    install_error_handlers(app, svc.secrets)
    for router in (chat.router, route.router, feedback_router(cfg.serve.feedback_metrics), models.router, admin.router,
                   ui.router):
        app.include_router(router)
    return app
