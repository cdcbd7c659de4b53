"""A semantic-cache entry as the state backends store and share it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class CacheEntry:
    """One semantic-cache answer as workers share it: its prompt's ``vector`` (float32), the answer,
    the model and scope it belongs to, and when it expires (wall time)."""

    id: str
    vector: Any
    answer: str
    model: str
    scope: str
    expires_at: float
