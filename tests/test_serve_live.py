"""graphroute serve in front of the real local LLM (Gemma 3 270M under llama.cpp's server): the
official openai client and ChatOpenAI, whole and streaming, a forced tool call round trip, and a
router whose models are the live model and a replay."""

from __future__ import annotations

import json
import sys

import openai
import pytest
import yaml

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def live_serve(tmp_path_factory, serve_cache, live_server, replay_upstream, processes):
    from graphroute.models.local import free_port

    folder = tmp_path_factory.mktemp("serve-live")
    cfg = {"models": {"local": {"model": live_server.model_alias, "base_url": live_server.base_url, "input_price": 0.0,
                                "output_price": 0.0, "max_output_tokens": 256, "context_window": 4096},
                      "gpt4": {"model": "gpt-4-1106-preview", "base_url": replay_upstream, "input_price": 10.0,
                               "output_price": 30.0}},
           "routers": {"pick": {"type": "classifier", "fit": {"data": "routellm-gsm8k", "router": "logistic"},
                                "models": {"mistralai/Mixtral-8x7B-Instruct-v0.1": "local", "gpt-4-1106-preview": "gpt4"}}},
           "serve": {"fallbacks": {"local": ["gpt4"]}}}
    (folder / "serve.yaml").write_text(yaml.safe_dump(cfg))
    port = free_port()
    proc = processes.start([sys.executable, "-m", "graphroute.cli.main", "serve", str(folder / "serve.yaml"), "--port", str(port)],
                         f"http://127.0.0.1:{port}/health", env={"GRAPHROUTE_CACHE": str(serve_cache)})
    yield f"http://127.0.0.1:{port}/v1"
    processes.stop(proc)


def test_live_model_whole_and_streaming(live_serve):
    c = openai.OpenAI(base_url=live_serve, api_key="none", max_retries=0, timeout=120)
    raw = c.chat.completions.with_raw_response.create(model="local", messages=[{"role": "user", "content": "Say hello."}],
                                                      max_tokens=12, temperature=0)
    out = raw.parse()
    assert raw.headers["x-graphroute-model"] == "local" and out.choices[0].message.content.strip()
    assert out.usage.completion_tokens <= 12  # the client's bound reached llama.cpp
    chunks = list(c.chat.completions.create(model="local", messages=[{"role": "user", "content": "Say hello."}],
                                            max_tokens=12, temperature=0, stream=True, stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text.strip() and chunks[-1].usage.completion_tokens >= 1


def test_live_tool_call_round_trip(live_serve):
    c = openai.OpenAI(base_url=live_serve, api_key="none", max_retries=0, timeout=120)
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "weather of a city", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    msgs = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = c.chat.completions.create(model="local", messages=msgs, tools=tools, temperature=0, seed=1,  # llama.cpp samples at 0.8 by default
                                      tool_choice={"type": "function", "function": {"name": "get_weather"}})
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and isinstance(json.loads(call.function.arguments, strict=False), dict)
    msgs += [first.choices[0].message.model_dump(exclude_none=True),
             {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    final = c.chat.completions.create(model="local", messages=msgs, max_tokens=24)
    assert final.choices[0].message.content is not None


def test_chat_openai_through_a_router_over_the_live_model(live_serve, gsm8k):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="router-pick-0.0", base_url=live_serve, api_key="none", max_retries=0, timeout=120,
                     extra_body={"max_tokens": 24})
    models = set()
    for q in gsm8k.prompts[:4]:
        reply = llm.invoke(q)
        assert reply.content.strip()
        models.add(reply.response_metadata["model_name"])
    assert models <= {"local", "gpt4"}
