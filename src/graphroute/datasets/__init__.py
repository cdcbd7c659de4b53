"""Routing datasets: recorded per-model outcomes in one typed form.

``load_dataset`` takes a built-in name (``routellm-mmlu``, ``routellm-gsm8k``: GPT-4 vs Mixtral;
``llmrouter-9``, ``llmrouter-9-test``: 9 models on 14 tasks), a directory in RouteLLM's layout, an
MT-Bench judgements JSONL, or a wide CSV/JSONL file.

Examples:
    >>> from graphroute.datasets import load_dataset
    >>> d = load_dataset("routellm-mmlu")
    >>> len(d), d.weak, d.strong
    (12323, 'mistralai/Mixtral-8x7B-Instruct-v0.1', 'gpt-4-1106-preview')
"""

from __future__ import annotations

import csv
import inspect
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from graphroute.datasets.base import RoutingDataset
from graphroute.datasets.llmrouter import SPLITS as LLMROUTER_SPLITS, load_llmrouter
from graphroute.datasets.logged import from_logs, load_logged, looks_logged, write_logged
from graphroute.datasets.routellm import load_mtbench, load_routellm
from graphroute.datasets.wide import load_wide
from graphroute.errors import DatasetError

__all__ = [
    "from_logs",
    "load_logged",
    "write_logged",
    "RoutingDataset",
    "BUILTINS",
    "builtin_path",
    "load_dataset",
    "load_mtbench",
    "load_routellm",
    "load_wide",
]

#: Built-in datasets: name -> (folder under builtin/, benchmark or split).
BUILTINS: dict[str, tuple[str, str]] = {
    "routellm-mmlu": ("routellm", "mmlu"),
    "routellm-gsm8k": ("routellm", "gsm8k"),
    **{name: ("llmrouter", split) for name, split in LLMROUTER_SPLITS.items()},
}


def builtin_path(folder: str = "") -> Path:
    """Filesystem path of the data shipped inside the package."""
    return Path(str(files("graphroute.datasets") / "builtin")) / folder


def _looks_like_judgements(path: Path) -> bool:
    with path.open(encoding="utf-8") as fh:
        first = fh.readline()
    return all(f'"{k}"' in first for k in ("question_id", "model", "score", "judge"))


def load_dataset(spec: str | Path, **kwargs: Any) -> RoutingDataset:
    """Load a dataset from a built-in name or a path (directory, JSONL or CSV).

    Args:
        spec: a built-in name (``routellm-mmlu``, ``routellm-gsm8k``, ``llmrouter-9``,
            ``llmrouter-9-test``), a folder in RouteLLM's layout, MT-Bench judgements (JSONL) or a
            wide CSV/JSONL (a prompt column and one score column per model).
        **kwargs: options of the matching loader (``load_routellm``, ``load_mtbench`` or
            ``load_wide``), e.g. ``prompt_column=``, ``models=``, ``score_type=``, ``weak=``; options
            left at None are not passed on.

    Returns:
        The ``RoutingDataset``: prompts, one score column per model, and costs or responses when recorded.

    Raises:
        DatasetError: the file or a value in it is bad (naming file, row and column), or an option
            the matching loader does not take.
    """
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    key = str(spec)
    if key in BUILTINS:
        folder, bench = BUILTINS[key]
        if folder == "llmrouter":
            if kwargs:
                raise DatasetError(f"{', '.join(sorted(kwargs))} does not apply to the built-in {key}")
            return load_llmrouter(builtin_path(folder), key)
        return _call(load_routellm, builtin_path(folder), kwargs, bench, name=key)
    path = Path(key).expanduser()
    if not path.exists():
        raise DatasetError(f"no such file or directory (built-in datasets: {', '.join(BUILTINS)})", path=path)
    if path.is_dir():
        return _call(load_routellm, path, kwargs)
    if path.suffix.lower() in (".jsonl", ".ndjson") and path.stat().st_size and _looks_like_judgements(path):
        return _call(load_mtbench, path, kwargs)
    if path.stat().st_size and looks_logged(_header(path)):
        return _call(load_logged, path, kwargs)
    return _call(load_wide, path, kwargs)


def _header(path: Path) -> list[str]:
    """Column names of a CSV file (its first line) or a JSONL file (its first object's keys)."""
    with path.open(encoding="utf-8", newline="") as fh:
        first = fh.readline()
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            return []
        return list(obj) if isinstance(obj, dict) else []
    return next(csv.reader([first]), [])


def _call(loader, path: Path, kwargs: dict[str, Any], *args: Any, **fixed: Any) -> RoutingDataset:
    """``loader(path, ...)`` after checking that it takes every option given."""
    allowed = set(inspect.signature(loader).parameters)
    bad = sorted(set(kwargs) - allowed)
    if bad:
        kind = {"load_routellm": "a RouteLLM folder", "load_mtbench": "MT-Bench judgements",
                "load_wide": "a wide CSV/JSONL file", "load_logged": "a logged feedback table"}.get(loader.__name__, loader.__name__)
        raise DatasetError(f"{', '.join(bad)} does not apply to {kind}", path=path)
    return loader(path, *args, **{**kwargs, **fixed})
