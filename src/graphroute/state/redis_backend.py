"""Shared state in Redis (``redis`` asyncio client): every worker of every host sees the same
breakers, budgets, rate limits, bandit statistics, semantic-cache entries and feedback records.

An outage is handled by ``policy``: ``fail_closed`` refuses budgeted calls
(``StateUnavailableError``), ``fail_open`` spends under local limits
only (logged). Breakers and rate limits fall back to this process's own during an outage either
way. The client reconnects by itself: after a failed command Redis is left alone for
``retry_s``, then tried again.

Examples:
    >>> import asyncio
    >>> from graphroute.state import open_state
    >>> async def demo():
    ...     st = open_state("redis://127.0.0.1:6379/15", prefix="doctest")
    ...     await st.client.delete(st.key("fbc", "req-1:feedback"))
    ...     await st.remember("req-1", {"model": "gpt4"}, ttl_s=60)
    ...     got = await st.peek("req-1"), await st.claim("req-1:feedback", 60), await st.claim("req-1:feedback", 60)
    ...     await st.aclose()
    ...     return got
    >>> asyncio.run(demo())     # the record stays; the first feedback claims it, a second is refused
    ({'model': 'gpt4'}, True, False)
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import numpy as np
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from graphroute.errors import ConfigError
from graphroute.state import lua
from graphroute.state.base import POLICIES, StateUnavailableError
from graphroute.runtime.cache_entry import CacheEntry
from graphroute.state.memory import MemoryState, decayed
from graphroute.state.redis_breaker import RedisBreaker
from graphroute.state.redis_budgets import RedisBudgets

log = logging.getLogger("graphroute.state")

#: the most cache entries the shared log keeps (oldest trimmed first)
CACHE_LOG_MAX = 100_000
OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


#: the least time a caller waits for one of the pool's connections before that counts as an outage
POOL_WAIT_S = 5.0


class RedisState:
    """``url``: ``redis://[:password@]host:port/db`` (or ``rediss://``, or ``redis-cluster://host:port``
    for Redis Cluster, any node as the entry point); ``prefix``: the key prefix,
    so that several deployments share one Redis; ``timeout_s``: per command; ``max_connections``:
    this worker's pool (a burst beyond it waits for a free connection)."""

    def __init__(self, url: str, *, prefix: str = "gr", policy: str = "fail_closed", timeout_s: float = 0.5,
                 retry_s: float = 1.0, max_connections: int = 64, clock: Callable[[], float] = time.time) -> None:
        if policy not in POLICIES:
            raise ConfigError(f"unknown outage policy {policy!r}; one of {', '.join(POLICIES)}", field="state.policy")
        self.url, self.prefix, self.policy, self.retry_s, self.clock = url, prefix, policy, retry_s, clock
        retry = Retry(ExponentialBackoff(cap=0.05, base=0.005), 1)  # a stale connection (restart): reconnected once
        try:
            if url.startswith("redis-cluster://"):  # Redis Cluster: every script's keys share one slot
                self.client = RedisCluster.from_url("redis://" + url[len("redis-cluster://"):], socket_timeout=timeout_s,
                                                    socket_connect_timeout=timeout_s, max_connections=max_connections,
                                                    retry=retry, retry_on_error=[RedisConnectionError])
            else:
                # a bounded pool that makes a burst wait for a connection instead of failing it; the wait
                # is a queue in this process, not Redis being unreachable, so it gets longer than a
                # command (a burst of 200 callers once waited > 0.5 s and flipped a worker to its local state)
                pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections,
                                                                timeout=max(POOL_WAIT_S, 10 * timeout_s),
                                                                socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                                                retry=retry, retry_on_error=[RedisConnectionError])
                self.client = aioredis.Redis(connection_pool=pool)  # type: ignore[assignment]
        except ValueError as exc:
            raise ConfigError(f"bad Redis URL {url!r}: {exc}", field="state") from None
        u = urlsplit(url)
        self.host = f"{u.hostname}:{u.port or 6379}" if u.hostname else (u.path or url)
        self.local = MemoryState(clock)  # breakers, rate limits and fail_open budgets during an outage
        self._down_until = 0.0
        self.outages = 0
        self.scripts = {name: self.client.register_script(getattr(lua, name)) for name in
                        ("BREAKER_ALLOW", "BREAKER_FAILURE", "BREAKER_SUCCESS", "BUDGET_RESERVE", "BUDGET_SETTLE",
                         "RATE_HIT", "BANDIT_ADD")}
        self.ops = 0  # Redis round trips made (the scaling page's operations per request)

    # ------------------------------------------------------------------ plumbing
    def key(self, tag: str, *rest: str) -> str:
        """A key in slot ``{prefix:tag}``: every key of one script shares the tag."""
        return ":".join([f"{{{self.prefix}:{tag}}}", *rest])

    @property
    def up(self) -> bool:
        """False while Redis is left alone after a failure."""
        return self.clock() >= self._down_until

    async def run(self, op: Callable[[], Awaitable[Any]]) -> Any:
        """Run one Redis operation; an outage raises ``StateUnavailableError`` (fast while down)."""
        if not self.up:
            raise StateUnavailableError("Redis is unreachable (retrying shortly)", self.host)
        try:
            self.ops += 1
            return await op()
        except OUTAGE as exc:
            if self.up:
                self.outages += 1
                log.warning("Redis at %s unreachable (%s); policy %s until it is back", self.host, exc, self.policy)
            self._down_until = self.clock() + self.retry_s
            raise StateUnavailableError(f"Redis is unreachable: {exc}", self.host) from None
        except RedisError as exc:
            raise StateUnavailableError(f"Redis refused a command: {exc}", self.host) from None

    async def script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self.run(lambda: self.scripts[name](keys=keys, args=args))

    async def ping(self) -> bool:
        try:
            return bool(await self.run(self.client.ping))
        except StateUnavailableError:
            return False

    # ------------------------------------------------------------------ factories
    def breaker(self, name: str, *, failures: int = 3, window_s: float = 30.0, cooldown_s: float = 10.0,
                trial_ttl_s: float = 60.0) -> RedisBreaker:
        return RedisBreaker(self, name, failures=failures, window_s=window_s, cooldown_s=cooldown_s, trial_ttl_s=trial_ttl_s)

    def budgets(self, global_limit: float | None = None, session_limit: float | None = None,
                session_limits: dict[str, float | None] | None = None, ttl_s: float = 300.0) -> RedisBudgets:
        return RedisBudgets(self, global_limit=global_limit, session_limit=session_limit, session_limits=session_limits,
                            ttl_s=ttl_s)

    # ------------------------------------------------------------------ rate limits
    async def rate_hit(self, key: str, limit: int, window_s: float) -> float | None:
        """A sliding-window counter shared by every worker (local to this one during an outage)."""
        try:
            wait = await self.script("RATE_HIT", [self.key("rl", key)], [limit, window_s])
        except StateUnavailableError:
            return await self.local.rate_hit(key, limit, window_s)
        return None if wait in (b"", "") else float(wait)

    # ------------------------------------------------------------------ bandit statistics
    async def bandit_add(self, namespace: str, cell: str, reward: float, half_life_s: float | None) -> None:
        try:
            await self.script("BANDIT_ADD", [self.key("bandit", namespace)], [cell, reward, half_life_s or 0])
        except StateUnavailableError:
            log.warning("bandit reward for %s/%s kept locally only (Redis unreachable)", namespace, cell)
            await self.local.bandit_add(namespace, cell, reward, half_life_s)

    async def bandit_stats(self, namespace: str, half_life_s: float | None = None) -> dict[str, tuple[float, float]]:
        """``cell -> (decayed sum of rewards, decayed count)``."""
        try:
            raw = await self.run(lambda: self.client.hgetall(self.key("bandit", namespace)))
        except StateUnavailableError:
            return await self.local.bandit_stats(namespace, half_life_s)
        now, out = self.clock(), {}
        for cell, blob in raw.items():
            s, n, t = json.loads(blob)
            out[cell.decode() if isinstance(cell, bytes) else cell] = (decayed(s, t, now, half_life_s),
                                                                       decayed(n, t, now, half_life_s))
        return out

    # ------------------------------------------------------------------ semantic cache
    async def cache_put(self, entry: CacheEntry) -> bool:
        """Append an entry to the shared log (a Redis stream; one XADD is atomic); False if Redis is unreachable."""
        blob = json.dumps({"id": entry.id, "v": base64.b64encode(np.asarray(entry.vector, np.float32).tobytes()).decode(),
                           "a": entry.answer, "m": entry.model, "s": entry.scope, "x": entry.expires_at})
        try:
            await self.run(lambda: self.client.xadd(self.key("cache", "log"), {"e": blob}, maxlen=CACHE_LOG_MAX,
                                                    approximate=True))
        except StateUnavailableError:
            log.warning("semantic-cache entry kept in this worker only (Redis unreachable)")
            return False
        return True

    async def cache_since(self, cursor: Any) -> tuple[list[CacheEntry], Any]:
        """Entries appended after ``cursor`` (a stream id; None: from the start), unexpired, and the new cursor."""
        start = "-" if cursor is None else f"({cursor}"
        try:
            rows = await self.run(lambda: self.client.xrange(self.key("cache", "log"), min=start, max="+", count=10_000))
        except StateUnavailableError:
            return [], cursor
        now, out = self.clock(), []
        for sid, fields in rows:
            d = json.loads(fields[b"e"])
            cursor = sid.decode()
            if d["x"] > now:
                out.append(CacheEntry(id=d["id"], vector=np.frombuffer(base64.b64decode(d["v"]), np.float32), answer=d["a"],
                                      model=d["m"], scope=d["s"], expires_at=d["x"]))
        return out, cursor

    # ------------------------------------------------------------------ requests awaiting feedback
    async def remember(self, key: str, value: dict, ttl_s: float) -> None:
        try:
            await self.run(lambda: self.client.set(self.key("fb", key), json.dumps(value), px=max(1, int(ttl_s * 1000))))
        except StateUnavailableError:
            await self.local.remember(key, value, ttl_s)

    async def peek(self, key: str) -> dict | None:
        """The record kept under ``key`` by any worker (left in place for its TTL)."""
        mine = await self.local.peek(key)
        if mine is not None:
            return mine
        blob = await self.run(lambda: self.client.get(self.key("fb", key)))
        return None if blob is None else json.loads(blob)

    async def claim(self, key: str, ttl_s: float) -> bool:
        """True for the first caller of ``key`` on any worker within ``ttl_s`` (``SET NX``)."""
        try:
            return bool(await self.run(lambda: self.client.set(self.key("fbc", key), "1", nx=True,
                                                               px=max(1, int(ttl_s * 1000)))))
        except StateUnavailableError:  # this worker's own record until Redis is back
            return await self.local.claim(key, ttl_s)

    async def aclose(self) -> None:
        await self.client.aclose()
