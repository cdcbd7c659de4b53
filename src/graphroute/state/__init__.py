"""Runtime state shared across workers: a protocol (``graphroute.state.base``), in this
process (``MemoryState``, the default) or in Redis (``RedisState``, the ``redis`` extra:
``pip install 'graphroute[redis]'``).

Examples:
    >>> from graphroute.state import open_state
    >>> open_state(None).url, open_state("redis://127.0.0.1:6379/0").policy
    ('memory://', 'fail_closed')
"""

from __future__ import annotations

from typing import Any

from graphroute.errors import ConfigError
from graphroute.state.base import ADMITTED, REFUSED, TRIAL, Reservation, StateBackend, StateUnavailableError
from graphroute.state.memory import MemoryState
from graphroute.extras import load_attribute
from graphroute.runtime.cache_entry import CacheEntry


def open_state(url: str | None, **options: Any) -> Any:
    """The backend a URL names: None or ``memory://`` -> ``MemoryState``; ``redis://``,
    ``rediss://``, ``unix://`` or ``redis-cluster://`` -> ``RedisState`` (``options``: prefix, policy, timeout_s, retry_s)."""
    if url is None or url == "memory://":
        return MemoryState()
    if url.startswith(("redis://", "rediss://", "unix://", "redis-cluster://")):
        return load_attribute("graphroute.state.redis_backend", "RedisState", "serve.state: redis://")(url, **options)
    raise ConfigError(f"unknown state backend {url!r}: use memory:// or redis://host:port/db", field="state")


__all__ = ["ADMITTED", "REFUSED", "TRIAL", "CacheEntry", "MemoryState", "RedisState", "Reservation", "StateBackend",
           "StateUnavailableError", "open_state"]


def __getattr__(name: str) -> Any:
    if name == "RedisState":  # needs the redis extra: loaded on first use
        return load_attribute("graphroute.state.redis_backend", name, "the Redis state backend")
    raise AttributeError(f"module 'graphroute.state' has no attribute {name!r}")
