"""Wide CSV / JSONL routing data: one row per prompt, one score column per model.

Columns (any number of models):

* ``prompt`` (name configurable) — the query text;
* ``<model>`` — that model's score: bool (``True``/``False``/``1``/``0``), a 0-1 value, or a graded
  score such as a 1-10 judge rating;
* optional ``<model>|cost`` (dollars), ``<model>|input_tokens``, ``<model>|output_tokens``,
  ``<model>|response`` (or RouteLLM's ``<model>_response``);
* optional ``<model>|latency_ms``; optional group column (``group``, ``subject`` or ``category``; or name
  it), ``id`` and ``reference`` columns (what `graphroute collect` writes);
* any other column of text (a task's ``metric``, notes) describes the rows: kept in
  ``meta["columns"]``, never read as a model.

A blank score is an outcome not recorded: the row is kept with NaN there (routers that learn from
partial labels use it; the others say so when fitted).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

import numpy as np

from graphroute.datasets.base import RoutingDataset
from graphroute.errors import DatasetError, UnknownModelError

ScoreType = Literal["auto", "bool", "unit", "graded"]
EXTRA_SUFFIXES = ("cost", "input_tokens", "output_tokens", "response", "latency_ms")
META_COLUMNS = {"id", "question_id", "idx", "index", "reference"}
GROUP_COLUMNS = ("group", "subject", "category")
_TRUE = {"true", "1", "1.0", "yes"}
_FALSE = {"false", "0", "0.0", "no"}

csv.field_size_limit(1 << 30)


def iter_jsonl(path: str | Path, *, objects: bool = True) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of each non-blank line of a JSONL file; a line that is not JSON (or,
    with ``objects``, not a JSON object) raises ``DatasetError`` naming the file and line."""
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"line {lineno} is not valid JSON: {exc.msg}", path=path, row=lineno) from None
            if objects and not isinstance(obj, dict):
                raise DatasetError(f"line {lineno} is not a JSON object", path=path, row=lineno)
            yield lineno, obj


def read_table(path: str | Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Read a CSV or JSONL file into (columns, rows); raises ``DatasetError`` on bad input."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError("file not found", path=path)
    if path.stat().st_size == 0:
        raise DatasetError("file is empty", path=path)
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = [obj for _, obj in iter_jsonl(path)]
        columns = list(dict.fromkeys(k for r in rows for k in r))
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    if not rows:
        raise DatasetError("file has no data rows", path=path)
    return columns, rows


def parse_scores(values: Sequence[Any], *, path: Any, column: str, score_type: ScoreType) -> tuple[np.ndarray, str]:
    """Parse one score column; returns (floats, detected type). Errors name file, column and row."""
    out = np.empty(len(values), dtype=np.float64)
    all_bool = True
    for i, v in enumerate(values):
        if isinstance(v, bool):
            out[i] = float(v)
            continue
        if v is None or (isinstance(v, str) and not v.strip()):
            out[i] = np.nan  # not recorded: a partial row (routers that learn from partial labels use it)
            continue
        if isinstance(v, str):
            s = v.strip().lower()
            if s in _TRUE or s in _FALSE:
                out[i] = 1.0 if s in _TRUE else 0.0
                continue
            try:
                f = float(s)
            except ValueError:
                kind = "boolean" if score_type == "bool" else "numeric or boolean"
                raise DatasetError(f"score {v!r} is not {kind}", path=path, column=column, row=i + 1) from None
        elif isinstance(v, (int, float)):
            f = float(v)
        else:
            raise DatasetError(f"score {v!r} is not numeric or boolean", path=path, column=column, row=i + 1)
        if not math.isfinite(f):
            raise DatasetError(f"score {v!r} is not finite", path=path, column=column, row=i + 1)
        out[i] = f
        all_bool = all_bool and f in (0.0, 1.0)
        if score_type == "bool" and f not in (0.0, 1.0):
            raise DatasetError(f"score {v!r} is not boolean", path=path, column=column, row=i + 1)
        if score_type == "unit" and not 0.0 <= f <= 1.0:
            raise DatasetError(f"score {v!r} is outside 0-1", path=path, column=column, row=i + 1)
    known = out[~np.isnan(out)]
    if not len(known):
        raise DatasetError("no recorded score at all", path=path, column=column)
    if score_type != "auto":
        return out, score_type
    if all_bool:
        return out, "bool"
    return out, "unit" if (known.min() >= 0.0 and known.max() <= 1.0) else "graded"


def _is_text_column(values: Sequence[Any]) -> bool:
    """Is a column text that describes rows (no value of it reads as a score)? A column where some
    values read as scores is a score column, and its bad values are errors naming their rows."""
    for v in values:
        if isinstance(v, (bool, int, float)):
            return False
        s = "" if v is None else str(v).strip().lower()
        if not s:
            continue
        if s in _TRUE or s in _FALSE:
            return False
        try:
            float(s)
            return False
        except ValueError:
            continue
    return any(isinstance(v, str) and v.strip() for v in values)


def _numbers(values: Iterable[Any], *, path: Any, column: str) -> np.ndarray:
    out = []
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and not v.strip()):
            out.append(np.nan)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise DatasetError(f"{v!r} is not a number", path=path, column=column, row=i + 1) from None
        if f < 0:
            raise DatasetError(f"{v!r} is negative", path=path, column=column, row=i + 1)
        out.append(f)
    return np.asarray(out, dtype=np.float64)


def _split_column(col: str) -> tuple[str, str | None]:
    """``'gpt-4|cost'`` -> ('gpt-4', 'cost'); ``'gpt-4_response'`` -> ('gpt-4', 'response')."""
    if "|" in col:
        model, _, kind = col.rpartition("|")
        if kind in EXTRA_SUFFIXES:
            return model, kind
    if col.endswith("_response"):
        return col[: -len("_response")], "response"
    return col, None


def table_to_dataset(
    columns: list[str],
    rows: list[dict[str, Any]],
    *,
    path: Any,
    name: str,
    prompt_column: str = "prompt",
    models: Sequence[str] | None = None,
    score_type: ScoreType = "auto",
    group_column: str | None = None,
    score_range: tuple[float, float] | None = None,
    weak: str | None = None,
    strong: str | None = None,
    groups: Sequence[Any] | None = None,
    correct_above: float | dict[str, float] | None = None,
) -> RoutingDataset:
    """Turn parsed rows of a wide table into a ``RoutingDataset`` (see module doc)."""
    if prompt_column not in columns:
        raise DatasetError(f"no prompt column {prompt_column!r}; columns are {columns}", path=path, column=prompt_column)
    if group_column is None:
        group_column = next((c for c in GROUP_COLUMNS if c in columns), None)
    elif group_column not in columns:
        raise DatasetError(f"no group column {group_column!r}; columns are {columns}", path=path, column=group_column)
    extras: dict[str, dict[str, str]] = {}
    candidates = []
    for colname in columns:
        if colname in (prompt_column, group_column) or colname.lower() in META_COLUMNS:
            continue
        model, kind = _split_column(colname)
        if kind is None:
            candidates.append(colname)
        else:
            extras.setdefault(model, {})[kind] = colname
    metadata: list[str] = []
    if models is None:  # a text column (a task's metric name, a reference answer) describes rows: metadata
        metadata = [c for c in candidates if c not in extras and _is_text_column([r.get(c) for r in rows])]
        models = [c for c in candidates if c not in metadata]
    else:
        for m in models:
            if m not in candidates:
                raise UnknownModelError(m, candidates, str(path))
    models = list(models)
    if not models:
        raise DatasetError(f"no model score columns besides {prompt_column!r}; columns are {columns}", path=path)
    for model in extras:
        if model not in models and model in candidates:
            continue
        if model not in models:
            raise DatasetError(
                f"column for model {model!r} but no score column {model!r}", path=path, column=next(iter(extras[model].values()))
            )

    prompts = []
    for i, r in enumerate(rows):
        p = r.get(prompt_column)
        if not isinstance(p, str) or not p.strip():
            raise DatasetError("prompt is empty or not text", path=path, column=prompt_column, row=i + 1)
        prompts.append(p)

    score_cols: list[np.ndarray] = []
    kinds: dict[str, str] = {}
    for m in models:
        col, kind = parse_scores([r.get(m) for r in rows], path=path, column=m, score_type=score_type)
        t = correct_above.get(m) if isinstance(correct_above, dict) else correct_above
        if t is not None:  # "a score above t counts as correct": 0/1 for this column
            col, kind = np.where(np.isnan(col), np.nan, (col > float(t)).astype(np.float64)), "bool"
        score_cols.append(col)
        kinds[m] = kind
    scores = np.stack(score_cols, axis=1)
    if score_range is None:
        score_range = (0.0, 1.0) if set(kinds.values()) <= {"bool", "unit"} else \
            (float(np.nanmin(scores)), float(np.nanmax(scores)))

    def per_model(kind: str) -> np.ndarray | None:
        if not any(kind in extras.get(m, {}) for m in models):
            return None
        cols = []
        for m in models:
            c = extras.get(m, {}).get(kind)
            cols.append(_numbers((r.get(c) for r in rows), path=path, column=c) if c else np.full(len(rows), np.nan))
        return np.stack(cols, axis=1)

    responses = None
    if any("response" in extras.get(m, {}) for m in models):
        responses = {m: [str(r.get(extras[m]["response"]) or "") for r in rows] for m in models if "response" in extras.get(m, {})}
    if groups is None and group_column is not None:
        groups = [str(r.get(group_column) or "") for r in rows]
    return RoutingDataset(
        name=name,
        prompts=prompts,
        models=models,
        scores=scores,
        costs=per_model("cost"),
        input_tokens=per_model("input_tokens"),
        output_tokens=per_model("output_tokens"),
        responses=responses,
        groups=None if groups is None else np.asarray(groups, dtype=object),
        score_range=score_range,
        source=str(path),
        meta={"score_types": sorted(set(kinds.values())), "score_type_of": kinds,
              "missing": int(np.isnan(scores).sum()),
              **({"columns": {c: [r.get(c) for r in rows] for c in metadata}} if metadata else {})},
        weak_model=weak,
        strong_model=strong,
    )


def load_wide(
    path: str | Path,
    *,
    prompt_column: str = "prompt",
    models: Sequence[str] | None = None,
    score_type: ScoreType = "auto",
    group_column: str | None = None,
    score_range: tuple[float, float] | None = None,
    weak: str | None = None,
    strong: str | None = None,
    name: str | None = None,
    correct_above: float | dict[str, float] | None = None,
) -> RoutingDataset:
    """Load a wide CSV or JSONL file (see the module docstring for its columns). ``correct_above``
    turns scores into right/wrong: a score above it (one value, or one per model) counts as 1.

    Examples:
        >>> import tempfile, pathlib
        >>> from graphroute.datasets import load_wide
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "runs.csv"
        >>> _ = p.write_text("prompt,small,big,big|cost\\nhi,True,True,0.01\\nhard,False,True,0.02\\n")
        >>> d = load_wide(p)
        >>> d.models, d.accuracy("small"), d.costs[:, 1].tolist()
        (['small', 'big'], 0.5, [0.01, 0.02])
    """
    columns, rows = read_table(path)
    return table_to_dataset(
        columns,
        rows,
        path=path,
        name=name or Path(path).stem,
        prompt_column=prompt_column,
        models=models,
        score_type=score_type,
        group_column=group_column,
        score_range=score_range,
        weak=weak,
        strong=strong,
        correct_above=correct_above,
    )
