"""API keys: stored as SHA-256 digests, each with the virtual models it may use, a budget (the
gateway's budget manager, one session per key) and a rate limit (a sliding-window counter in the
state backend: in this process, or shared by every worker through Redis).

Examples:
    >>> import asyncio
    >>> from graphroute.serve.auth import KeyStore
    >>> from graphroute.serve.settings import KeyBlock, hash_key
    >>> store = KeyStore([(hash_key("gr-a"), KeyBlock(name="a", sha256=hash_key("gr-a"), models=["auto", "router-*"],
    ...                                                  rate_limit="2/minute"))])
    >>> key = store.authenticate("Bearer gr-a")
    >>> key.name, key.may_use("router-mmlu-0.2"), key.may_use("gpt4")
    ('a', True, False)
    >>> [asyncio.run(store.admit(key)) for _ in range(3)][-1] is not None   # the third request waits
    True
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from typing import Any

from limits import parse_many

from graphroute.errors import AuthError
from graphroute.serve.settings import KeyBlock, hash_key
from graphroute.state import MemoryState


@dataclass
class Key:
    name: str
    models: list[str]
    budget: float | None
    limits: list
    admin: bool = False

    @property
    def session(self) -> str:
        """The budget session this key spends from."""
        return f"key:{self.name}"

    def may_use(self, virtual_model: str) -> bool:
        return any(fnmatch.fnmatchcase(virtual_model, p) for p in self.models)


class KeyStore:
    """``keys``: ``(sha256 digest, KeyBlock)`` pairs; None: no authentication (every request is
    anonymous). ``state``: where the rate-limit windows live (default: this process)."""

    def __init__(self, keys: list[tuple[str, KeyBlock]] | None, state: Any = None) -> None:
        self.enabled = keys is not None
        self._by_digest = {d: Key(k.name, list(k.models), k.budget, parse_many(k.rate_limit) if k.rate_limit else [],
                                  k.admin) for d, k in (keys or [])}
        # a sliding-window counter per key and limit: O(keys) state, whatever the request rate; the
        # state backend's own script rather than limits' storage, so Redis outages follow one policy
        self.state = state if state is not None else MemoryState()

    def all(self) -> list[Key]:
        """Every configured key (none without keys)."""
        return list(self._by_digest.values())

    @property
    def budgets(self) -> dict[str, float | None]:
        """Budget session -> dollars, for the gateway's budget manager."""
        return {k.session: k.budget for k in self._by_digest.values() if k.budget is not None}

    def authenticate(self, authorization: str | None) -> Key | None:
        """The key of an ``Authorization: Bearer <key>`` header; None when authentication is off."""
        if not self.enabled:
            return None
        if not authorization:
            raise AuthError("You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.", 401, "missing_api_key")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("The Authorization header must be 'Bearer YOUR_KEY'.", 401, "invalid_api_key")
        key = self._by_digest.get(hash_key(token.strip()))
        if key is None:
            raise AuthError("Incorrect API key provided.", 401, "invalid_api_key")
        return key

    def check_model(self, key: Key | None, virtual_model: str) -> None:
        if key is not None and not key.may_use(virtual_model):
            raise AuthError(f"Key {key.name!r} may not use model `{virtual_model}`.", 403, "model_not_allowed")

    async def admit(self, key: Key | None) -> float | None:
        """None if the request may go now, else the seconds until the key's window allows one."""
        if key is None or not key.limits:
            return None
        for item in key.limits:
            window = float(item.get_expiry())
            wait = await self.state.rate_hit(f"{key.name}:{item.amount}/{window:g}", int(item.amount), window)
            if wait is not None:
                return max(1.0, wait)
        return None
