"""Cascades: ask cheap models first and escalate on low confidence (FrugalGPT-style), as LangGraph
nodes or subgraphs, calibrated on recorded outcomes.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade import Cascade, Stage
    >>> from graphroute.cascade.scorers import FormatScorer
    >>> c = Cascade([Stage(FakeListChatModel(responses=["12"]), name="gpt-4o-mini", scorer=FormatScorer(kind="integer")),
    ...              Stage(FakeListChatModel(responses=["12"]), name="gpt-4o")])
    >>> c.invoke("3 * 4?").model
    'gpt-4o-mini'
"""

import importlib
from typing import Any

_EXPORTS = {
    "Answer": "base", "Attempt": "base", "Call": "base", "CascadeError": "base", "CascadeResult": "base",
    "Calibration": "calibrate", "search_thresholds": "calibrate", "simulate": "calibrate",
    "Cascade": "cascade", "Stage": "cascade",
    "cascade_from_config": "config", "load_cascade": "config", "save_cascade": "config",
    "CascadeNode": "graph", "CascadeState": "graph", "cascade_graph": "graph",
    "calibrate_cascade": "offline", "recorded_matrices": "offline",
    "CascadeRouter": "router",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:  # lazy: mathcheck users need not import LangChain/LangGraph
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"graphroute.cascade.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'graphroute.cascade' has no attribute {name!r}")
