"""graphroute serve over real HTTP on loopback, with the official ``openai`` client and
langchain-openai's ``ChatOpenAI``: a real server process, the replay upstream (recorded GPT-4 and
Mixtral answers behind ``graphroute replay-server``) and a fake provider standing in for a paid API's
failures, tools and slow streams."""

from __future__ import annotations

import json
import time
import urllib.request

import httpx
import openai
import pytest


def client(server, key="full", **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=server["url"] + "/v1", api_key=server["keys"][key] if key else "none", max_retries=0,
                         timeout=60, **kw)


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_pass_through_answers_with_decision_headers_routing_and_cost(serve_server, gsm8k):
    raw = client(serve_server).chat.completions.with_raw_response.create(model="mixtral", messages=ask(gsm8k.prompts[0]))
    out = raw.parse()
    assert raw.headers["x-graphroute-model"] == "mixtral" and raw.headers["x-graphroute-reason"] == "pass-through"
    assert len(raw.headers["x-graphroute-request-id"]) == 32
    assert out.choices[0].message.content.strip().endswith("540")  # Mixtral's recorded answer
    body = out.model_dump()
    assert body["routing"]["model"] == "mixtral" and body["routing"]["request_id"] == raw.headers["x-graphroute-request-id"]
    u = body["usage"]
    assert u["cost"] == pytest.approx((u["prompt_tokens"] * 0.6 + u["completion_tokens"] * 0.6) / 1e6)


def test_router_with_threshold_and_alias_route_like_the_decision_endpoint(serve_server, gsm8k):
    c = client(serve_server)
    seen = set()
    for q in gsm8k.prompts[:6]:
        for t in ("0.0", "0.2"):
            raw = c.chat.completions.with_raw_response.create(model=f"router-pick-{t}", messages=ask(q))
            decided = httpx.post(serve_server["url"] + "/v1/route", json={"model": f"router-pick-{t}", "messages": ask(q)},
                                 headers={"authorization": f"Bearer {serve_server['keys']['full']}"}).json()
            assert raw.headers["x-graphroute-model"] == decided["model"] in ("gpt4", "mixtral")
            assert f"threshold +{float(t):.3f}" in raw.headers["x-graphroute-reason"]
            seen.add(decided["model"])
        alias = c.chat.completions.with_raw_response.create(model="auto", messages=ask(q))
        assert alias.parse().model_dump()["routing"]["virtual_model"] == "auto"
    assert seen == {"gpt4", "mixtral"}  # both thresholds together use both models


def test_streaming_matches_the_whole_answer_and_reports_cost(serve_server, gsm8k):
    c = client(serve_server)
    whole = c.chat.completions.create(model="gpt4", messages=ask(gsm8k.prompts[3])).choices[0].message.content
    chunks = list(c.chat.completions.create(model="gpt4", messages=ask(gsm8k.prompts[3]), stream=True,
                                            stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == whole
    assert chunks[0].model_dump()["routing"]["model"] == "gpt4"
    assert chunks[-1].usage is not None and chunks[-1].usage.model_dump()["cost"] > 0


def test_n_choices(serve_server, gsm8k):
    out = client(serve_server).chat.completions.create(model="mixtral", messages=ask(gsm8k.prompts[1]), n=3)
    assert [ch.index for ch in out.choices] == [0, 1, 2]


def test_tools_round_trip_and_unknown_fields_pass_through(serve_server):
    c = client(serve_server)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    msgs = ask("Weather in Paris?")
    first = c.chat.completions.create(model="tools", messages=msgs, tools=tools, tool_choice="auto",
                                      response_format={"type": "text"}, extra_body={"seed_of_my_own": 7})
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    msgs += [first.choices[0].message.model_dump(exclude_none=True),
             {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    final = c.chat.completions.create(model="tools", messages=msgs, tools=tools)
    assert final.choices[0].message.content == "the tool said sunny"


def test_dead_model_falls_back_whole_and_streaming(serve_server, gsm8k):
    c = client(serve_server)
    raw = c.chat.completions.with_raw_response.create(model="dead", messages=ask(gsm8k.prompts[4]))
    assert raw.headers["x-graphroute-model"] == "mixtral" and "fallback mixtral answered" in raw.headers["x-graphroute-reason"]
    attempts = raw.parse().model_dump()["routing"]["attempts"]
    assert attempts[0]["model"] == "dead" and attempts[0]["error"] == "server" and attempts[-1] == {"model": "mixtral", "error": None}
    with c.chat.completions.with_streaming_response.create(model="dead", messages=ask(gsm8k.prompts[4]), stream=True) as s:
        assert s.headers["x-graphroute-model"] == "mixtral"
        text = "".join(ch.choices[0].delta.content or "" for ch in s.parse() if ch.choices)
    assert text == c.chat.completions.create(model="mixtral", messages=ask(gsm8k.prompts[4])).choices[0].message.content


def test_failure_after_the_first_token_ends_the_stream_with_an_error(serve_server, gsm8k):
    got = []
    with pytest.raises(openai.APIError, match="broke after its first token"):
        for ch in client(serve_server).chat.completions.create(model="midstream", messages=ask("hi"), stream=True):
            got.append(ch.choices[0].delta.content or "")
    assert "".join(got) == "pong"  # the fake's two chunks ("po", "ng"), never the fallback's text spliced in


def test_client_disconnect_cancels_the_upstream_stream(serve_server):
    before = json.loads(urllib.request.urlopen(serve_server["fake"] + "/stats").read())["cancelled"]
    with httpx.stream("POST", serve_server["url"] + "/v1/chat/completions", timeout=30,
                      json={"model": "slow", "messages": ask("count"), "stream": True},
                      headers={"authorization": f"Bearer {serve_server['keys']['full']}"}) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if json.loads(urllib.request.urlopen(serve_server["fake"] + "/stats").read())["cancelled"] > before:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the upstream stream was not closed after the client went away")


def test_errors_are_the_clients_own_typed_exceptions(serve_server, gsm8k):
    with pytest.raises(openai.AuthenticationError):
        client(serve_server, key=None).chat.completions.create(model="mixtral", messages=ask("hi"))
    with pytest.raises(openai.NotFoundError) as nf:
        client(serve_server).chat.completions.create(model="gpt-7", messages=ask("hi"))
    assert nf.value.code == "model_not_found"
    with pytest.raises(openai.PermissionDeniedError):
        client(serve_server, key="narrow").chat.completions.create(model="gpt4", messages=ask("hi"))
    with pytest.raises(openai.RateLimitError) as broke:
        client(serve_server, key="poor").chat.completions.create(model="gpt4", messages=ask(gsm8k.prompts[0]))
    assert broke.value.code == "insufficient_quota"
    limited = client(serve_server, key="limited")
    limited.chat.completions.create(model="mixtral", messages=ask("a"))
    limited.chat.completions.create(model="mixtral", messages=ask("b"))
    with pytest.raises(openai.RateLimitError) as rl:
        limited.chat.completions.create(model="mixtral", messages=ask("c"))
    assert rl.value.code == "rate_limit_exceeded" and int(rl.value.response.headers["retry-after"]) >= 1
    with pytest.raises(openai.APIStatusError) as big:
        client(serve_server).chat.completions.create(model="mixtral", messages=ask("x" * 30000))
    assert big.value.status_code == 413 and big.value.code == "request_too_large"
    with pytest.raises(openai.BadRequestError) as bad:
        client(serve_server).chat.completions.create(model="mixtral", messages=ask("hi"), n=0)
    assert bad.value.param == "n"
    with pytest.raises(openai.BadRequestError):
        client(serve_server).chat.completions.create(model="mixtral", messages=[])
    with pytest.raises(openai.BadRequestError):
        client(serve_server).chat.completions.create(model="auto", messages=ask("   "))


def test_models_listing_follows_the_key(serve_server):
    every = [m.id for m in client(serve_server).models.list()]
    assert {"auto", "cheap-first", "router-pick", "router-bandit", "graph:qa", "gpt4", "mixtral"} <= set(every)
    assert [m.id for m in client(serve_server, key="narrow").models.list()] == ["router-pick", "router-bandit", "mixtral"]


def test_feedback_teaches_the_bandit_and_lands_in_telemetry(serve_server, gsm8k):
    raw = client(serve_server).chat.completions.with_raw_response.create(model="cheap-first", messages=ask(gsm8k.prompts[5]))
    rid = raw.headers["x-graphroute-request-id"]
    auth = {"authorization": f"Bearer {serve_server['keys']['full']}"}
    r = httpx.post(serve_server["url"] + "/v1/feedback", json={"request_id": rid, "score": 1.0}, headers=auth)
    assert r.status_code == 200 and r.json() == {"request_id": rid, "recorded": True, "learned": True}
    again = httpx.post(serve_server["url"] + "/v1/feedback", json={"request_id": rid, "score": 1.0}, headers=auth)
    assert again.status_code == 409 and again.json()["error"]["code"] == "feedback_already_recorded"
    rows = [json.loads(x) for x in (serve_server["folder"] / "telemetry.jsonl").read_text().splitlines()]
    assert {"decision", "feedback"} <= {row["event"] for row in rows if row.get("run_id") == rid}


def test_graph_and_router_through_chat_openai(serve_server, gsm8k):
    from langchain_openai import ChatOpenAI

    for model in ("graph:qa", "auto"):
        llm = ChatOpenAI(model=model, base_url=serve_server["url"] + "/v1", api_key=serve_server["keys"]["full"], max_retries=0)
        reply = llm.invoke(gsm8k.prompts[2])
        assert reply.content.strip() and reply.response_metadata["model_name"] in ("gpt4", "mixtral")
        streamed = "".join(str(ch.content) for ch in llm.stream(gsm8k.prompts[2]))
        assert streamed == reply.content
    bad = ChatOpenAI(model="auto", base_url=serve_server["url"] + "/v1", api_key="gr-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.invoke("hi")


def test_metrics_and_health_never_show_keys(serve_server, gsm8k):
    client(serve_server).chat.completions.create(model="ok", messages=ask("ping"))
    text = httpx.get(serve_server["url"] + "/metrics").text
    assert 'graphroute_requests_total{code="200",kind="model",virtual_model="ok"}' in text
    assert 'graphroute_cost_dollars_total{model="mixtral"}' in text
    assert 'graphroute_breaker_state{model="dead",state=' in text
    assert 'graphroute_fallbacks_total{answered="mixtral",chosen="dead"}' in text
    health = httpx.get(serve_server["url"] + "/health").json()
    assert health["status"] == "ok" and set(health["models"]) >= {"gpt4", "dead"}
    log = serve_server["log"].read_text()
    for secret in [serve_server["secret"], *serve_server["keys"].values()]:
        assert secret not in text and secret not in log and secret not in json.dumps(health)
