"""The registry of router names and the factory that reads a router spec.

Examples:
    >>> from graphroute.routers import ROUTERS
    >>> "knn" in ROUTERS.names()
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphroute.errors import UnknownRouterError
from graphroute.registry import Registry

if TYPE_CHECKING:
    from graphroute.routers.base import Router

ROUTERS = Registry("router", error=UnknownRouterError)


def make_router(spec: Any, **overrides: Any) -> Router:
    """A fresh, unfitted router from a spec.

    Args:
        spec: a registered name (``"knn"``), a name with parameters (``"knn:k=400,temperature=0.2"``),
            a mapping (``{"name": "ridge", "alpha": 30}``) or a ``(name, params)`` pair; the same
            string works on the command line and in YAML.
        **overrides: parameters that replace the spec's.

    Returns:
        The unfitted router (``fit`` it on a dataset).

    Raises:
        UnknownRouterError: no router is registered under the name.
        ConfigError: a parameter the router does not take, or a required one missing.

    Examples:
        >>> from graphroute.routers import make_router
        >>> make_router("knn:k=400,temperature=0.2")
        KNNRouter(k=400, temperature=0.2, encoder=None, index_kind='auto', dims=None)
    """
    return ROUTERS.make(spec, **overrides)


def router_names(spec: str) -> list[str]:
    """Split ``"a,b:k=1,t=2,c"`` into router specs, checking every name and parameter."""
    specs = ROUTERS.split(spec)
    for s in specs:
        make_router(s)
    return specs
