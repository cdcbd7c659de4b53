"""Semantic cache: FAISS similarity over previous prompts, per model and per scope, with a threshold
and a time to live. A private request (user/session scope) is looked up and stored only in its own
scope; public requests only in the public one — a cached answer never crosses scopes.

Examples:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from graphroute.encoders import LangChainEncoder
    >>> from graphroute.runtime import SemanticCache
    >>> c = SemanticCache(LangChainEncoder(DeterministicFakeEmbedding(size=32)), threshold=0.99)
    >>> c.put("What is 2+2?", "gpt-4o", "4", scope="user:ann")
    >>> c.get("What is 2+2?", "gpt-4o", scope="user:ann"), c.get("What is 2+2?", "gpt-4o", scope="user:bob")
    ('4', None)
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import numpy as np

from graphroute.encoders import EncoderMixin
from graphroute.index import VectorIndex

PUBLIC = "public"


class SemanticCache(EncoderMixin):
    """``threshold``: minimum cosine similarity for a hit; ``ttl_s``: entries older are ignored and
    evicted; ``max_entries`` per (model, scope), oldest evicted first."""

    def __init__(self, encoder: Any = None, *, threshold: float = 0.95, ttl_s: float = 3600.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.encoder, self.threshold, self.ttl_s, self.max_entries, self.clock = encoder, threshold, ttl_s, max_entries, clock
        self._tables: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def _vec(self, prompt: str) -> np.ndarray:
        return self.embed_texts([prompt], store=False)

    def _table(self, model: str, scope: str, dim: int) -> dict[str, Any]:
        key = (model, scope or PUBLIC)
        if key not in self._tables:
            self._tables[key] = {"index": VectorIndex(dim, "flat"), "entries": {}}
        return self._tables[key]

    def _evict(self, t: dict[str, Any], now: float) -> None:
        old = [i for i, (_, ts) in t["entries"].items() if now - ts > self.ttl_s]
        while len(t["entries"]) - len(old) >= self.max_entries:
            keep = sorted((ts, i) for i, (_, ts) in t["entries"].items() if i not in old)
            old.append(keep[0][1])
        if old:
            t["index"].remove(np.asarray(old, dtype=np.int64))
            for i in old:
                t["entries"].pop(i, None)

    def get(self, prompt: str, model: str, scope: str = PUBLIC) -> str | None:
        v = self._vec(prompt)
        with self._lock:
            t = self._table(model, scope, v.shape[1])
            self._evict(t, self.clock())
            if not t["entries"]:
                self.misses += 1
                return None
            sims, ids = t["index"].search(v, 1)
            if ids[0][0] >= 0 and sims[0][0] >= self.threshold:
                self.hits += 1
                return t["entries"][int(ids[0][0])][0]
            self.misses += 1
            return None

    def put(self, prompt: str, model: str, answer: str, scope: str = PUBLIC) -> None:
        v = self._vec(prompt)
        with self._lock:
            t = self._table(model, scope, v.shape[1])
            now = self.clock()
            self._evict(t, now)
            [i] = t["index"].add(v)
            t["entries"][int(i)] = (answer, now)
