"""What an upstream bills as prompt tokens for one chat-completions body: every message of every
role and content type, tool calls, tool and function definitions, ``tool_choice``, the
``response_format`` schema and a predicted output, counted with graphroute's tokenizer plus
OpenAI's per-message overhead. Budgets reserve this count (times ``serve.token_margin``, for
providers whose tokenizers count more) and ``max_prompt_tokens`` refuses on it; the call is then
settled to the usage the provider reports.

Images count at their worst case (85 tokens at ``detail: low``, else 1,445: a 768 x 2,048 image
in 512-pixel tiles); any other part, and every structured field, counts as its JSON (a
conservative stand-in: OpenAI renders tool definitions in a shorter, TypeScript-like form).

Examples:
    >>> from graphroute.serve.billing import prompt_tokens
    >>> ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    >>> prompt_tokens({"messages": ask})
    14
    >>> tool = {"type": "function", "function": {"name": "weather", "description": "Weather of a city",
    ...         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    >>> prompt_tokens({"messages": ask, "tools": [tool] * 200}) > 200 * 30
    True
"""

from __future__ import annotations

import json
from typing import Any

from graphroute.costs import count_tokens

#: OpenAI's overheads: tokens per message, per message name, and the reply's priming
PER_MESSAGE, PER_NAME, REPLY = 3, 1, 3
#: an image part's worst case by detail
IMAGE_TOKENS = {"low": 85, "high": 1445, "auto": 1445}
#: request fields billed as prompt tokens besides the messages
BILLED_FIELDS = ("tools", "functions", "tool_choice", "function_call", "response_format", "prediction")


def _json(value: Any) -> str:
    """JSON with spaces after separators: 12 % more tokens than compact JSON for tool definitions
    here, so a provider that counts the JSON it was sent is not undercounted."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _parts(content: Any, texts: list[str]) -> int:
    """Collect the texts of one message content into ``texts``; returns the fixed tokens of its images."""
    if content is None:
        return 0
    if isinstance(content, str):
        texts.append(content)
        return 0
    fixed = 0
    for part in content if isinstance(content, list) else [content]:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            detail = (part.get("image_url") or {}).get("detail", "auto") if isinstance(part.get("image_url"), dict) else "auto"
            fixed += IMAGE_TOKENS.get(str(detail), IMAGE_TOKENS["high"])
        else:  # audio, files, refusals and parts of kinds this server does not know: their whole JSON
            texts.append(_json(part))
    return fixed


def prompt_tokens(body: dict[str, Any]) -> int:
    """The prompt tokens ``body`` is billed for (see the module docstring)."""
    texts: list[str] = []
    fixed = REPLY
    for m in body.get("messages") or []:
        if not isinstance(m, dict):
            texts.append(_json(m))
            continue
        fixed += PER_MESSAGE + (PER_NAME if m.get("name") else 0)
        texts.append(str(m.get("role") or ""))
        if m.get("name"):
            texts.append(str(m["name"]))
        fixed += _parts(m.get("content"), texts)
        for extra in ("tool_calls", "function_call", "audio", "refusal"):
            if m.get(extra):
                texts.append(_json(m[extra]))
        if m.get("tool_call_id"):
            texts.append(str(m["tool_call_id"]))
    for name in BILLED_FIELDS:
        if body.get(name) is not None:
            texts.append(_json(body[name]))
    texts = [t for t in texts if t]
    return fixed + (int(count_tokens(texts).sum()) if texts else 0)
