"""graphroute: model routing as a first-class part of LangGraph workflows.

Public names load lazily, so ``import graphroute`` stays fast (no torch, FAISS or
sentence-transformers until a router needs them).

Examples:
    >>> import graphroute
    >>> data = graphroute.load_dataset("routellm-gsm8k")
    >>> len(data)
    1307
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "1.0.0"

_EXPORTS = {
    "RoutingDataset": "graphroute.datasets",
    "load_dataset": "graphroute.datasets",
    "evaluate": "graphroute.evaluation",
    "Router": "graphroute.routers",
    "make_router": "graphroute.routers",
    "fit_router": "graphroute.routers",
    "SemanticRouter": "graphroute.routers",
    "Route": "graphroute.routers",
    "RouterNode": "graphroute.nodes",
    "Cascade": "graphroute.cascade",
    "Stage": "graphroute.cascade",
    "Allocator": "graphroute.allocator",
    "Catalogue": "graphroute.allocator",
    "RoutedChatModel": "graphroute.models",
    "ReplayChatModel": "graphroute.models",
    "Gateway": "graphroute.runtime",
    "compile_file": "graphroute.graphs",
    "run_graph": "graphroute.graphs",
    "CostModel": "graphroute.costs",
    "Decision": "graphroute.types",
    "Calibration": "graphroute.types",
    "CascadeResult": "graphroute.types",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'graphroute' has no attribute {name!r}")
