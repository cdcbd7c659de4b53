"""The Redis state backend against a real Redis server (127.0.0.1:6379, started by .ci/run) and
private redis-server processes that the tests stop and restart: several RedisState objects stand
for several workers."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest
from redis.crc import key_slot

from graphroute.runtime import SemanticCache
from graphroute.runtime.failures import BudgetExceededError
from graphroute.state import StateUnavailableError, open_state
from redis_server import RedisClusterServers, RedisServer

URL = "redis://127.0.0.1:6379/14"


def workers(n: int, url: str = URL, **kw):
    prefix = f"t{uuid.uuid4().hex[:8]}"  # one test's keys, apart from every other's
    return [open_state(url, prefix=prefix, **kw) for _ in range(n)]


async def close(*states):
    for s in states:
        await s.aclose()


def test_failures_count_across_workers_and_one_probe_is_elected_among_many():
    async def go():
        a, b = workers(2)
        ba, bb = (s.breaker("m", failures=3, window_s=30, cooldown_s=0.2) for s in (a, b))
        for br in (ba, bb, ba):  # three failures on two workers open the shared breaker
            await br.arecord_failure(await br.aallow())
        refused = [await ba.aallow(), await bb.aallow()]
        await asyncio.sleep(0.25)
        probes = await asyncio.gather(*[br.aallow() for br in [ba, bb] * 25])  # 50 concurrent callers, 2 workers
        winner = next(i for i, t in enumerate(probes) if t)
        br = [ba, bb][winner % 2]
        await br.arecord_success(probes[winner])
        after = await bb.aallow(), await ba.aallow()
        await close(a, b)
        return refused, sum(1 for t in probes if t), after, br.state

    refused, n_probes, after, state = asyncio.run(go())
    assert refused == [0, 0] and n_probes == 1 and state == "closed" and all(after)


def test_a_probe_whose_worker_died_is_replaced_after_its_ttl():
    async def go():
        a, b = workers(2)
        ba = a.breaker("m", failures=1, cooldown_s=0.05, trial_ttl_s=0.2)
        bb = b.breaker("m", failures=1, cooldown_s=0.05, trial_ttl_s=0.2)
        await ba.arecord_failure(await ba.aallow())
        await asyncio.sleep(0.06)
        assert await ba.aallow()  # worker a takes the probe and dies without reporting
        early = await bb.aallow()
        await asyncio.sleep(0.25)
        late = await bb.aallow()
        await close(a, b)
        return early, late

    early, late = asyncio.run(go())
    assert early == 0 and late > 0


def test_a_dead_model_gets_no_more_failed_calls_than_the_threshold_under_concurrency():
    async def go():
        states = workers(2)
        brs = [s.breaker("dead", failures=3, window_s=30, cooldown_s=60) for s in states]
        calls = 0

        async def one(i):
            nonlocal calls
            br = brs[i % 2]
            t = await br.aallow()
            if not t:
                return
            calls += 1
            await asyncio.sleep(0.005)  # the call fails after 5 ms
            await br.arecord_failure(t)

        first = brs[0]
        await first.arecord_failure(await first.aallow())  # the first failure: suspicion
        calls += 1
        await asyncio.gather(*[one(i) for i in range(200)])
        await close(*states)
        return calls

    assert asyncio.run(go()) == 3


def test_budgets_are_never_exceeded_across_workers_under_concurrency():
    async def go():
        states = workers(2)
        budgets = [s.budgets(global_limit=1.0, session_limits={"key:a": 0.3}) for s in states]
        ok = refused = 0

        async def one(i):
            nonlocal ok, refused
            b = budgets[i % 2]
            try:
                r = await b.areserve(0.01, "key:a" if i % 3 == 0 else None)
            except BudgetExceededError:
                refused += 1
                return
            await asyncio.sleep(0.001)
            await b.acommit(r, 0.01)
            ok += 1

        await asyncio.gather(*[one(i) for i in range(400)])
        out = ok, refused, await budgets[0].aspent(), await budgets[1].aspent("key:a"), await budgets[0].aheld(), \
            await budgets[0].aoverruns()
        await close(*states)
        return out

    ok, refused, spent, spent_a, held, overruns = asyncio.run(go())
    assert ok == 100 and refused == 300 and spent == pytest.approx(1.0) and spent_a <= 0.3 + 1e-9
    assert held == pytest.approx(0.0, abs=1e-9) and overruns == 0


def test_a_crashed_workers_reservations_expire_within_their_ttl():
    async def go():
        a, b = workers(2)
        ba = a.budgets(global_limit=1.0, ttl_s=0.3)
        bb = b.budgets(global_limit=1.0, ttl_s=0.3)
        await ba.areserve(0.9)  # worker a reserves and is killed before it settles
        with pytest.raises(BudgetExceededError):
            await bb.areserve(0.5)
        await asyncio.sleep(0.35)
        r = await bb.areserve(0.5)
        await bb.acommit(r, 0.4)
        out = await bb.aspent(), await bb.aheld()
        await close(a, b)
        return out

    spent, held = asyncio.run(go())
    assert spent == pytest.approx(0.4) and held == pytest.approx(0.0, abs=1e-9)


def test_rate_limits_and_feedback_records_are_shared():
    async def go():
        a, b = workers(2)
        hits = [await (a if i % 2 else b).rate_hit("key:a:5/60", 5, 60.0) for i in range(8)]
        await a.remember("req-1", {"router": "bandit", "run": {"cluster": "c0"}}, 60)
        claim = f"req-1:feedback:{uuid.uuid4().hex}"
        got = await b.peek("req-1"), await a.peek("req-1"), await b.claim(claim, 60), await a.claim(claim, 60)
        await close(a, b)
        return hits, got

    hits, (first, again, claimed, claimed_again) = asyncio.run(go())
    assert [h is None for h in hits] == [True] * 5 + [False] * 3 and all(h > 0 for h in hits[5:])
    assert first == again == {"router": "bandit", "run": {"cluster": "c0"}}  # any worker reads it, for its TTL
    assert claimed and not claimed_again  # one feedback per request and metric, across workers


def test_bandit_statistics_are_shared_and_decay():
    async def go():
        a, b = workers(2)
        for _ in range(4):
            await a.bandit_add("router:x", "c0|big", 1.0, None)
        await b.bandit_add("router:x", "c0|small", 0.5, 0.2)
        now = await b.bandit_stats("router:x")
        await asyncio.sleep(0.2)
        later = await a.bandit_stats("router:x", half_life_s=0.2)
        await close(a, b)
        return now, later

    now, later = asyncio.run(go())
    assert now["c0|big"] == pytest.approx((4.0, 4.0)) and now["c0|small"] == pytest.approx((0.5, 1.0))
    assert later["c0|small"][1] == pytest.approx(0.5, rel=0.25)  # one half-life later


def test_a_cached_answer_written_by_one_worker_is_found_by_another_and_scopes_never_cross():
    async def go():
        a, b = workers(2)
        ca, cb = SemanticCache(state=a, threshold=0.9), SemanticCache(state=b, threshold=0.9)
        await ca.aput("What is the capital of France?", "gpt4", "Paris")
        await ca.aput("My account number is 1234, what is my balance?", "gpt4", "ann's answer", scope="user:ann")
        found = await cb.aget("what's the capital of France", "gpt4")
        other_model = await cb.aget("What is the capital of France?", "mixtral")
        other_user = await cb.aget("My account number is 1234, what is my balance?", "gpt4", scope="user:bob")
        same_user = await cb.aget("My account number is 1234, what is my balance?", "gpt4", scope="user:ann")
        await close(a, b)
        return found, other_model, other_user, same_user

    assert asyncio.run(go()) == ("Paris", None, None, "ann's answer")


def test_every_script_touches_one_cluster_slot():
    st = open_state(URL, prefix="slots")
    br = st.breaker("gpt-4o")
    budgets = st.budgets(global_limit=1.0)
    assert len({key_slot(k.encode()) for k in br.keys}) == 1
    assert len({key_slot(k.encode()) for k in budgets.keys}) == 1
    assert st.key("rl", "team-a:600/60").startswith("{slots:rl}")
    asyncio.run(st.aclose())


@pytest.mark.parametrize("policy", ["fail_closed", "fail_open"])
def test_a_redis_outage_follows_the_policy_and_the_backend_reconnects(tmp_path, policy):
    server = RedisServer(tmp_path / "redis", persist=True).start()

    async def go():
        st = open_state(server.url, policy=policy, retry_s=0.2)
        b = st.budgets(global_limit=1.0, session_limits={"key:a": 0.5})
        br = st.breaker("m", failures=2)
        r = await b.areserve(0.2, "key:a")
        server.stop()
        await b.acommit(r, 0.1)  # Redis is down: kept, written when it is back
        outcome = None
        try:
            local = await b.areserve(0.3, "key:a")
            outcome = "local"
            await b.acommit(local, 0.05)
        except StateUnavailableError as exc:
            outcome = f"refused: {exc.host}"
        ticket = await br.aallow()  # the breaker works from this worker's own meanwhile
        rate = await st.rate_hit("k", 1, 60)
        server.start()
        await asyncio.sleep(0.25)
        r2 = await b.areserve(0.1, "key:a")  # back: the held settlement is written first
        await b.acommit(r2, 0.1)
        spent = await b.aspent("key:a")
        await st.aclose()
        return outcome, ticket, rate, spent, st.outages

    outcome, ticket, rate, spent, outages = asyncio.run(go())
    server.stop()
    if policy == "fail_closed":
        assert outcome == f"refused: 127.0.0.1:{server.port}"
    else:
        assert outcome == "local"
    assert ticket and rate is None and outages >= 1
    assert spent == pytest.approx(0.2)  # 0.1 settled during the outage + 0.1 after; the spend survived the restart


def test_a_redis_that_lost_its_data_refuses_budgeted_calls(tmp_path):
    server = RedisServer(tmp_path / "redis", persist=False).start()

    async def go():
        st = open_state(server.url, retry_s=0.1)
        b = st.budgets(global_limit=1.0)
        await b.acommit(await b.areserve(0.5), 0.5)
        server.restart()  # no persistence: the spend is gone
        await asyncio.sleep(0.15)
        try:
            await b.areserve(0.5)
        except StateUnavailableError as exc:
            return str(exc)
        finally:
            await st.aclose()

    msg = asyncio.run(go())
    server.stop()
    assert msg is not None and "lost the budget state" in msg


def test_bad_urls_and_policies_are_typed_errors():
    from graphroute.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown state backend"):
        open_state("mongodb://x")
    with pytest.raises(ConfigError, match="outage policy"):
        open_state(URL, policy="pray")
    assert np.isfinite(1.0)


def test_every_piece_of_state_works_on_a_real_redis_cluster(tmp_path):
    """Three primaries: a script whose keys crossed slots would fail with CROSSSLOT here."""
    cluster = RedisClusterServers(tmp_path / "cluster").start()

    async def go():
        a, b = (open_state(cluster.url, prefix="c") for _ in range(2))
        crossed = None
        try:
            await a.client.eval("return redis.call('MGET', KEYS[1], KEYS[2])", 2, "{x}:1", "{y}:2")
        except Exception as exc:  # the cluster (or its client) refuses keys of two slots in one script
            crossed = type(exc).__name__
        ba, bb = a.breaker("m", failures=2, cooldown_s=0.05), b.breaker("m", failures=2, cooldown_s=0.05)
        await ba.arecord_failure(await ba.aallow())
        await bb.arecord_failure(await bb.aallow())
        opened = bb.state, await ba.aallow()  # b saw it open; a is refused by the shared state
        budgets = [s.budgets(global_limit=0.1, session_limits={"key:a": 0.05}) for s in (a, b)]
        results = await asyncio.gather(*[budgets[i % 2].areserve(0.01, "key:a") for i in range(10)], return_exceptions=True)
        held = [r for r in results if not isinstance(r, Exception)]
        for i, r in enumerate(held):
            await budgets[i % 2].acommit(r, 0.01)
        rates = [await (a if i % 2 else b).rate_hit("k:2/60", 2, 60.0) is None for i in range(3)]
        await a.bandit_add("router:x", "c0|m", 1.0, None)
        stats = await b.bandit_stats("router:x")
        cache_a, cache_b = SemanticCache(state=a, threshold=0.9), SemanticCache(state=b, threshold=0.9)
        await cache_a.aput("What is the capital of France?", "gpt4", "Paris")
        found = await cache_b.aget("What is the capital of France?", "gpt4")
        await a.remember("r1", {"x": 1}, 60)
        recalled = await b.peek("r1")
        spent = await budgets[1].aspent("key:a")
        await close(a, b)
        return crossed, opened, len(held), spent, rates, stats, found, recalled

    try:
        crossed, opened, n_held, spent, rates, stats, found, recalled = asyncio.run(go())
    finally:
        cluster.stop()
    assert crossed is not None
    assert opened == ("open", 0) and n_held == 5 and spent == pytest.approx(0.05)
    assert rates == [True, True, False] and stats["c0|m"] == pytest.approx((1.0, 1.0))
    assert found == "Paris" and recalled == {"x": 1}
