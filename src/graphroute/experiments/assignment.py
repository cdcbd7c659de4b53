"""Sticky assignment of units (users, sessions, keys) to arms by a salted hash.

Weighted rendezvous hashing: each arm scores a unit ``-weight / ln(u)``, with ``u`` uniform from
``sha256(salt, arm, unit)``, and the unit takes the arm with the highest score. An arm's share is
its weight's share, the same unit always gets the same arm, and changing one arm's weight moves
only units to or from that arm: from 50/50 to 60/40, 10 % of units move, the least possible.
(Interval splits move more once there are three arms; no library does this, hence the ten lines.)

Examples:
    >>> from graphroute.experiments import assign
    >>> assign("user-42", {"a": 0.5, "b": 0.5}, salt="exp1") == assign("user-42", {"a": 0.5, "b": 0.5}, salt="exp1")
    True
    >>> users = [f"u{i}" for i in range(10_000)]
    >>> before = [assign(u, {"a": 50, "b": 50}, "s") for u in users]
    >>> after = [assign(u, {"a": 60, "b": 40}, "s") for u in users]
    >>> round(sum(x != y for x, y in zip(before, after)) / len(users), 2)
    0.1
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Mapping

_SCALE = float(1 << 64)


def unit_uniform(salt: str, arm: str, unit: str) -> float:
    """A uniform number in (0, 1) fixed by ``(salt, arm, unit)``."""
    digest = hashlib.sha256(f"{salt}\x1f{arm}\x1f{unit}".encode("utf-8")).digest()
    return (struct.unpack(">Q", digest[:8])[0] + 0.5) / _SCALE


def assign(unit: str, weights: Mapping[str, float], salt: str) -> str:
    """The arm ``unit`` is in under ``weights`` (relative, any positive scale)."""
    best, arm = -math.inf, None
    for name, w in weights.items():
        if w <= 0:
            continue
        score = -w / math.log(unit_uniform(salt, name, unit))
        if score > best:
            best, arm = score, name
    if arm is None:
        raise ValueError("every arm has weight 0")
    return arm


def sampled(salt: str, name: str, request_id: str, share: float) -> bool:
    """Is this request in the ``share`` of requests a shadow is called on (reproducible per request)?"""
    return share > 0 and unit_uniform(salt, f"shadow:{name}", request_id) < share
