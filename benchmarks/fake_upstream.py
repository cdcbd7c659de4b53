"""A fast fake OpenAI-compatible provider (its own process), standing in for a remote paid API in the
serve tests and benchmarks: a bare ASGI app under uvicorn, fixed latency, canned answers, and
failure modes chosen by the request's ``model``:

* ``ok`` (or anything else) — answers ``"pong"`` (streams it in 4 chunks);
* ``dead`` — HTTP 500 every time;
* ``midstream`` — streams two chunks, then drops the connection;
* ``slow`` — a stream of 100 chunks, one per 100 ms (``GET /stats`` counts streams the client closed early);
* ``tools`` — calls the first tool of the request (``tool_calls``), or answers after a tool result.

``python benchmarks/fake_upstream.py --port 8199 --latency-ms 20``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

STATS = {"requests": 0, "cancelled": 0, "by_model": {}}


def _completion(model: str, message: dict, finish: str = "stop") -> bytes:
    return json.dumps({"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
                       "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}}).encode()


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
        if model == "dead":
            return await _send(send, 500, b'{"error":{"message":"internal error","type":"server_error"}}')
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
