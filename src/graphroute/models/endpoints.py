"""Real chat models: any OpenAI-compatible endpoint (``base_url``) or a LangChain ``provider:model``.

An endpoint (a local llama.cpp or vLLM server, a proxy, OpenAI itself) is reached with
``langchain-openai``'s ``ChatOpenAI``; a ``provider:model`` string without ``base_url`` goes through
LangChain's ``init_chat_model`` (the provider's package must be installed). A key is named by the
environment variable that holds it (``api_key_env``); the key itself is read when the model is made
and never written to a file, log, trace or error. Retries are the gateway's job, so the client makes
one attempt per call.

Examples:
    >>> from graphroute.models import chat_model
    >>> llm = chat_model("gemma-3-270m", base_url="http://127.0.0.1:8080/v1", max_tokens=64)
    >>> type(llm).__name__, llm.model_name, llm.extra_body
    ('ChatOpenAI', 'gemma-3-270m', {'max_tokens': 64})
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr

from graphroute.errors import ConfigError

#: what a local server without authentication is sent as a key (the client requires one)
NO_KEY = "not-needed"


def api_key(env: str | None, *, field: str | None = None, path: Any = None) -> str | None:
    """The key held by environment variable ``env`` (``None``: no key configured).

    A missing variable raises ``ConfigError`` naming the variable, never a value.
    """
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"environment variable {env} (api_key_env) is not set", field=field, path=path)
    return value


def chat_model(model: str, *, base_url: str | None = None, api_key_env: str | None = None,
               max_tokens: int | None = 1024, temperature: float | None = 0.0, timeout_s: float = 60.0,
               field: str | None = None, path: Any = None, **kwargs: Any):
    """A LangChain chat model for ``model``: at ``base_url`` (OpenAI-compatible), else ``provider:model``.

    ``path`` and ``field`` name the configuration file and entry in errors (``models.small``).
    """
    key = api_key(api_key_env, field=field, path=path)
    if base_url is not None:
        from langchain_openai import ChatOpenAI

        # langchain-openai sends ``max_tokens`` as ``max_completion_tokens``, which OpenAI-compatible
        # servers (llama.cpp's, TGI, older vLLM) ignore, generating to the context's end; the classic
        # field goes in the body instead.
        body = {**kwargs.pop("extra_body", {}), **({"max_tokens": max_tokens} if max_tokens is not None else {})}
        return ChatOpenAI(model=model, base_url=base_url, api_key=SecretStr(key or NO_KEY), extra_body=body or None,
                          temperature=temperature, timeout=timeout_s, max_retries=0, stream_usage=True, **kwargs)
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise ConfigError(f"{model!r} needs the 'langchain' package and the provider's package, or a base_url",
                          field=field, path=path) from None
    extra = {"api_key": key} if key is not None else {}
    try:
        options: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "timeout": timeout_s,
                                   "max_retries": 0, **extra, **kwargs}
        return init_chat_model(model, **options)
    except Exception as exc:  # provider package missing, unknown provider, bad name
        message = str(exc).replace(key, "***") if key else str(exc)
        raise ConfigError(f"cannot create {model!r}: {message}", field=field, path=path) from None
