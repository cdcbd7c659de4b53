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
from typing import TYPE_CHECKING, Any

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
    "RoutedState": "graphroute.nodes",
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

if TYPE_CHECKING:  # what editors and type checkers see; at run time the names load on first use
    from graphroute.allocator import Allocator as Allocator, Catalogue as Catalogue
    from graphroute.cascade import Cascade as Cascade, Stage as Stage
    from graphroute.costs import CostModel as CostModel
    from graphroute.datasets import RoutingDataset as RoutingDataset, load_dataset as load_dataset
    from graphroute.evaluation import evaluate as evaluate
    from graphroute.graphs import compile_file as compile_file, run_graph as run_graph
    from graphroute.models import ReplayChatModel as ReplayChatModel, RoutedChatModel as RoutedChatModel
    from graphroute.nodes import RoutedState as RoutedState, RouterNode as RouterNode
    from graphroute.routers import Route as Route, Router as Router, SemanticRouter as SemanticRouter, fit_router as fit_router, make_router as make_router
    from graphroute.runtime import Gateway as Gateway
    from graphroute.types import Calibration as Calibration, CascadeResult as CascadeResult, Decision as Decision

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'graphroute' has no attribute {name!r}")
