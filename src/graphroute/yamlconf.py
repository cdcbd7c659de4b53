"""Load YAML into pydantic models with errors that name the file, line, column and field path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from graphroute.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
MAX_BYTES_ENV = "GRAPHROUTE_MAX_YAML_BYTES"
DEFAULT_MAX_BYTES = 5_000_000


def _node_at(node: Any, loc: tuple) -> Any:
    """The YAML node at a pydantic error location (as deep as the location exists)."""
    import yaml

    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == str(key)), None)
            if nxt is None:  # a union member's tag (e.g. "llm") is in the location, not in the file
                continue
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
    return node


def max_yaml_bytes() -> int:
    """The largest configuration file read: ``$GRAPHROUTE_MAX_YAML_BYTES``, default 5 MB (a
    graph, serve or models file is a few kB; a 50 MB file took 82 s and 1.16 GB to refuse)."""
    try:
        return int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES))
    except ValueError:
        raise ConfigError(f"{MAX_BYTES_ENV} must be a number of bytes, got {os.environ[MAX_BYTES_ENV]!r}") from None


def read_yaml(path: str | Path) -> tuple[Any, Any]:
    """``(node tree, data)`` of a YAML file; missing, empty, oversized (checked before it is read,
    ``max_yaml_bytes``) or unparsable files raise ConfigError."""
    import yaml

    path = Path(path)
    try:
        size, limit = path.stat().st_size, max_yaml_bytes()
        if size > limit:
            raise ConfigError(f"{size:,} bytes: a configuration file is at most {limit:,} bytes (set "
                              f"{MAX_BYTES_ENV} to read larger ones)", path=path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read: {exc}", path=path) from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}", path=None) from None
    if data is None:
        raise ConfigError("file is empty", path=path)
    return root, data


def located(path: str | Path, root: Any, issues: list[tuple[tuple, str]]) -> ConfigError:
    """One ConfigError listing ``file:line:column: field.path: message`` for each (location, message)."""
    lines = []
    for loc, msg in issues:
        node = _node_at(root, tuple(loc))
        mark = node.start_mark if node is not None else None
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        lines.append(f"{where}: {'.'.join(str(x) for x in loc) or '(top level)'}: {msg}")
    error = ConfigError("\n".join(lines), path=None, field=None)
    error.path, error.field = str(path), ".".join(str(x) for x in issues[0][0]) if issues else None
    error.issues = [(".".join(str(x) for x in loc), msg) for loc, msg in issues]  # type: ignore[attr-defined]
    return error


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """Parse ``path`` and validate it as ``model``; every problem raises ``ConfigError``.

    The message lists each invalid field as ``file:line:column: field.path: message``.
    """
    return load_checked(path, model, lambda obj: [])


def load_checked(path: str | Path, model: type[M], check: Any) -> M:
    """``load_yaml_model``, then ``check(obj)``'s cross-reference problems, all raised as one
    located ``ConfigError``."""
    path = Path(path)
    root, data = read_yaml(path)
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        raise located(path, root, [(tuple(e["loc"]), e["msg"]) for e in exc.errors()]) from None
    issues = check(obj)
    if issues:
        raise located(path, root, issues)
    return obj
