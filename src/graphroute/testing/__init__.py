"""Tools for testing routers and the code that calls them: the conformance checks every router and
strategy passes (``check_router``, ``check_strategy``), and an OpenAI-compatible server that answers
from recorded outcomes (``create_replay_app``, ``graphroute replay-server``; the ``serve`` extra),
the stand-in for paid upstreams in tests and offline demos.

Examples:
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.testing import check_router
    >>> check_router("knn:k=5", load_dataset("routellm-gsm8k").subset(range(60)))
    'knn:k=5: 9 checks passed'
"""

from __future__ import annotations

from typing import Any

from graphroute.extras import load_attribute
from graphroute.testing.conformance import check_router, check_strategy

__all__ = ["check_router", "check_strategy", "create_replay_app"]


def __getattr__(name: str) -> Any:
    if name == "create_replay_app":  # FastAPI (the serve extra), loaded on first use
        value = globals()[name] = load_attribute("graphroute.testing.replay_app", name, "the replay server")
        return value
    raise AttributeError(f"module 'graphroute.testing' has no attribute {name!r}")
