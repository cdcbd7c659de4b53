"""Optional extras: the packages a feature needs beyond the core, and the typed error when they are missing.

The core (routers, evaluation, datasets, LangGraph nodes and YAML graphs) installs with
``pip install graphroute``. The server, shared state, PostgreSQL storage and plots are extras:

========== ============================================================================
extra      packages
========== ============================================================================
serve      fastapi, uvicorn, aiohttp, prometheus-client, limits, statsmodels (experiments)
redis      redis (shared state across workers)
postgres   psycopg, psycopg-pool, langgraph-checkpoint-postgres (telemetry, checkpoints)
plots      matplotlib (``graphroute eval``'s plot, experiment plots)
========== ============================================================================

Examples:
    >>> from graphroute.extras import EXTRAS, require
    >>> EXTRAS["fastapi"]
    'serve'
    >>> require("json", "a standard module").__name__
    'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from graphroute.errors import MissingExtraError

#: top-level module -> the extra that installs it
EXTRAS = {
    "fastapi": "serve", "starlette": "serve", "uvicorn": "serve", "aiohttp": "serve", "prometheus_client": "serve",
    "limits": "serve", "statsmodels": "serve", "redis": "redis", "psycopg": "postgres", "psycopg_pool": "postgres",
    "langgraph.checkpoint.postgres": "postgres", "matplotlib": "plots",
    "opentelemetry": "otel",
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise ``MissingExtraError`` naming its extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise as_missing_extra(exc, feature) from None


def as_missing_extra(exc: ImportError, feature: str) -> ImportError:
    """A ``MissingExtraError`` for an import of an extra's module that failed, else ``exc`` itself."""
    name = exc.name or ""
    for module, extra in EXTRAS.items():
        if name == module or name.startswith(module + "."):
            return MissingExtraError(feature, extra, module)
    return exc


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the file-only Agg backend (the ``plots`` extra)."""
    matplotlib = require("matplotlib", "drawing plots")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", "drawing plots")


def load_attribute(module: str, name: str, feature: str) -> Any:
    """``module.name``, imported on first use (a package's lazy public name that needs an extra);
    a missing extra raises ``MissingExtraError``."""
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise as_missing_extra(exc, feature) from None
