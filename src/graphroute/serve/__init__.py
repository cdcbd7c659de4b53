"""``graphroute serve``: an OpenAI-compatible routing server any OpenAI or LangChain client uses unchanged.

``create_app(config)`` gives the ASGI app (a path to a serve YAML or a loaded
``ServeFile``). It needs the ``serve`` extra
(``pip install 'graphroute[serve]'``) and loads on first use; reading and checking a serve file does not.
"""

from __future__ import annotations

from typing import Any

from graphroute.extras import load_attribute
from graphroute.serve.settings import KeyBlock, ServeBlock, ServeFile, hash_key, load_serve_config

_LAZY = {"create_app": "graphroute.serve.app"}

__all__ = ["KeyBlock", "ServeBlock", "ServeFile", "create_app", "hash_key", "load_serve_config"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = globals()[name] = load_attribute(_LAZY[name], name, "graphroute serve")
        return value
    raise AttributeError(f"module 'graphroute.serve' has no attribute {name!r}")
