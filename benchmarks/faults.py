"""Fault injection: 10,000 requests at concurrency 64 through a LangGraph graph whose node is the gateway.

Four fake async providers fail at configured rates with timeouts, HTTP 429s, HTTP 500s, malformed
(empty) answers and slowness; one of them is dead (HTTP 503 on every call) from the 10 % to the 50 %
point of the run, then recovers. The gateway routes by weighted random, retries with exponential backoff and
jitter (tenacity), falls back along a chain, keeps a circuit breaker per model, and enforces a
global budget and per-session budgets before each call.

Reported: lost requests (neither an answer nor a typed error), budget overruns, breaker trips,
failures the dead provider got before its breaker opened, probes after cool-down and whether it
served again after recovering, and graphroute's own overhead per request (wall time minus time
inside provider calls, on requests answered at the first attempt).

    python benchmarks/faults.py [--requests 10000] [--concurrency 64]

Last line: ``requests=N lost=L budget_overruns=B breaker_trips=T p50_overhead_ms=X p99_overhead_ms=Y``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from typing import TypedDict

import numpy as np
from langgraph.graph import END, START, StateGraph

from graphroute.costs import CostModel, Price
from graphroute.runtime import BudgetManager, Gateway, MemorySink, TelemetryHandler
from graphroute.strategies import WeightedRandomRouter


class HTTPError(Exception):
    def __init__(self, status: int, msg: str) -> None:
        super().__init__(f"HTTP {status}: {msg}")
        self.status_code = status


class FaultyProvider:
    """A fake async chat provider with failure rates (a stand-in for a remote LLM API)."""

    def __init__(self, name: str, rng: random.Random, latency_ms: float, timeout: float = 0.0, r429: float = 0.0,
                 r500: float = 0.0, malformed: float = 0.0, slow: float = 0.0, dead=None) -> None:
        self.name, self.rng, self.latency_ms = name, rng, latency_ms
        self.timeout, self.r429, self.r500, self.malformed, self.slow, self.dead = timeout, r429, r500, malformed, slow, dead
        self.calls = 0
        self.calls_while_dead = 0
        self.served_after_recovery = 0

    async def ainvoke(self, prompt: str):
        from langchain_core.messages import AIMessage

        self.calls += 1
        if self.dead is not None and self.dead():
            self.calls_while_dead += 1
            await asyncio.sleep(0.001)
            raise HTTPError(503, "service unavailable")
        u = self.rng.random()
        delay = self.latency_ms / 1000 * (5 if self.rng.random() < self.slow else 1)
        if u < self.timeout:
            await asyncio.sleep(10)  # longer than the gateway's timeout
        await asyncio.sleep(delay)
        u -= self.timeout
        if u < self.r429:
            raise HTTPError(429, "rate limit exceeded")
        u -= self.r429
        if u < self.r500:
            raise HTTPError(500, "internal error")
        u -= self.r500
        if u < self.malformed:
            return AIMessage("", usage_metadata={"input_tokens": 20, "output_tokens": 0, "total_tokens": 20})
        if self.dead is not None:
            self.served_after_recovery += 1
        return AIMessage(f"{self.name} answers", usage_metadata={"input_tokens": 20, "output_tokens": 30, "total_tokens": 50})


async def run(n: int, concurrency: int, seed: int) -> dict:
    rng = random.Random(seed)
    providers = {
        "fast": FaultyProvider("fast", rng, 3, timeout=0.01, r429=0.05, r500=0.03, malformed=0.02, slow=0.05),
        "mid": FaultyProvider("mid", rng, 6, timeout=0.01, r429=0.02, r500=0.02, malformed=0.01, slow=0.05),
        "big": FaultyProvider("big", rng, 10, timeout=0.005, r429=0.01, r500=0.01, malformed=0.01, slow=0.02),
        "flaky": FaultyProvider("flaky", rng, 4, r500=0.02, dead=lambda: 0.1 * n <= started[0] < 0.5 * n),
    }
    prices = CostModel({"fast": Price(0.15, 0.6), "mid": Price(0.8, 2.4), "big": Price(2.5, 10), "flaky": Price(0.2, 0.8)})
    budgets = BudgetManager(global_limit=n * 6e-5, session_limit=n * 1e-6)  # binds near the end of the run
    started = [0]
    sink = MemorySink()  # telemetry of every decision, redacted, kept in memory
    gw = Gateway(providers, WeightedRandomRouter({"fast": 4, "mid": 2, "big": 1, "flaky": 3}, seed=seed),
                 fallbacks={"fast": ["mid", "big"], "mid": ["fast", "big"], "big": ["mid", "fast"], "flaky": ["fast", "mid", "big"]},
                 cost_model=prices, max_output_tokens=50, retries=2, backoff_s=0.005, backoff_max_s=0.05, timeout_s=0.15,
                 breaker={"failures": 3, "window_s": 10.0, "cooldown_s": 0.5}, budgets=budgets, telemetry=TelemetryHandler(sink))
    # the flaky provider is dead for the first 40 % of the run (by wall time, estimated from a warm-up)
    sem = asyncio.Semaphore(concurrency)
    outcome = {"answered": 0, "typed_error": 0, "lost": 0}
    overhead: list[float] = []
    kinds: dict[str, int] = {}

    class State(TypedDict, total=False):
        question: str
        session: str
        answer: str
        gateway: dict
        error: dict

    graph = StateGraph(State)
    graph.add_node("answer", gw.node())
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    app = graph.compile()

    async def one(i: int) -> None:
        async with sem:
            started[0] += 1
            try:
                out = await asyncio.wait_for(app.ainvoke({"question": f"request {i}: {rng.random()}", "session": f"s{i % 100}"}),
                                             timeout=30)
            except BaseException as exc:  # anything escaping the graph untyped is a lost request
                outcome["lost"] += 1
                kinds[f"LOST {type(exc).__name__}"] = kinds.get(f"LOST {type(exc).__name__}", 0) + 1
                return
            if out.get("error"):
                outcome["typed_error"] += 1
                kinds[out["error"]["type"]] = kinds.get(out["error"]["type"], 0) + 1
                return
            if not out.get("answer"):
                outcome["lost"] += 1
                return
            outcome["answered"] += 1
            g = out["gateway"]
            if len(g["attempts"]) == 1 and g["attempts"][0][1] is None:
                overhead.append(g["latency_ms"] - g["provider_ms"])

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    flaky = providers["flaky"]
    br = gw.breakers
    return {"requests": n, **outcome, "errors": kinds, "budget_overruns": budgets.overruns(),
            "breaker_trips": sum(b.trips for b in br.values()), "trips_by_model": {m: b.trips for m, b in br.items()},
            "dead_calls": flaky.calls_while_dead,
            "served_after_recovery": flaky.served_after_recovery, "spent": budgets.spent(), "limit": budgets.global_limit,
            "overhead": overhead, "wall_s": wall, "telemetry_records": len(sink.records)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    r = asyncio.run(run(args.requests, args.concurrency, args.seed))
    ov = np.asarray(r["overhead"])
    print(f"{r['requests']} requests in {r['wall_s']:.1f} s at concurrency {args.concurrency}: answered {r['answered']}, "
          f"typed errors {r['typed_error']} {r['errors']}, lost {r['lost']}")
    print(f"budget: spent ${r['spent']:.6f} of ${r['limit']:.6f} global (+ per-session limits); overruns {r['budget_overruns']}")
    print(f"breakers: {r['trips_by_model']} trips; the dead provider (down for requests 10-50 %) got {r['dead_calls']} calls "
          f"while down (breaker: open after 3 failures, one probe per 0.5 s) and served {r['served_after_recovery']} requests "
          f"after recovering")
    print(f"graphroute overhead per first-attempt request: p50 {np.percentile(ov, 50):.3f} ms, p99 {np.percentile(ov, 99):.3f} ms "
          f"({len(ov)} requests)")
    print(f"requests={r['requests']} lost={r['lost']} budget_overruns={r['budget_overruns']} breaker_trips={r['breaker_trips']} "
          f"p50_overhead_ms={np.percentile(ov, 50):.3f} p99_overhead_ms={np.percentile(ov, 99):.3f}")


if __name__ == "__main__":
    main()
