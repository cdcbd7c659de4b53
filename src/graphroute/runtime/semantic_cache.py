"""Semantic cache: FAISS similarity over previous prompts, per model and per scope, with a threshold
and a time to live. A private request (user/session scope) is looked up and stored only in its own
scope; public requests only in the public one — a cached answer never crosses scopes.

With a shared ``state`` (``graphroute.state``, Redis), ``aput`` also appends the entry (vector,
answer, model, scope, expiry) to the shared log, and ``aget`` first adds to this worker's FAISS
index the entries other workers appended since it last looked: an answer cached by one worker is
found by every other.

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
import uuid
from typing import Any, Callable

import numpy as np

from graphroute.encoders import EncoderMixin
from graphroute.index import VectorIndex
from graphroute.runtime.cache_entry import CacheEntry

PUBLIC = "public"


class SemanticCache(EncoderMixin):
    """``threshold``: minimum cosine similarity for a hit; ``ttl_s``: entries older are ignored and
    evicted; ``max_entries`` per (model, scope), oldest evicted first."""

    def __init__(self, encoder: Any = None, *, threshold: float = 0.95, ttl_s: float = 3600.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.time, state: Any = None) -> None:
        self.encoder, self.threshold, self.ttl_s, self.max_entries, self.clock = encoder, threshold, ttl_s, max_entries, clock
        self.state = state
        self._cursor: Any = None
        self._mine: set[str] = set()  # ids this worker appended (skipped when they come back from the log)
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
        self._insert(self._vec(prompt), model, answer, scope, self.clock())

    def _insert(self, v: np.ndarray, model: str, answer: str, scope: str, ts: float) -> None:
        with self._lock:
            t = self._table(model, scope, v.shape[1])
            self._evict(t, self.clock())
            [i] = t["index"].add(v)
            t["entries"][int(i)] = (answer, ts)

    async def sync(self) -> int:
        """Add the entries other workers appended to the shared log since the last sync; returns how many."""
        if self.state is None:
            return 0
        entries, self._cursor = await self.state.cache_since(self._cursor)
        n = 0
        for e in entries:
            if e.id in self._mine:
                self._mine.discard(e.id)
                continue
            self._insert(np.asarray(e.vector, np.float32)[None, :], e.model, e.answer, e.scope, e.expires_at - self.ttl_s)
            n += 1
        return n

    async def aget(self, prompt: str, model: str, scope: str = PUBLIC) -> str | None:
        """``get``, after taking in what other workers cached."""
        await self.sync()
        return self.get(prompt, model, scope)

    async def aput(self, prompt: str, model: str, answer: str, scope: str = PUBLIC) -> None:
        """``put``, shared with every worker through the state backend."""
        v = self._vec(prompt)
        now = self.clock()
        self._insert(v, model, answer, scope, now)
        if self.state is not None:
            from_here = uuid.uuid4().hex
            self._mine.add(from_here)  # before the await: a concurrent sync may read it back at once
            if not await self.state.cache_put(CacheEntry(id=from_here, vector=v[0], answer=answer, model=model,
                                                         scope=scope or PUBLIC, expires_at=now + self.ttl_s)):
                self._mine.discard(from_here)
