"""Prompts in, checked: the one place that validates prompt text and reads the query of a state.

* ``check_prompts`` — strings, not blank, at most ``MAX_PROMPT_CHARS`` characters;
* ``message_text`` — the text of a message's content (a string or LangChain content blocks);
* ``query_text`` — the query of a LangGraph state, a message list, a message or a string:
  ``state[query_key]`` when set, else the last human message.

Examples:
    >>> from graphroute.prompts import query_text
    >>> query_text({"messages": [("system", "be brief"), ("user", "What is 2 + 2?"), ("ai", "4")]})
    'What is 2 + 2?'
    >>> query_text({"question": "Why?", "messages": []}, query_key="question")
    'Why?'
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from graphroute.errors import PromptError

MAX_PROMPT_CHARS = 100_000
_HUMAN = ("human", "user")


def check_prompts(X: Sequence[str] | str) -> list[str]:
    """Validate prompts: a string or a sequence of strings (a dataset gives its ``prompts``)."""
    if isinstance(X, str):
        X = [X]
    elif hasattr(X, "prompts") and hasattr(X, "scores"):  # a RoutingDataset
        X = X.prompts
    if isinstance(X, (bytes, bytearray, dict)):
        raise PromptError(f"prompts must be a string or a sequence of strings, got {type(X).__name__}")
    try:
        out = list(X)
    except TypeError:
        raise PromptError(f"prompts must be a string or a sequence of strings, got {type(X).__name__}") from None
    for i, p in enumerate(out):
        if not isinstance(p, str):
            raise PromptError(f"prompt {i} is {type(p).__name__}, not str")
        if not p.strip():
            raise PromptError(f"prompt {i} is empty")
        if len(p) > MAX_PROMPT_CHARS:
            raise PromptError(f"prompt {i} has {len(p):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
    return out


def message_text(content: Any) -> str:
    """Text of a message content: a string, or content blocks (``{"type": "text", "text": ...}``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else str(content)


def _role_and_content(msg: Any) -> tuple[str | None, Any]:
    if isinstance(msg, dict):
        return msg.get("role") or msg.get("type"), msg.get("content")
    if isinstance(msg, (tuple, list)) and len(msg) == 2 and isinstance(msg[0], str):
        return msg[0], msg[1]
    return getattr(msg, "type", None), getattr(msg, "content", None)


def last_human(messages: Sequence[Any]) -> str | None:
    """Text of the last human (``user``) message, or None when there is none."""
    for msg in reversed(list(messages or [])):
        role, content = _role_and_content(msg)
        if role in _HUMAN:
            return message_text(content)
    return None


def query_text(source: Any, *, query_key: str | None = None, messages_key: str = "messages") -> str:
    """The query of ``source``: a string; a message or a list of messages (the last human one); or a
    state mapping (``source[query_key]`` when present, else its ``messages_key`` list's last human
    message). Raises ``PromptError`` when there is none."""
    if isinstance(source, str):
        return source
    if isinstance(source, Mapping):
        if query_key is not None and source.get(query_key) is not None:
            return message_text(source[query_key])
        found = last_human(source.get(messages_key) or [])
        if found is None:
            raise PromptError(f"no query in the state: no {query_key!r} key and no human message in {messages_key!r}")
        return found
    messages = source if isinstance(source, (list, tuple)) and not _is_pair(source) else [source]
    found = last_human(messages)
    if found is None:
        raise PromptError("no human message to read the query from")
    return found


def _is_pair(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) and x[0] in (*_HUMAN, "ai", "system", "assistant")
