"""Typed errors raised by graphroute.

Every error a user can act on is a subclass of :class:`GraphRouteError` and names
the file, field, column or row that is wrong, so that the message alone says what
to fix.
"""

from __future__ import annotations

from pathlib import Path


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


class GraphRouteWarning(UserWarning):
    """Something graphroute did that works but is probably not what you meant (e.g. prompts the
    encoder cannot tell apart)."""
