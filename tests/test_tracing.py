"""OpenTelemetry traces: the spans of a LangGraph app (RouterNode, cascade, YAML graph, Gateway) with
the SDK's in-memory exporter, and a served request's span tree at a real OTLP/HTTP endpoint."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypedDict

import pytest
import yaml
from langchain_core.language_models import FakeListChatModel
from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph

from conftest import SERVE_KEYS, serve_config, start_serve, stop_process
from graphroute import tracing
from graphroute.cascade import Cascade, Stage
from graphroute.nodes import RouterNode
from graphroute.routers import KNNRouter
from graphroute.scorers import FormatScorer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def spans():
    """Spans recorded in memory while the test runs (the provider is removed afterwards)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = tracing.configure(exporter=exporter, batch=False, record_prompts=True)
    yield exporter
    provider.shutdown()
    tracing._set_provider(trace, trace.ProxyTracerProvider())
    tracing._settings["record_prompts"] = False


def by_name(exporter, prefix):
    """Finished spans named ``prefix`` or ``prefix <something>``."""
    return [s for s in exporter.get_finished_spans() if s.name == prefix or s.name.startswith(prefix + " ")]


def test_without_a_provider_spans_are_free_no_ops():
    assert not tracing.enabled()
    with tracing.span("graphroute.route", {"graphroute.model": "a"}) as s:
        s.set_attributes({"x": 1})
        assert not s.is_recording()
    assert tracing.prompt_attribute("secret prompt") == {}


def test_a_langgraph_app_with_a_router_node_and_a_cascade_traces_without_the_server(spans):
    router = KNNRouter(k=3).fit(["2+2?", "3*7?", "12-5?", "a poem on rain", "a haiku on snow", "a sonnet on love"],
                                [[1, 1]] * 3 + [[0, 1]] * 3, models=["small", "big"])
    cascade = Cascade([Stage(FakeListChatModel(responses=["maybe"]), name="gpt-4o-mini", scorer=FormatScorer(kind="integer"),
                             threshold=0.5),
                       Stage(FakeListChatModel(responses=["42"]), name="gpt-4o")])

    class State(TypedDict, total=False):
        question: str
        route: dict
        answer: str

    def answer(state):
        return {"answer": cascade.invoke(state["question"]).answer.text}

    g = StateGraph(State)
    g.add_node("route", RouterNode(router, query_key="question"))
    g.add_node("answer", answer)
    g.add_edge(START, "route")
    g.add_edge("route", "answer")
    g.add_edge("answer", END)
    out = g.compile().invoke({"question": "what is 6*7? my key is sk-abcdefghijklmnopqrstuvwxyz"})
    assert out["answer"] == "42"

    [route] = by_name(spans, "graphroute.route")
    a = route.attributes
    assert a["graphroute.model"] == out["route"]["model"] and a["graphroute.reason"] == out["route"]["reason"]
    assert list(a["graphroute.scores.models"]) == sorted(out["route"]["scores"], key=lambda m: -out["route"]["scores"][m])
    assert "[REDACTED]" in a["graphroute.prompt"] and "sk-abc" not in a["graphroute.prompt"]  # asked for, redacted
    [root] = by_name(spans, "graphroute.cascade")
    stages = sorted(by_name(spans, "graphroute.cascade.stage"), key=lambda s: s.attributes["graphroute.stage"])
    assert [s.parent.span_id for s in stages] == [root.context.span_id] * 2
    assert stages[0].attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert stages[0].attributes["graphroute.confidence"] < stages[0].attributes["graphroute.threshold"]
    assert stages[0].attributes["graphroute.accepted"] is False and stages[1].attributes["graphroute.accepted"] is True
    assert root.attributes["graphroute.model"] == "gpt-4o" and root.attributes["graphroute.stage"] == 1


def test_a_yaml_graph_gives_one_span_per_step(spans, gsm8k):
    from graphroute.graphs import compile_file, run_graph

    app = compile_file(ROOT / "graphs" / "qa_cascade.yaml", offline=True, data=gsm8k)
    r = run_graph(app, gsm8k.prompts[11])
    [graph] = by_name(spans, "graphroute.graph")
    steps = by_name(spans, "graphroute.step")
    assert [s.attributes["graphroute.node"] for s in sorted(steps, key=lambda s: s.start_time)] == \
        [t["node"] for t in r["trace"]]
    assert all(s.context.trace_id == graph.context.trace_id for s in steps)
    assert graph.attributes["graphroute.cost_usd"] == pytest.approx(r["cost"])
    assert sum(s.attributes.get("graphroute.cost_usd", 0.0) for s in steps) == pytest.approx(r["cost"])


def test_the_gateway_traces_the_decision_and_each_try_with_genai_attributes(spans):
    from graphroute.errors import GraphRouteError
    from graphroute.runtime import Gateway
    from graphroute.strategies import RoundRobinRouter

    async def down(_):
        raise ConnectionError("HTTP 503 service unavailable")

    gw = Gateway({"gpt-4o": RunnableLambda(down), "gpt-4o-mini": FakeListChatModel(responses=["fine"])},
                 RoundRobinRouter(["gpt-4o"]), fallbacks={"gpt-4o": ["gpt-4o-mini"]}, retries=1, backoff_s=0.001)
    r = asyncio.run(gw.ainvoke("hello there"))
    assert r.model == "gpt-4o-mini"
    [root] = by_name(spans, "graphroute.gateway")
    tries = by_name(spans, "chat")
    assert [s.parent.span_id for s in tries] == [root.context.span_id] * 3  # two tries of gpt-4o, one of the fallback
    failed = [s for s in tries if s.attributes["gen_ai.request.model"] == "gpt-4o"]
    assert len(failed) == 2 and all(s.attributes["error.type"] == "server" and not s.status.is_ok for s in failed)
    [ok] = [s for s in tries if s.attributes["gen_ai.request.model"] == "gpt-4o-mini"]
    assert ok.attributes["gen_ai.usage.input_tokens"] > 0 and ok.attributes["gen_ai.usage.output_tokens"] > 0
    assert ok.attributes["graphroute.cost_usd"] == pytest.approx(r.cost) and r.cost > 0
    assert root.attributes["graphroute.model"] == "gpt-4o-mini"
    assert by_name(spans, "graphroute.route")[0].parent.span_id == root.context.span_id
    with pytest.raises(GraphRouteError):
        asyncio.run(Gateway({"gpt-4o": RunnableLambda(down)}, RoundRobinRouter(["gpt-4o"]), retries=0).ainvoke("hi"))
    assert by_name(spans, "graphroute.gateway")[-1].attributes["error.type"]


class _Collector(BaseHTTPRequestHandler):
    """A real OTLP/HTTP traces endpoint: decodes each protobuf export into plain span records."""

    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = self.rfile.read(int(self.headers["content-length"]))
        req = ExportTraceServiceRequest.FromString(body)
        for rs in req.resource_spans:
            service = {a.key: a.value.string_value for a in rs.resource.attributes}.get("service.name")
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attrs = {}
                    for a in s.attributes:
                        v = a.value
                        attrs[a.key] = json.loads(json.dumps(getattr(v, v.WhichOneof("value")), default=str)) \
                            if v.WhichOneof("value") in ("string_value", "int_value", "double_value", "bool_value") \
                            else [getattr(x, x.WhichOneof("value")) for x in v.array_value.values]
                    self.received.append({"name": s.name, "id": s.span_id.hex(), "parent": s.parent_span_id.hex(),
                                          "trace": s.trace_id.hex(), "attrs": attrs, "service": service,
                                          "auth": self.headers.get("authorization")})
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(b"")

    def log_message(self, *args):
        pass


def test_a_served_request_sends_its_span_tree_to_a_real_otlp_endpoint(tmp_path, serve_cache, replay_upstream,
                                                                      fake_provider):
    from openai import OpenAI


    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    _Collector.received = []
    path = serve_config(tmp_path, replay_upstream, fake_provider)
    cfg = yaml.safe_load(path.read_text())
    cfg["serve"]["otel"] = {"endpoint": f"http://127.0.0.1:{collector.server_port}/v1/traces", "service_name": "gr-test",
                            "headers_env": "GR_TEST_OTEL_HEADERS"}
    path.write_text(yaml.safe_dump(cfg))
    proc, url = start_serve(path, serve_cache, env={"GR_TEST_OTEL_HEADERS": "authorization=Bearer otel-test-token",
                                                    "OTEL_BSP_SCHEDULE_DELAY": "200"})
    try:
        client = OpenAI(base_url=f"{url}/v1", api_key=SERVE_KEYS["full"][0])
        routed = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "Natalia sold clips to 48 of her friends in April. How many?"}])
        caller = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"  # a caller's W3C trace context
        fell = client.chat.completions.with_raw_response.create(
            model="dead", messages=[{"role": "user", "content": "hi"}],
            extra_headers={"traceparent": f"00-{caller[0]}-{caller[1]}-01"})
        routed_only = client.with_options().post("/route", cast_to=dict, body={
            "model": "auto", "messages": [{"role": "user", "content": "What is 12 * 12?"}]})
        ids = {routed.headers["x-graphroute-request-id"]: routed, fell.headers["x-graphroute-request-id"]: fell}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                sum(s["name"] == "POST /v1/chat/completions" for s in _Collector.received) < 2:
            time.sleep(0.2)
    finally:
        stop_process(proc)
        collector.shutdown()
    got = _Collector.received
    roots = {s["attrs"]["graphroute.request_id"]: s for s in got if s["name"] == "POST /v1/chat/completions"}
    assert set(roots) == set(ids)
    assert {s["service"] for s in got} == {"gr-test"} and {s["auth"] for s in got} == {"Bearer otel-test-token"}

    def r1_is_root(span):
        return span["parent"] == ""

    def children(root):
        return [s for s in got if s["parent"] == root["id"]]

    assert r1_is_root(roots[routed.headers["x-graphroute-request-id"]])
    [decided] = [s for s in got if s["name"] == "POST /v1/route"]
    assert decided["attrs"]["graphroute.request_id"] == routed_only["request_id"]
    assert [s["attrs"]["graphroute.chosen"] for s in got if s["parent"] == decided["id"]] == [routed_only["model"]]
    r1 = roots[routed.headers["x-graphroute-request-id"]]
    body = routed.parse()
    assert r1["attrs"]["graphroute.virtual_model"] == "auto" and r1["attrs"]["http.response.status_code"] == 200
    assert r1["attrs"]["graphroute.model"] == body.model
    [decision] = [s for s in children(r1) if s["name"] == "graphroute.route"]
    assert decision["attrs"]["graphroute.chosen"] == body.model and decision["attrs"]["graphroute.reason"]
    assert len(decision["attrs"]["graphroute.scores.models"]) == 2 and "graphroute.prompt" not in decision["attrs"]
    [call] = [s for s in children(r1) if s["name"].startswith("chat ")]
    assert call["attrs"]["gen_ai.request.model"] == body.model
    assert call["attrs"]["gen_ai.usage.output_tokens"] == body.usage.completion_tokens
    assert call["attrs"]["graphroute.cost_usd"] == pytest.approx(r1["attrs"]["graphroute.cost_usd"])

    r2 = roots[fell.headers["x-graphroute-request-id"]]
    tries = [s for s in children(r2) if s["name"].startswith("chat ")]
    assert [s["attrs"]["gen_ai.request.model"] for s in tries] == ["dead", "dead", "mixtral"]  # retries: 1, then fallback
    assert all(s["attrs"].get("error.type") for s in tries[:2]) and "error.type" not in tries[2]["attrs"]
    assert r2["attrs"]["graphroute.fallback"] is True and r2["attrs"]["graphroute.model"] == "mixtral"
    assert all(s["trace"] == r2["trace"] for s in tries)
    assert (r2["trace"], r2["parent"]) == caller  # the caller's trace goes on through the server
    assert {s["name"] for s in got} <= {"POST /v1/chat/completions", "POST /v1/route", "graphroute.route"} | \
        {f"chat {m}" for m in ("gpt4", "mixtral", "dead")}  # one server span per request, no probe or scrape
