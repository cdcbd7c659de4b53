"""A fast fake OpenAI-compatible provider (its own process), standing in for a remote paid API in the
serve tests and benchmarks: a bare ASGI app under uvicorn, fixed latency, canned answers, and
failure modes chosen by the request's ``model``:

* ``ok`` (or anything else) — answers ``"pong"`` (streams it in 4 chunks);
* ``dead`` — HTTP 500 every time;
* ``midstream`` — streams two chunks, then drops the connection;
* ``slow`` — a stream of 100 chunks, one per 100 ms (``GET /stats`` counts streams the client closed early);
* ``tools`` — calls the first tool of the request (``tool_calls``), or answers after a tool result;
* ``billed`` — answers ``"pong"`` and bills what a paid API bills: ``prompt_tokens`` counts every
  message's text and the request's tools, functions and response format (cl100k, OpenAI's GPT-4
  tokenizer; 3 tokens per message as OpenAI does), not a fixed 10;
* ``echo`` — refuses every request with HTTP 400, echoing the ``Authorization`` header it got in its
  error message and body (a provider that leaks the key it was sent);
* ``fast``, ``mid``, ``big``, ``flaky`` — the providers of ``benchmarks/faults.py``: their own latency
  and rates of timeouts, HTTP 429, HTTP 500, malformed bodies and slowness (seeded);
  ``POST /control?dead=flaky`` makes a model answer HTTP 503 every time until ``/control?dead=``
  (``GET /stats`` counts ``dead_calls``, and ``dead_at_ms`` says when each came, in ms after the death).

``python benchmarks/fake_upstream.py --port 8199 --latency-ms 20``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from urllib.parse import parse_qs

STATS = {"requests": 0, "cancelled": 0, "by_model": {}, "dead_calls": 0, "dead_at_ms": [], "faults": {}}
DEAD_SINCE = [0.0]
#: as benchmarks/faults.py: latency ms, then rates of timeout, 429, 500, malformed, slow
FAULTS = {"fast": (3, 0.01, 0.05, 0.03, 0.02, 0.05), "mid": (6, 0.01, 0.02, 0.02, 0.01, 0.05),
          "big": (10, 0.005, 0.01, 0.01, 0.01, 0.02), "flaky": (4, 0.0, 0.0, 0.02, 0.0, 0.0)}
DEAD: set[str] = set()
RNG = random.Random(0)


async def _fault(model: str) -> tuple[int, bytes] | None:
    """A faulty provider's failure (status, body), or None to answer."""
    if model in DEAD:
        STATS["dead_calls"] += 1
        STATS["dead_at_ms"].append(round((time.monotonic() - DEAD_SINCE[0]) * 1000, 1))
        return 503, b'{"error":{"message":"service unavailable","type":"server_error"}}'
    latency, timeout, r429, r500, malformed, slow = FAULTS[model]
    u = RNG.random()
    kind = "timeout" if u < timeout else "429" if u < timeout + r429 else "500" if u < timeout + r429 + r500 else \
        "malformed" if u < timeout + r429 + r500 + malformed else None
    STATS["faults"][kind or "ok"] = STATS["faults"].get(kind or "ok", 0) + 1
    await asyncio.sleep((10.0 if kind == "timeout" else latency / 1000) * (5 if RNG.random() < slow else 1))
    if kind == "429":
        return 429, b'{"error":{"message":"rate limit exceeded","type":"rate_limit_error"}}'
    if kind == "500":
        return 500, b'{"error":{"message":"internal error","type":"server_error"}}'
    if kind == "malformed":
        return 200, b'{"id": "chatcmpl-fake", "choices": [{"index": 0, "mess'
    return None


def _completion(model: str, message: dict, finish: str = "stop", usage: dict | None = None) -> bytes:
    u = usage or {"prompt_tokens": 10, "completion_tokens": 4}
    return json.dumps({"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                       "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                       "usage": {**u, "total_tokens": u["prompt_tokens"] + u["completion_tokens"]}}).encode()


def _billed(req: dict) -> int:
    """Prompt tokens as a paid API counts them: every message's text, and the tools, functions and
    response format (their JSON), with cl100k_base."""
    import bpe_openai

    enc = bpe_openai.get_encoding("cl100k_base")
    n = 3
    for m in req.get("messages") or []:
        content = m.get("content")
        texts = [content] if isinstance(content, str) else [p.get("text", "") for p in content or [] if isinstance(p, dict)]
        n += 3 + sum(len(enc.encode_ordinary(t)) for t in texts if isinstance(t, str))
    for field in ("tools", "functions", "response_format"):
        if req.get(field):
            n += len(enc.encode_ordinary(json.dumps(req[field])))
    return n


def _chunk(model: str, delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
    obj = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
           "choices": [] if usage else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    if usage:
        obj["usage"] = usage
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def _send(send, status: int, body: bytes, ctype: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def make_app(latency_ms: float):
    delay = latency_ms / 1000

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/control":
            q = parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
            DEAD.clear()
            DEAD.update(m for m in (q.get("dead") or [""])[0].split(",") if m)
            DEAD_SINCE[0] = time.monotonic()
            return await _send(send, 200, json.dumps({"dead": sorted(DEAD)}).encode())
        if scope["path"] == "/stats":
            return await _send(send, 200, json.dumps(STATS).encode())
        if scope["path"] == "/v1/models":
            return await _send(send, 200, b'{"object":"list","data":[{"id":"ok","object":"model","created":0,"owned_by":"fake"}]}')
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        req = json.loads(body or b"{}")
        model = str(req.get("model", "ok"))
        STATS["requests"] += 1
        STATS["by_model"][model] = STATS["by_model"].get(model, 0) + 1
        if delay:
            await asyncio.sleep(delay)
        if model in FAULTS:
            failed = await _fault(model)
            if failed is not None:
                return await _send(send, failed[0], failed[1])
        if model == "dead":
            return await _send(send, 500, b'{"error":{"message":"internal error","type":"server_error"}}')
        if model == "echo":
            auth = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            return await _send(send, 400, json.dumps({"error": {"message": f"bad request sent with {auth}",
                                                                "type": "invalid_request_error", "param": "tools"},
                                                      "request": {"headers": {"Authorization": auth}}}).encode())
        if model == "billed" and not req.get("stream"):
            usage = {"prompt_tokens": _billed(req), "completion_tokens": 1}
            return await _send(send, 200, _completion(model, {"role": "assistant", "content": "pong"}, usage=usage))
        if model == "tools" and not req.get("stream"):
            msgs = req.get("messages") or []
            if msgs and msgs[-1].get("role") == "tool":
                return await _send(send, 200, _completion(model, {"role": "assistant", "content": f"the tool said {msgs[-1].get('content')}"}))
            tool = (req.get("tools") or [{"function": {"name": "none"}}])[0]["function"]["name"]
            call = {"id": "call_1", "type": "function", "function": {"name": tool, "arguments": json.dumps({"city": "Paris"})}}
            return await _send(send, 200, _completion(model, {"role": "assistant", "content": None, "tool_calls": [call]},
                                                      "tool_calls"))
        if not req.get("stream"):
            return await _send(send, 200, _completion(model, {"role": "assistant", "content": "pong"}))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        more = {"type": "http.response.body", "more_body": True}
        gone = asyncio.Event()

        async def watch():
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            await send({**more, "body": _chunk(model, {"role": "assistant", "content": ""})})
            n = 100 if model == "slow" else 4
            for i in range(n):
                if model == "midstream" and i == 2:
                    raise RuntimeError("connection dropped")  # uvicorn closes the connection mid-body
                if model == "slow":
                    await asyncio.sleep(0.1)
                    if gone.is_set():
                        raise OSError("client went away")
                await send({**more, "body": _chunk(model, {"content": "po" if i % 2 == 0 else "ng"})})
            await send({**more, "body": _chunk(model, {}, "stop")})
            if (req.get("stream_options") or {}).get("include_usage"):
                await send({**more, "body": _chunk(model, {}, usage={"prompt_tokens": 10, "completion_tokens": n,
                                                                      "total_tokens": 10 + n})})
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        except (OSError, asyncio.CancelledError):
            STATS["cancelled"] += 1
            raise
        finally:
            watcher.cancel()

    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8199)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    args = ap.parse_args()
    uvicorn.run(make_app(args.latency_ms), host="127.0.0.1", port=args.port, log_level="error", access_log=False)


if __name__ == "__main__":
    main()
