"""Typed errors raised by graphroute: the whole hierarchy, in one module.

Every error a user can act on is a subclass of ``GraphRouteError`` and names
the file, field, column or row that is wrong, so that the message alone says what
to fix. An outage (``ServiceUnavailableError``, ``StateUnavailableError``) is
never a budget refusal (``BudgetExceededError``): one says "try later", the other "no money".
The modules that raise them re-export them under their old names.

Examples:
    >>> from graphroute.errors import BudgetExceededError, GraphRouteError, StateUnavailableError
    >>> issubclass(StateUnavailableError, GraphRouteError), issubclass(StateUnavailableError, BudgetExceededError)
    (True, False)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphroute.redaction import redact

__all__ = [
    "APIError", "AllocatorError", "AuthError", "BudgetExceededError", "CascadeError", "ConfigError", "DatasetError",
    "EncoderError", "FeedbackError", "MissingExtraError", "GraphRouteError", "GraphRouteWarning", "GraphRunError", "NoModelAvailableError",
    "NotFittedError", "PersistenceError", "PromptError", "ProviderError", "ReplayMissError", "ServiceUnavailableError",
    "StateUnavailableError", "UnknownModelError", "UnknownNameError", "UnknownRouterError", "UnknownVirtualModelError",
    "UpstreamStatusError",
]


class GraphRouteError(Exception):
    """Base class of every error graphroute raises on purpose."""


class DatasetError(GraphRouteError, ValueError):
    """A routing dataset could not be read or is malformed.

    Attributes name where the problem is: ``path`` (file), ``column`` and ``row``
    (1-based data row, the header not counted; ``None`` when not row-specific).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.column = column
        self.row = row
        where = []
        if self.path:
            where.append(self.path)
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnknownModelError(GraphRouteError, KeyError):
    """A model name is not among the models a dataset, router or config knows."""

    def __init__(self, model: str, known: list[str] | tuple[str, ...], where: str = "") -> None:
        self.model = model
        self.known = list(known)
        place = f" in {where}" if where else ""
        super().__init__(f"unknown model {model!r}{place}; known models: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class UnknownNameError(GraphRouteError, KeyError):
    """A name is not registered (a router, scorer, strategy, encoder backend or policy)."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, list(known)
        super().__init__(f"unknown {kind} {name!r}; registered: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class UnknownRouterError(UnknownNameError):
    """A router name is not registered."""


class ConfigError(GraphRouteError, ValueError):
    """A configuration file (prices, routers, graphs) is malformed; names file and field."""

    def __init__(self, message: str, *, path: str | Path | None = None, field: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.field = field
        where = ", ".join(x for x in (self.path, f"field {field!r}" if field else None) if x)
        super().__init__(f"{where}: {message}" if where else message)


class PromptError(GraphRouteError, ValueError):
    """A prompt given to a router is empty, too long or not a string."""


class NotFittedError(GraphRouteError, RuntimeError):
    """A router was used before ``fit`` (or ``load``)."""


class PersistenceError(GraphRouteError, OSError):
    """A saved router or cache directory is missing, corrupt, or was made by another encoder/version."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


class EncoderError(GraphRouteError, RuntimeError):
    """An encoder could not be loaded or returned vectors of the wrong shape."""


class CascadeError(GraphRouteError, ValueError):
    """A cascade or scorer is misconfigured or used where it cannot work (names stage and field)."""


class ServiceUnavailableError(GraphRouteError, ConnectionError):
    """A service graphroute needs (PostgreSQL, Redis) cannot be reached; ``host`` names it."""

    def __init__(self, message: str, host: str = "") -> None:
        self.host = host
        super().__init__(f"{host + ': ' if host else ''}{message}")


class FeedbackError(GraphRouteError, ValueError):
    """Feedback that is not recorded: ``code`` says why (``request_not_found``: unknown, expired or
    another key's request; ``invalid_score`` / ``unknown_metric``: ``param`` names the field;
    ``feedback_already_recorded``: a request takes one score per metric)."""

    def __init__(self, message: str, code: str, param: str | None = None) -> None:
        self.code, self.param = code, param
        super().__init__(message)


class StateUnavailableError(ServiceUnavailableError):
    """The shared state (Redis) cannot be reached or lost its data, and the outage policy is
    ``fail_closed``: budgeted calls are refused rather than risk overspending (the server answers 503
    with ``retry-after``); ``host`` names it."""


class ProviderError(GraphRouteError, RuntimeError):
    """A model call failed. ``kind``: timeout, rate_limit, server, malformed, context_length, auth,
    other. ``retryable``: worth retrying on the same model. Messages are redacted of secrets."""

    kinds = ("timeout", "rate_limit", "server", "malformed", "context_length", "auth", "other")

    def __init__(self, kind: str, message: str, model: str = "", retry_after: float | None = None) -> None:
        self.kind, self.model, self.retry_after = kind, model, retry_after
        super().__init__(redact(f"{model + ': ' if model else ''}{kind}: {message}"))

    @property
    def retryable(self) -> bool:
        return self.kind in ("timeout", "rate_limit", "server", "malformed")


class BudgetExceededError(GraphRouteError, RuntimeError):
    """A call would exceed a request, session or global budget; nothing was called."""


class NoModelAvailableError(GraphRouteError, RuntimeError):
    """Every candidate failed, was refused (privacy, budget) or has its circuit open."""


class GraphRunError(GraphRouteError, RuntimeError):
    """A graph run cannot continue (e.g. a conditional edge's value is not in its map)."""


class AllocatorError(ConfigError):
    """No plan fits (budget too small for every mode) or the allocator is misused."""


class ReplayMissError(GraphRouteError, KeyError):
    """A replay model was asked a prompt its dataset does not contain."""

    def __str__(self) -> str:
        return str(self.args[0])


class UpstreamStatusError(GraphRouteError):
    """An upstream answered with an HTTP error. ``client_fault``: the request itself is at fault
    (400/404/413/422): relayed to the client as it is, never retried, not the provider's failure."""

    def __init__(self, status_code: int, body: Any, retry_after: float | None = None) -> None:
        self.status_code, self.body, self.retry_after = int(status_code), body, retry_after
        self.client_fault = self.status_code in (400, 404, 413, 422)
        err = body.get("error") if isinstance(body, dict) else None
        message = err.get("message") if isinstance(err, dict) else (err if isinstance(err, str) else str(body)[:200])
        super().__init__(f"HTTP {self.status_code}: {message}")


class AuthError(GraphRouteError, PermissionError):
    """A request without a valid key (401) or for a model its key may not use (403)."""

    def __init__(self, message: str, status: int, code: str) -> None:
        self.status, self.code = status, code
        super().__init__(message)


class UnknownVirtualModelError(GraphRouteError, LookupError):
    """The requested model is neither a model id, an alias, ``router-...`` nor ``graph:...``."""


class APIError(GraphRouteError):
    """An HTTP error in OpenAI's format (``error.message``, ``type``, ``param``, ``code``); the server
    answers it with ``graphroute.serve.api_errors.error_response``."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.status, self.message, self.type, self.code, self.param, self.headers = status, message, type, code, param, headers
        super().__init__(message)


class MissingExtraError(GraphRouteError, ImportError):
    """A feature whose packages are an optional extra that is not installed; the message names the
    ``pip install 'graphroute[<extra>]'`` to run."""

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        self.feature, self.extra, self.missing = feature, extra, missing
        super().__init__(f"{feature} needs the '{extra}' extra ({missing} is not installed): "
                         f"pip install 'graphroute[{extra}]'", name=missing)


class GraphRouteWarning(UserWarning):
    """Something graphroute did that works but is probably not what you meant (e.g. prompts the
    encoder cannot tell apart)."""
