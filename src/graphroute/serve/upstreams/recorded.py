"""An upstream answering from recorded outcomes (a dataset's responses), so a routed deployment runs
and is evaluated offline. Benchmarks that record only scores (MMLU) have no response text: the
answer then states the recorded outcome. A prompt the data lacks gets an answer saying so, with
``graphroute_replay.score`` null.

Examples:
    >>> import asyncio
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.serve.upstreams.recorded import RecordedUpstream
    >>> data = load_dataset("routellm-gsm8k")
    >>> up = RecordedUpstream("mixtral", data, "mistralai/Mixtral-8x7B-Instruct-v0.1")
    >>> out = asyncio.run(up.complete({"messages": [{"role": "user", "content": data.prompts[0]}]}))
    >>> out["choices"][0]["message"]["content"].strip().splitlines()[-1], out["graphroute_replay"]["score"]
    ('#### 540', 1.0)
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any, AsyncIterator

from graphroute.costs import count_tokens
from graphroute.models.replay import ReplayChatModel
from graphroute.serve.wire import chunk, completion, last_user_text, usage


class RecordedUpstream:
    """``model``: the config's id; ``recorded``: the dataset's model it replays; ``latency_ms``: wait per call."""

    def __init__(self, model: str, data: Any, recorded: str, *, latency_ms: float = 0.0) -> None:
        self.model, self.recorded, self.latency_ms = model, recorded, latency_ms
        self.replay = ReplayChatModel(data=data, model_name=recorded, default="")

    def answer(self, body: dict[str, Any]) -> tuple[str, dict[str, Any], int, int]:
        prompt = last_user_text(body.get("messages") or [])
        text, score, row = self.replay.lookup(prompt)
        if row is None:
            text = f"(no recorded answer of {self.recorded} for this prompt)"
        elif not text:
            text = f"(recorded outcome of {self.recorded}: score {score:g})"
        tin, tout = (int(x) for x in count_tokens([prompt, text]))
        return text, {"model": self.recorded, "score": score, "row": row}, tin, tout

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        text, meta, tin, tout = self.answer(body)
        n = int(body.get("n") or 1)
        out = completion(text, model=self.recorded, request_id=uuid.uuid4().hex, n=n, extra={"graphroute_replay": meta})
        out["usage"] = usage(tin, tout * n)
        return out

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        text, meta, tin, tout = self.answer(body)
        rid, n = uuid.uuid4().hex, int(body.get("n") or 1)
        pieces = re.findall(r"\S+\s*|\s+", text) or [text]
        for i in range(n):
            yield {**chunk(model=self.recorded, request_id=rid, delta={"role": "assistant", "content": ""}, index=i),
                   "graphroute_replay": meta}
        for piece in pieces:
            for i in range(n):
                yield chunk(model=self.recorded, request_id=rid, delta={"content": piece}, index=i)
            await asyncio.sleep(0)
        for i in range(n):
            yield chunk(model=self.recorded, request_id=rid, finish="stop", index=i)
        yield {**chunk(model=self.recorded, request_id=rid), "choices": [], "usage": usage(tin, tout * n)}

    async def aclose(self) -> None:
        return None
