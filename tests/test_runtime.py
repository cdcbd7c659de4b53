"""Runtime strategies and the reliable gateway: consistent hashing, privacy, hybrid, profiles,
runtime latency, bandit feedback, breakers, retries/fallbacks, budgets, semantic cache, telemetry,
secrets. Fakes stand in for providers only."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

from graphroute.costs import CostModel, Price
from graphroute.encoders import LangChainEncoder
from graphroute.errors import ConfigError
from graphroute.events import DecisionEvent
from graphroute.runtime.breaker import ADMITTED, REFUSED, TRIAL
from graphroute.runtime import (BudgetExceededError, BudgetManager, CircuitBreaker, Gateway, JsonlSink, MemorySink,
                                NoModelAvailableError, SemanticCache, TelemetryHandler, classify, redact, summarise)
from graphroute.strategies import (ConsistentHashRouter, HybridRouter, LatencyTracker, LeastBusyRouter, PIIDetector,
                                   PrivacyRouter, ProfileRouter, RoundRobinRouter, RulesRouter, RuntimeRouter, ThompsonRouter,
                                   WeightedRandomRouter)

KEYS = [f"user-{i}" for i in range(20_000)]


def test_consistent_hash_remaps_about_one_in_n_plus_one():
    ring = ConsistentHashRouter([f"m{i}" for i in range(5)])
    before = {k: ring.model_for(k) for k in KEYS}
    ring.add_model("m5")
    after = {k: ring.model_for(k) for k in KEYS}
    moved = [k for k in KEYS if before[k] != after[k]]
    assert all(after[k] == "m5" for k in moved)  # keys only move to the new model
    assert abs(len(moved) / len(KEYS) - 1 / 6) < 0.04
    ring.remove_model("m2")
    gone = {k: ring.model_for(k) for k in KEYS}
    assert all(gone[k] == after[k] for k in KEYS if after[k] != "m2")  # only m2's keys move
    assert all(gone[k] != "m2" for k in KEYS)
    with pytest.raises(ConfigError):
        ring.add_model("m0")
    d = ring.decide(["hello"], context={"key": "user-7"})[0]
    assert d.model == ring.model_for("user-7") and "key" in d.reason


def test_round_robin_and_weighted_random():
    rr = RoundRobinRouter(["a", "b", "c"])
    assert [rr.decide(["x"])[0].model for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]
    wr = WeightedRandomRouter({"a": 3, "b": 1}, seed=1)
    picks = [wr.decide(["x"])[0].model for _ in range(4000)]
    assert abs(picks.count("a") / 4000 - 0.75) < 0.03
    with pytest.raises(ConfigError):
        WeightedRandomRouter({"a": -1})


@pytest.mark.parametrize("text,kind", [("mail me at ann.lee@example.org", "email"), ("call +1 415-555-0100", "phone"),
                                       ("card 4111 1111 1111 1111", "card"), ("ssn 123-45-6789", "ssn"),
                                       ("IBAN DE89 3704 0044 0532 0130 00", "iban"), ("server 10.0.12.7", "ipv4"),
                                       ("key sk-proj-abcdefghijklmnop1234", "secret")])
def test_pii_detector_finds_each_kind(text, kind):
    assert kind in [k for k, _ in PIIDetector().detect(text)]
    assert f"[{kind.upper()}]" in PIIDetector().redact(text)


def test_privacy_routing_never_leaves_local_models_even_on_fallback():
    inner = RoundRobinRouter(["gpt-4o", "claude", "llama-local"])
    r = PrivacyRouter(inner, tags={"llama-local": ["local"]})
    assert not PIIDetector().sensitive("the meeting moved to noon, room 4")
    assert "card" not in [k for k, _ in PIIDetector().detect("card 4111 1111 1111 1112")]  # fails Luhn
    for _ in range(6):
        assert r.decide(["my email is x.y@corp.com, summarise"])[0].model == "llama-local"
    assert r.decide(["public question"], context={"private": True})[0].model == "llama-local"
    none_local = PrivacyRouter(RoundRobinRouter(["gpt-4o"]), tags={})
    assert none_local.decide(["ssn 123-45-6789"])[0].model is None

    calls = []

    def hosted(_):
        calls.append("hosted")
        raise AssertionError("a sensitive prompt reached a hosted model")

    def local_down(_):
        raise ConnectionError("HTTP 503")

    gw = Gateway({"gpt-4o": RunnableLambda(hosted), "llama-local": RunnableLambda(local_down)},
                 PrivacyRouter(RoundRobinRouter(["llama-local", "gpt-4o"]), tags={"llama-local": ["local"]}),
                 fallbacks=["gpt-4o"], retries=1, backoff_s=0.001)
    with pytest.raises(NoModelAvailableError):
        gw.invoke("my card is 4111 1111 1111 1111")
    assert calls == []


def test_hybrid_and_profiles(gsm8k):
    from graphroute.routers import make_router

    learned = make_router("random").fit(gsm8k.subset(range(50)))
    rules = RulesRouter([{"model": gsm8k.strong, "contains": ["prove"]}], default=gsm8k.weak)
    h = HybridRouter(rules, learned)
    assert h.decide(["please prove it"])[0].reason == "rule 0 matched"
    assert h.decide(["what is 2+2"])[0].reason.startswith("no rule matched; learned router")
    with pytest.raises(ConfigError, match="unknown priority"):
        ProfileRouter({"a": {"speed": 1}}).decide(["x"], context={"priority": {"beauty": 1}})


def test_runtime_and_least_busy_routing():
    t = LatencyTracker(alpha=0.5)
    r = RuntimeRouter({"slow-good": 0.9, "fast-ok": 0.8, "fast-bad": 0.4}, t, quality_floor=0.7)
    assert r.decide(["x"])[0].reason == "not observed yet: explore"
    for _ in range(5):
        t.observe("slow-good", latency_ms=800)
        t.observe("fast-ok", latency_ms=120)
        t.observe("fast-bad", latency_ms=10)
    assert r.decide(["x"])[0].model == "fast-ok"  # fast-bad is below the quality floor
    for _ in range(10):
        t.observe("fast-ok", latency_ms=120, error=True)  # failing now: expected latency explodes
    assert r.decide(["x"])[0].model == "slow-good"
    lb = LeastBusyRouter(["a", "b"], t)
    with t.in_flight("a"):
        assert lb.decide(["x"])[0].model == "b"


def test_thompson_bandit_learns_per_cluster_with_cost_and_latency():
    b = ThompsonRouter(["cheap", "strong"], cluster_of=lambda p, c: p.split()[0], lam=100.0, seed=0)
    for i in range(400):
        kind = "easy" if i % 2 else "hard"
        d = b.decide([f"{kind} q{i}"], context={"run_id": i})[0]
        b.record(str(i), cost=0.002 if d.model == "strong" else 0.0001)
        quality = {("easy", "cheap"): 0.9, ("easy", "strong"): 0.95, ("hard", "cheap"): 0.2, ("hard", "strong"): 0.9}
        b.feedback(str(i), quality[(kind, d.model)])
    picks = {k: [b.decide([f"{k} x"], context={"run_id": f"{k}{j}"})[0].model for j in range(50)] for k in ("easy", "hard")}
    assert picks["easy"].count("cheap") > 40 and picks["hard"].count("strong") > 40
    with pytest.raises(ConfigError, match="unknown"):
        b.feedback("never-issued", 1.0)
    with pytest.raises(ConfigError, match="finite"):
        b.feedback("easy0", float("nan"))


def test_thompson_clusters_prompts_by_real_embeddings():
    b = ThompsonRouter(["a", "b"], seed=0, cluster_threshold=0.35)
    b.decide(["Write a Python function to sort a list"], context={"run_id": 1})
    b.decide(["Write a Python function to reverse a string"], context={"run_id": 2})
    b.decide(["Who painted the Mona Lisa?"], context={"run_id": 3})
    clusters = [b._pending[str(i)]["cluster"] for i in (1, 2, 3)]
    assert clusters[0] == clusters[1] != clusters[2]


def test_thompson_lsh_clusters_agree_across_processes_and_old_rewards_decay():
    one, two = (ThompsonRouter(["a", "b"], seed=s, clusters="lsh", n_clusters=16) for s in (0, 1))
    prompts = ["What is the capital of France?", "Solve 3x + 2 = 11", "What's the capital city of France"]
    for i, p in enumerate(prompts):
        one.decide([p], context={"run_id": f"x{i}"})
        two.decide([p], context={"run_id": f"x{i}"})
    ca = [one.pending(f"x{i}")["cluster"] for i in range(3)]
    assert ca == [two.pending(f"x{i}")["cluster"] for i in range(3)]  # the same hyperplanes in every worker
    assert ca[0] == ca[2] and len(ca[0]) == 1 + 4
    slow = ThompsonRouter(["a"], cluster_of=lambda p, c: "all", half_life_s=0.05, seed=0)
    run = {"run_id": "r", "cluster": "all", "model": "a", "cost": 0.0, "latency_ms": 0.0}
    slow.learn(run, 1.0)
    time.sleep(0.1)  # two half-lives
    slow.learn(run, 0.0)
    assert slow._n[("all", "a")] == pytest.approx(1.25, rel=0.1) and slow._sum[("all", "a")] == pytest.approx(0.25, rel=0.15)


def test_circuit_breaker_state_machine():
    now = [0.0]
    br = CircuitBreaker(failures=3, window_s=10, cooldown_s=5, clock=lambda: now[0])
    br.record_failure(); now[0] = 20.0; br.record_failure(); br.record_failure()  # noqa: E702 first one left the window
    assert br.state == "closed"
    br.record_failure()
    assert br.state == "open" and not br.allow() and br.trips == 1
    now[0] = 26.0
    probe = br.allow()
    assert probe == TRIAL and br.state == "half_open" and not br.allow()
    br.record_failure(probe)
    assert br.state == "open" and br.trips == 2
    now[0] = 32.0
    probe = br.allow()
    br.record_success(ADMITTED)  # a call admitted before the breaker opened proves nothing now
    assert br.state == "half_open"
    br.record_success(probe)
    assert br.state == "closed" and br.allow() == ADMITTED


def test_breaker_admits_only_trials_after_a_failure_so_a_dead_model_gets_at_most_the_threshold():
    br = CircuitBreaker(failures=3, window_s=10, cooldown_s=5)
    assert br.allow() == ADMITTED
    br.record_failure(ADMITTED)  # one failure: the next calls are trials, at most 3 - 1 at a time
    tickets = [br.allow() for _ in range(5)]
    assert tickets == [TRIAL, TRIAL, REFUSED, REFUSED, REFUSED]
    br.record_failure(tickets[0])
    br.record_failure(tickets[1])  # the third failure: open, and the dead model saw exactly 3 calls fail
    assert br.state == "open" and br.allow() == REFUSED
    br2 = CircuitBreaker(failures=3)
    br2.record_failure(ADMITTED)
    t = br2.allow()
    br2.record_success(t)  # a success ends the suspicion: calls flow freely again
    assert [br2.allow() for _ in range(4)] == [ADMITTED] * 4


def fake_prices():
    return CostModel({"a": Price(1.0, 2.0), "b": Price(5.0, 10.0), "big-window": Price(1.0, 1.0)})


def test_gateway_retries_then_falls_back_and_breaker_holds_across_requests():
    calls = {"a": 0}

    def a_fails(_):
        calls["a"] += 1
        raise type("RateLimitError", (Exception,), {"status_code": 429})("429 too many requests")

    gw = Gateway({"a": RunnableLambda(a_fails), "b": FakeListChatModel(responses=["from b"])}, RoundRobinRouter(["a"]),
                 fallbacks={"a": ["b"]}, cost_model=fake_prices(), retries=2, backoff_s=0.001,
                 breaker={"failures": 3, "window_s": 60, "cooldown_s": 60})
    r = gw.invoke("hello")
    assert r.text == "from b" and calls["a"] == 3 and [x.error for x in r.attempts] == ["rate_limit"] * 3 + [None]
    assert gw.breakers["a"].state == "open"
    r2 = gw.invoke("hello again")  # the open breaker holds: "a" is not called again
    assert calls["a"] == 3 and r2.model == "b"


def test_gateway_context_too_long_goes_to_a_larger_window_and_malformed_retries():
    seq = iter([AIMessage(""), AIMessage("ok now")])
    gw = Gateway({"a": FakeListChatModel(responses=["short window"]), "big-window": RunnableLambda(lambda _: next(seq))},
                 RoundRobinRouter(["a"]), fallbacks={"a": ["big-window"]}, cost_model=fake_prices(),
                 context_windows={"a": 200, "big-window": 100_000}, max_output_tokens=100, backoff_s=0.001)
    r = gw.invoke("word " * 500)
    assert r.model == "big-window" and r.text == "ok now"
    assert [x.error for x in r.attempts] == ["context_length", "malformed", None]


def test_budgets_are_enforced_before_calls_per_request_session_and_global():
    called = []

    def model(p):
        called.append(p)
        return AIMessage("x", usage_metadata={"input_tokens": 10, "output_tokens": 10, "total_tokens": 20})

    budgets = BudgetManager(global_limit=1.0, session_limit=0.0025)
    gw = Gateway({"a": RunnableLambda(model)}, RoundRobinRouter(["a"]), cost_model=fake_prices(), budgets=budgets,
                 max_output_tokens=1000)
    gw.invoke("hi", session="s1")  # worst case ~ $0.002 fits $0.0025; actual $0.00003
    with pytest.raises(BudgetExceededError, match="request budget"):
        gw.invoke("hi", session="s2", budget=0.001)
    n = len(called)
    for _ in range(3):
        try:
            gw.invoke("hi", session="s1")
        except BudgetExceededError as exc:
            assert "session 's1'" in str(exc)
            break
    assert budgets.spent("s1") <= 0.0025 and budgets.overruns() == 0 and len(called) >= n


def test_concurrent_reservations_cannot_overrun_a_global_budget():
    async def slow(_):
        await asyncio.sleep(0.01)
        return AIMessage("x", usage_metadata={"input_tokens": 10, "output_tokens": 1000, "total_tokens": 1010})

    budgets = BudgetManager(global_limit=0.05)
    gw = Gateway({"b": RunnableLambda(slow)}, RoundRobinRouter(["b"]), cost_model=fake_prices(), budgets=budgets,
                 max_output_tokens=1000)

    async def many():
        return await asyncio.gather(*(gw.ainvoke(f"q{i}") for i in range(20)), return_exceptions=True)

    out = asyncio.run(many())
    ok = [o for o in out if not isinstance(o, Exception)]
    assert all(isinstance(o, BudgetExceededError) for o in out if isinstance(o, Exception))
    assert budgets.spent() <= 0.05 and len(ok) == 4  # worst case $0.01005 each: four fit in $0.05


def test_semantic_cache_threshold_ttl_and_scopes():
    now = [0.0]
    enc = LangChainEncoder(DeterministicFakeEmbedding(size=64))
    cache = SemanticCache(enc, threshold=0.99, ttl_s=10, clock=lambda: now[0])
    cache.put("capital of France?", "a", "Paris")
    assert cache.get("capital of France?", "a") == "Paris" and cache.get("capital of France?", "b") is None
    assert cache.get("something else entirely", "a") is None
    cache.put("my diagnosis?", "a", "private answer", scope="user:ann")
    assert cache.get("my diagnosis?", "a", scope="user:bob") is None and cache.get("my diagnosis?", "a") is None
    now[0] = 11.0
    assert cache.get("capital of France?", "a") is None  # expired

    gw = Gateway({"a": FakeListChatModel(responses=["one", "two"])}, RoundRobinRouter(["a"]), cache=SemanticCache(enc),
                 cost_model=fake_prices())
    first, again = gw.invoke("hello there"), gw.invoke("hello there")
    assert (first.text, again.text, again.cached, again.cost) == ("one", "one", True, 0.0)
    assert gw.invoke("hello there", private=True, user="ann").text == "two"  # never served across scopes


def test_telemetry_callback_jsonl_stats_and_no_secret_anywhere(tmp_path):
    secret = "sk-live-ABCDEFGHIJKLMNOPQRSTUVWX"
    path = tmp_path / "calls.jsonl"
    handler = TelemetryHandler(JsonlSink(path), cost_model=CostModel.default())

    def leaky(_):
        raise ConnectionError(f"HTTP 500 from server, api_key={secret}")

    gw = Gateway({"a": RunnableLambda(leaky), "b": FakeListChatModel(responses=["fine"])}, RoundRobinRouter(["a"]),
                 fallbacks={"a": ["b"]}, retries=0, telemetry=handler)
    r = gw.invoke(f"use token {secret} please")
    assert r.model == "b" and all(secret not in json.dumps(a.to_dict()) for a in r.attempts)
    FakeListChatModel(responses=["hi"]).invoke("x", config={"callbacks": [handler]})
    with pytest.raises(Exception) as e:
        RunnableLambda(leaky).invoke("x", config={"callbacks": [handler]})
    assert secret in str(e.value)  # the raw provider error is the provider's; graphroute's copies are redacted
    assert secret not in str(classify(e.value, "a")) and "[REDACTED]" in redact(f"Authorization: Bearer {secret}")
    text = path.read_text()
    assert secret not in text and "decision" in text
    s = summarise(path)
    assert s["calls"] >= 1 and s["decisions"] == 1 and s["latency_ms"]["p50"] is not None
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "stats", str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and "calls" in out.stdout and secret not in out.stdout


def test_strategy_blocks_in_yaml_graphs(tmp_path):
    from graphroute.graphs import compile_file, run_graph

    p = tmp_path / "g.yaml"
    p.write_text("""
models:
  a: {model: "x:a", input_price: 1, output_price: 1, offline_response: "from a"}
  b: {model: "x:b", input_price: 1, output_price: 1, offline_response: "from b"}
routers:
  sticky: {type: strategy, name: consistent_hash, params: {models: [a, b], key_field: key}}
state: {question: str, answer: str}
nodes:
  answer: {type: llm, router: sticky, prompt: "{question}", output: answer}
edges: [{from: START, to: answer}, {from: answer, to: END}]
""")
    app = compile_file(p, offline=True)
    first = run_graph(app, "same question")["trace"][0]["model"]
    assert all(run_graph(app, "same question")["trace"][0]["model"] == first for _ in range(5))
    p.write_text(p.read_text().replace("models: [a, b]", "models: [a, zz]"))
    with pytest.raises(ConfigError, match="unknown model 'zz'"):
        compile_file(p, offline=True)


def test_memory_sink_and_classify_kinds():
    sink = MemorySink()
    TelemetryHandler(sink).decision(DecisionEvent(run_id="r", prompt="p", model="a", reason="token=abcdef123456 leaked"))
    assert "abcdef123456" not in json.dumps(sink.records)
    assert classify(TimeoutError("x")).kind == "timeout"
    assert classify(type("E", (Exception,), {"status_code": 503})("boom")).kind == "server"
    assert classify(ValueError("could not parse JSON")).kind == "malformed"
    assert classify(Exception("maximum context length is 8192 tokens")).kind == "context_length"


def test_gateway_as_a_langgraph_node_streams_ttft_and_types_failures():
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    tracker = LatencyTracker()
    gw = Gateway({"a": FakeListChatModel(responses=["streamed answer"])}, RoundRobinRouter(["a"]), tracker=tracker,
                 stream=True, cost_model=fake_prices())

    class State(TypedDict, total=False):
        question: str
        answer: str
        gateway: dict
        error: dict

    g = StateGraph(State)
    g.add_node("answer", gw.node())
    g.add_edge(START, "answer")
    g.add_edge("answer", END)
    out = asyncio.run(g.compile().ainvoke({"question": "hello"}))
    assert out["answer"] == "streamed answer" and out["gateway"]["model"] == "a"
    s = tracker.get("a")
    assert s.calls == 1 and s.ttft_ms <= s.latency_ms

    def down(_):
        raise ConnectionError("HTTP 503 api_key=sk-secretsecretsecret123")

    bad = Gateway({"a": RunnableLambda(down)}, RoundRobinRouter(["a"]), retries=0)
    g2 = StateGraph(State)
    g2.add_node("answer", bad.node())
    g2.add_edge(START, "answer")
    g2.add_edge("answer", END)
    out = asyncio.run(g2.compile().ainvoke({"question": "hello"}))
    assert out["error"]["type"] == "NoModelAvailableError" and "sk-secret" not in json.dumps(out)


def test_strategies_work_as_router_nodes():
    from langgraph.graph import START, MessagesState, StateGraph

    from graphroute.nodes import RouterNode

    class State(MessagesState):
        route: dict

    for strategy in (RoundRobinRouter(["a", "b"]), ConsistentHashRouter(["a", "b"]),
                     ProfileRouter({"a": {"speed": 1.0}, "b": {"speed": 0.1}})):
        g = StateGraph(State)
        g.add_node("route", RouterNode(strategy))
        g.add_edge(START, "route")
        out = g.compile().invoke({"messages": [("user", "hello")]})
        assert out["route"]["model"] in ("a", "b") and out["route"]["policy"] == strategy.name


def test_hybrid_strategy_in_yaml(tmp_path):
    from graphroute.graphs import compile_file, run_graph

    p = tmp_path / "g.yaml"
    p.write_text("""
models:
  mixtral: {model: "x:m", input_price: 0.6, output_price: 0.6, offline_response: "from mixtral"}
  gpt4: {model: "x:g", input_price: 10, output_price: 30, offline_response: "from gpt4"}
routers:
  learned:
    type: learned
    fit: {data: routellm-gsm8k, router: logistic}
    models: {mistralai/Mixtral-8x7B-Instruct-v0.1: mixtral, gpt-4-1106-preview: gpt4}
  hybrid: {type: strategy, name: hybrid, params: {rules: [{model: gpt4, contains: [prove]}], default: mixtral, learned: learned}}
state: {question: str, answer: str}
nodes:
  answer: {type: llm, router: hybrid, prompt: "{question}", output: answer}
edges: [{from: START, to: answer}, {from: answer, to: END}]
""")
    app = compile_file(p, offline=True)
    ruled = run_graph(app, "please prove that 7 is prime")["trace"][0]
    assert ruled["model"] == "gpt4" and ruled["reason"] == "rule 0 matched"
    learned = run_graph(app, "Tom has 3 apples and buys 4 more. How many apples?")["trace"][0]
    assert learned["model"] in ("mixtral", "gpt4") and learned["reason"].startswith("no rule matched; learned router")
    p.write_text(p.read_text().replace("learned: learned}", "learned: nowhere}"))
    with pytest.raises(ConfigError, match="must name a classifier router"):
        compile_file(p, offline=True)
