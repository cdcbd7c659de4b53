"""graphroute: model routing as a first-class part of LangGraph workflows.

Public names load lazily, so ``import graphroute`` stays fast (no torch, FAISS or
sentence-transformers until a router needs them).

Example:
    >>> import graphroute
    >>> data = graphroute.load_dataset("routellm-gsm8k")
    >>> len(data)
    1307
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "RoutingDataset": "graphroute.datasets",
    "load_dataset": "graphroute.datasets",
    "Router": "graphroute.routers",
    "RandomRouter": "graphroute.routers",
    "AlwaysRouter": "graphroute.routers",
    "OracleRouter": "graphroute.routers",
    "KNNRouter": "graphroute.routers",
    "HeadRouter": "graphroute.routers",
    "FeatureRouter": "graphroute.routers",
    "StackedRouter": "graphroute.routers",
    "Decision": "graphroute.routers",
    "SemanticRouter": "graphroute.routers.semantic",
    "Route": "graphroute.routers.semantic",
    "RouterNode": "graphroute.nodes",
    "VectorIndex": "graphroute.index",
    "make_router": "graphroute.routers",
    "CostModel": "graphroute.costs",
    "evaluate": "graphroute.evaluation",
    "Cascade": "graphroute.cascade",
    "Stage": "graphroute.cascade",
    "Allocator": "graphroute.allocator",
    "Catalogue": "graphroute.allocator",
    "RoutedChatModel": "graphroute.models",
    "ReplayChatModel": "graphroute.models",
    "RulesRouter": "graphroute.routers.rules",
    "compile_file": "graphroute.graphs",
    "run_graph": "graphroute.graphs",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'graphroute' has no attribute {name!r}")
