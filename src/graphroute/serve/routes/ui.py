"""The dashboard: ``GET /ui`` (a static page and its script, shipped in the package: no CDN) and
``GET /ui/data`` (its figures as JSON: an admin key when the server has keys). ``serve.ui: false``
turns both off (404)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from graphroute.serve.api_errors import APIError
from graphroute.serve.dashboard import dashboard_data
from graphroute.serve.deps import ServiceDep

router = APIRouter(include_in_schema=False)

#: the page's files: name -> media type (nothing else under /ui is served)
ASSETS = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
_CACHE: dict[str, bytes] = {}
#: the page runs only its own script and style, and talks only to this server
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:"


def _on(svc: Any) -> None:
    if not svc.cfg.serve.ui:
        raise APIError(404, "The dashboard is turned off (serve.ui: false).", "invalid_request_error", "not_found")


def _asset(name: str) -> Response:
    if name not in _CACHE:
        _CACHE[name] = files("graphroute.serve").joinpath("ui", name).read_bytes()
    return Response(_CACHE[name], media_type=ASSETS[name],
                    headers={"content-security-policy": CSP, "x-content-type-options": "nosniff",
                             "cache-control": "no-cache"})


@router.get("/ui")
async def page(svc: ServiceDep) -> Response:
    _on(svc)
    return _asset("index.html")


@router.get("/ui/{name}")
async def asset(name: str, svc: ServiceDep) -> Response:
    _on(svc)
    if name not in ASSETS or name == "index.html":
        raise APIError(404, f"No dashboard file {name!r}.", "invalid_request_error", "not_found")
    return _asset(name)


@router.get("/ui/api/data")
async def data(request: Request, svc: ServiceDep) -> JSONResponse:
    """The figures: an admin key is needed when the server has keys (a 401 without a valid key,
    a 403 for a key that is not an admin's)."""
    _on(svc)
    key = svc.keys.authenticate(request.headers.get("authorization"))
    if key is not None and not key.admin:
        raise APIError(403, f"Key {key.name!r} is not an admin key: the dashboard shows every key's spend.",
                       "permission_error", "forbidden")
    return JSONResponse(await dashboard_data(svc), headers={"cache-control": "no-store"})
