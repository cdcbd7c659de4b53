"""One name -> object mechanism, used for routers, scorers, strategies, encoders and policies.

A *spec* names a registered entry and, optionally, its parameters:

* ``"knn"`` or ``"knn:k=400,temperature=0.2"`` (command line; values read as YAML scalars, so
  ``400`` is an int, ``0.2`` a float, ``true``/``null`` a bool/None, anything else a string);
* ``{"name": "knn", "k": 400}`` (YAML; the key is ``name`` or, for scorers and strategies, ``type``);
* ``("knn", {"k": 400})``, or an object that is already built (returned as it is).

Unknown names and unknown parameters raise typed errors that list what is known, before any
work starts. A registry entry is a factory (usually the class) plus default parameters, so one
class can stand behind several names (``logistic`` and ``ridge`` are both ``HeadRouter``).

Examples:
    >>> from graphroute.registry import Registry
    >>> shapes = Registry("shape")
    >>> @shapes.register("square", side=1.0)
    ... class Square:
    ...     def __init__(self, side: float = 1.0, label: str = ""):
    ...         self.side, self.label = side, label
    >>> shapes.make("square:side=2.5,label=big").side
    2.5
    >>> shapes.split("square,square:side=2,label=x,square")
    ['square', 'square:side=2,label=x', 'square']
"""

from __future__ import annotations

import inspect
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import yaml

from graphroute.errors import ConfigError, UnknownNameError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_PARAM = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=")


@dataclass(frozen=True)
class Entry:
    """A registered name: its factory, the parameters the name sets, and a one-line summary."""

    name: str
    factory: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def parameters(self) -> list[str] | None:
        """The factory's keyword parameters (None when it takes ``**kwargs``)."""
        try:
            sig = inspect.signature(self.factory)
        except (TypeError, ValueError):
            return None
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
            return None
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [p.name for p in sig.parameters.values() if p.kind in kinds and p.name != "self"]

    def required(self) -> list[str]:
        """Parameters without a default (none are known for a factory without a signature)."""
        try:
            sig = inspect.signature(self.factory)
        except (TypeError, ValueError):
            return []
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return [p.name for p in sig.parameters.values()
                if p.kind in kinds and p.name != "self" and p.default is inspect.Parameter.empty]


def parse_value(text: str) -> Any:
    """A spec value as YAML reads a scalar (``"0.2"`` -> 0.2, ``"true"`` -> True, ``"a+b"`` -> "a+b")."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, (dict, list)) else value


class Registry:
    """Names -> factories for one kind of object (see the module docstring).

    A mapping spec names its entry with ``name``, in every registry; ``legacy`` lists the keys older
    files used instead (``type``, ``kind``), still read, with a ``DeprecationWarning``.
    ``error``: the exception raised for an unknown name (a subclass of ``UnknownNameError``).
    """

    key = "name"

    def __init__(self, kind: str, *, legacy: tuple[str, ...] = (),
                 error: type[UnknownNameError] = UnknownNameError) -> None:
        self.kind, self.legacy, self.error = kind, legacy, error
        self._entries: dict[str, Entry] = {}
        self._prefixes: list[tuple[str, str, Callable[[str], dict[str, Any]], str]] = []

    # ------------------------------------------------------------------ registering
    def add(self, name: str, factory: Callable[..., Any], summary: str = "", **defaults: Any) -> Callable[..., Any]:
        """Register ``factory`` under ``name`` with default parameters; returns the factory."""
        if not _NAME.match(name):
            raise ValueError(f"{self.kind} name {name!r} must be letters, digits, '_', '.', '+' or '-'")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, factory, dict(defaults), summary or _first_line(factory))
        return factory

    def register(self, name: str, summary: str = "", **defaults: Any) -> Callable[[Any], Any]:
        """Decorator form of ``add``."""
        def deco(factory: Any) -> Any:
            self.add(name, factory, summary, **defaults)
            return factory

        return deco

    def shorthand(self, prefix: str, target: str, parse: Callable[[str], dict[str, Any]], shown: str = "") -> None:
        """Names ``<prefix><rest>`` mean entry ``target`` with the parameters ``parse(rest)``
        (``always-gpt-4o`` -> ``always`` with ``model="gpt-4o"``); ``shown`` is how error messages list it."""
        self._prefixes.append((prefix, target, parse, shown or f"{prefix}<...>"))

    # ------------------------------------------------------------------ reading
    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or self._shorthand(name) is not None)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def entry(self, name: str) -> Entry:
        if name in self._entries:
            return self._entries[name]
        short = self._shorthand(name)
        if short is None:
            known = self.names() + [shown for *_, shown in self._prefixes]
            raise self.error(self.kind, name, known)
        return short[0]

    def _shorthand(self, name: str) -> tuple[Entry, dict[str, Any]] | None:
        for prefix, target, parse, _ in self._prefixes:
            if name.startswith(prefix) and len(name) > len(prefix) and target in self._entries:
                return self._entries[target], parse(name[len(prefix):])
        return None

    def parse(self, spec: Any) -> tuple[str, dict[str, Any]]:
        """``(name, params)`` of a spec string, mapping or ``(name, params)`` pair."""
        if isinstance(spec, str):
            name, _, rest = spec.strip().partition(":")
            params: dict[str, Any] = {}
            for part in (p for p in rest.split(",") if p.strip()) if rest else ():
                key, eq, value = part.partition("=")
                if not eq or not key.strip().isidentifier():
                    raise ConfigError(f"{self.kind} spec {spec!r}: expected key=value, got {part.strip()!r}",
                                      field=self.kind)
                params[key.strip()] = parse_value(value.strip())
            name = name.strip()
        elif isinstance(spec, dict):
            spec = self.canonical(spec)
            params = {k: v for k, v in spec.items() if k != self.key}
            params = {**params.pop("params", {}), **params} if isinstance(params.get("params"), dict) else params
            name = str(spec[self.key])
        elif isinstance(spec, (tuple, list)) and len(spec) in (1, 2) and isinstance(spec[0], str):
            name, params = spec[0], dict(spec[1]) if len(spec) == 2 else {}
        else:
            raise ConfigError(f"a {self.kind} spec is a name, 'name:key=value,...', or a mapping; got {spec!r}",
                              field=self.kind)
        self.entry(name)  # unknown names fail here
        return name, params

    def canonical(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A mapping spec with its entry under ``name``: a legacy key (``type``/``kind``) is moved
        there with a ``DeprecationWarning``; neither raises ``ConfigError``."""
        if self.key in spec:
            return spec
        old = next((k for k in self.legacy if k in spec), None)
        if old is None:
            raise ConfigError(f"a {self.kind} mapping needs {self.key!r}, got {sorted(spec)}", field=self.key)
        warnings.warn(f"a {self.kind} named with {old!r} ({old}: {spec[old]}) is deprecated: write name: {spec[old]}",
                      DeprecationWarning, stacklevel=3)
        return {self.key: spec[old], **{k: v for k, v in spec.items() if k != old}}

    def make(self, spec: Any, **overrides: Any) -> Any:
        """A new object for ``spec`` (an object that is not a spec is returned unchanged)."""
        if not isinstance(spec, (str, dict, tuple, list)):
            return spec
        name, params = self.parse(spec)
        entry = self.entry(name)
        short = self._shorthand(name) if name not in self._entries else None
        kwargs = {**entry.defaults, **(short[1] if short else {}), **params, **overrides}
        allowed = entry.parameters()
        if allowed is not None:
            bad = [k for k in kwargs if k not in allowed]
            if bad:
                raise ConfigError(f"{self.kind} {name!r} has no parameter {bad[0]!r}; its parameters: "
                                  f"{', '.join(allowed) or 'none'}", field=bad[0])
        missing = [k for k in entry.required() if k not in kwargs]
        if missing:
            raise ConfigError(f"{self.kind} {name!r} needs {missing[0]!r}", field=missing[0])
        try:
            return entry.factory(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"{self.kind} {name!r}: {exc}", field=self.kind) from None

    def name_of(self, obj: Any) -> str:
        """The first name registered for ``obj``'s class (its class name, lower-cased, when none is)."""
        return next((e.name for e in self._entries.values() if e.factory is type(obj)), type(obj).__name__.lower())

    def split(self, text: str) -> list[str]:
        """A comma-separated list of specs: ``"random,knn:k=400,temperature=0.2,oracle"`` -> 3 specs
        (a part of the form ``key=value`` continues the spec before it). Every name is checked."""
        specs: list[str] = []
        for part in text.split(","):
            if not part.strip():
                continue
            if _PARAM.match(part) and specs and ":" in specs[-1]:
                specs[-1] += "," + part.strip()
            else:
                specs.append(part.strip())
        if not specs:
            raise self.error(self.kind, text, self.names())
        for s in specs:
            self.parse(s)
        return specs


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
