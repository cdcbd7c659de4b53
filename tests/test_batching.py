"""Batched decisions (graphroute.routers.batched_decisions): concurrent one-prompt decisions share one
``decide`` call and give exactly the decisions made one prompt at a time, with the real encoder."""

from __future__ import annotations

import asyncio

import pytest

from graphroute.datasets import load_dataset
from graphroute.errors import PromptError
from graphroute.routers import make_router
from graphroute.routers.batched_decisions import batcher_for, set_batching


@pytest.fixture(scope="module")
def router():
    return make_router("logistic").fit(load_dataset("routellm-mmlu").subset(range(3000)))


def test_2000_mmlu_prompts_get_the_same_decisions_batched_as_one_at_a_time(router):
    mmlu = load_dataset("routellm-mmlu")
    # prompts never embedded before (a prefix): the batched encoder forward itself is compared, not a cache
    prompts = [f"Question: {p}" for p in mmlu.prompts[-2000:]]
    alone = [router.decide([p])[0] for p in prompts]

    async def together():
        return await asyncio.gather(*(router.adecide([p]) for p in prompts))

    batched = [d[0] for d in asyncio.run(together())]
    assert [d.model for d in batched] == [d.model for d in alone]
    assert [d.reason for d in batched] == [d.reason for d in alone]
    assert max(abs(a.scores[m] - b.scores[m]) for a, b in zip(alone, batched) for m in a.scores) < 1e-5


def test_concurrent_requests_share_forwards_and_a_lone_one_does_not_wait(router):
    async def burst(n):
        b = batcher_for(router)
        before = b.batches
        out = await asyncio.gather(*(router.adecide([f"What is {i} times {i}?"]) for i in range(n)))
        return b.batches - before, out

    calls, out = asyncio.run(burst(64))
    assert len(out) == 64 and calls <= 8  # 64 requests: a handful of decide calls, not 64
    calls, _ = asyncio.run(burst(1))
    assert calls == 1
    set_batching(router, max_batch=4, max_wait_ms=1.0)
    calls, _ = asyncio.run(burst(16))
    assert calls >= 4  # never more than 4 prompts a call
    set_batching(router)


def test_a_bad_prompt_fails_alone_and_different_budgets_are_decided_apart(router):
    async def mixed():
        return await asyncio.gather(router.adecide(["fine prompt"]), router.adecide([""]),
                                    router.adecide(["2+2?"], max_cost=0.0), return_exceptions=True)

    ok, bad, cheap = asyncio.run(mixed())
    assert isinstance(bad, PromptError) and ok[0].model is not None
    assert cheap[0].model == router.decide(["2+2?"], max_cost=0.0)[0].model
