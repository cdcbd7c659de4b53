"""``collect``: run every candidate model on every prompt, grade the answers, write a routing dataset.

Calls go through one ``Gateway`` per model (retries with backoff, a
circuit breaker, a timeout) sharing one ``BudgetManager``: each
call reserves its worst-case cost first, so the budget stops the collection *before* it is
exceeded. Every answer (and every judge verdict) is appended to a JSONL cache as soon as it
arrives, keyed by the model's configuration and the prompt: a rerun — after a crash, a budget stop
or with more prompts — makes no call twice. The output is the wide table ``load_dataset`` reads
(``<model>`` score, ``|response``, ``|input_tokens``, ``|output_tokens``, ``|cost``,
``|latency_ms``), written atomically with complete rows only.

Examples:
    >>> import asyncio, tempfile
    >>> from pathlib import Path
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.collect import collect
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "p.jsonl").write_text('{"prompt": "2+2?", "reference": "4"}\\n')
    >>> from graphroute.datasets import load_dataset
    >>> res = collect({"a": FakeListChatModel(responses=["4"]), "b": FakeListChatModel(responses=["5"])},
    ...               d / "p.jsonl", "numeric", d / "out.csv", progress=False)
    >>> res.rows, res.calls, load_dataset(d / "out.csv").scores.tolist()
    (1, 2, [[1.0, 0.0]])
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from graphroute.collect.graders import GRADERS, Grader
from graphroute.collect.judges import ModelGrader
from graphroute.collect.progress import Progress
from graphroute.costs import CostModel
from graphroute.datasets.wide import read_table
from graphroute.errors import DatasetError, UnknownModelError
from graphroute.prompts import check_prompts
from graphroute.runtime.budgets import BudgetManager
from graphroute.runtime.failures import BudgetExceededError, NoModelAvailableError
from graphroute.runtime.gateway import Gateway
from graphroute.runtime.loop import run_sync
from graphroute.strategies import RoundRobinRouter


@dataclass
class Collection:
    """What a collection did: rows written, calls made and answered from the cache, money spent."""

    path: Path
    rows: int
    calls: int
    cached: int
    cost: float
    stopped: str | None = None  # "budget" when the budget stopped it
    ungraded: int = 0  # prompts dropped: a judge verdict could not be read
    failed: dict[str, int] = field(default_factory=dict)  # model -> prompts it never answered


def make_grader(spec: Any) -> Grader:
    """A grader from a spec: ``exact``, ``numeric:tolerance=0.01``, ``regex:pattern=yes``, ``judge:<model>``,
    ``pairwise:<model>`` (``judge:model=<m>`` works too)."""
    if isinstance(spec, str):
        kind, _, rest = spec.partition(":")
        if kind in ("judge", "pairwise") and rest and "=" not in rest.split(",")[0]:
            first, _, more = rest.partition(",")
            spec = f"{kind}:model={first}" + (f",{more}" if more else "")
    return GRADERS.make(spec)


class _Cache:
    """Append-only JSONL of finished calls; a torn last line (a crash mid-write) is ignored."""

    def __init__(self, path: Path) -> None:
        self.path, self.entries = path, {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    obj = json.loads(line)
                    self.entries[obj["key"]] = obj
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")

    def put(self, obj: dict[str, Any]) -> None:
        self.entries[obj["key"]] = obj
        self._fh.write(json.dumps(obj) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def _identity(model: Any) -> str:
    """What makes two calls the same call: the chat model's class and configuration (never its key)."""
    params = {k: v for k, v in getattr(model, "_identifying_params", {}).items() if "key" not in k.lower()}
    for attr in ("openai_api_base", "extra_body", "max_tokens", "temperature"):  # endpoint and output bound
        if getattr(model, attr, None) is not None:
            params[attr] = getattr(model, attr)
    return f"{type(model).__name__}:{json.dumps(params, sort_keys=True, default=str)}"


def read_prompts(path: str | Path, prompt_column: str, reference_column: str | None, id_column: str) -> list[dict]:
    """Rows with a non-empty prompt (and reference, when required); errors name file, column and row."""
    columns, rows = read_table(path)
    if prompt_column not in columns:
        raise DatasetError(f"no prompt column {prompt_column!r}; columns are {columns}", path=path, column=prompt_column)
    if reference_column is not None and reference_column not in columns:
        raise DatasetError(f"no reference column {reference_column!r} (the grader needs one); columns are {columns}",
                           path=path, column=reference_column)
    out = []
    for i, r in enumerate(rows, 1):
        try:
            check_prompts([r.get(prompt_column)])  # type: ignore[list-item]  # checked: not text raises
        except Exception as exc:
            raise DatasetError(str(exc), path=path, column=prompt_column, row=i) from None
        if reference_column is not None and str(r.get(reference_column) or "").strip() == "":
            raise DatasetError("missing reference", path=path, column=reference_column, row=i)
        out.append({"id": r.get(id_column, i - 1), "prompt": r[prompt_column],
                    "reference": r.get(reference_column) if reference_column else r.get("reference")})
    return out


def collect(models: dict[str, Any], prompts: str | Path | Sequence[dict], grader: Any, out: str | Path, *,
            judges: dict[str, Any] | None = None, prompt_column: str = "prompt", reference_column: str = "reference",
            id_column: str = "id", concurrency: int = 4, budget: float | None = None,
            cost_model: CostModel | None = None, cache: str | Path | None = None, retries: int = 2,
            timeout_s: float = 120.0, max_output_tokens: int = 1024, progress: bool = True) -> Collection:
    """Run ``models`` (id -> chat model) on ``prompts`` (a CSV/JSONL file or rows), grade, write ``out``.

    ``judges``: id -> chat model for ``judge:``/``pairwise:`` graders (default: ``models``).
    ``cache``: the JSONL call cache (default ``<out>.calls.jsonl``); ``max_output_tokens``: the
    bound each call's worst-case cost is reserved for. See the module doc.
    """
    grader = make_grader(grader)
    judges = dict(models if judges is None else judges)
    if isinstance(grader, ModelGrader) and grader.model not in judges:
        raise UnknownModelError(grader.model, list(judges), "judges")
    if not models:
        raise UnknownModelError("(none)", [], "models")
    ref_col = reference_column if grader.needs_reference else None
    if isinstance(prompts, (str, Path)):
        rows = read_prompts(prompts, prompt_column, ref_col, id_column)
    else:
        rows = [{"id": r.get(id_column, i), "prompt": check_prompts([r[prompt_column]])[0],
                 "reference": r.get(reference_column)} for i, r in enumerate(prompts)]
    out = Path(out)
    store = _Cache(Path(cache) if cache is not None else out.with_name(out.name + ".calls.jsonl"))
    try:
        return run_sync(_collect(models, judges, rows, grader, out, store, concurrency=concurrency, budget=budget,
                                    cost_model=cost_model or CostModel.default(), retries=retries,
                                    timeout_s=timeout_s, max_output_tokens=max_output_tokens, progress=progress))
    finally:
        store.close()


async def _collect(models, judges, rows, grader, out, store, *, concurrency, budget, cost_model, retries, timeout_s,
                   max_output_tokens, progress) -> Collection:
    budgets = BudgetManager(global_limit=budget)
    every = {**judges, **models}
    gateways = {m: Gateway({m: every[m]}, RoundRobinRouter([m]), cost_model=cost_model, budgets=budgets,
                           retries=retries, timeout_s=timeout_s, max_output_tokens=max_output_tokens) for m in every}
    ids = {m: _identity(every[m]) for m in every}
    sem = asyncio.Semaphore(max(1, concurrency))
    stats: dict[str, Any] = {"calls": 0, "cached": 0, "cost": 0.0, "stopped": None}

    async def call(model: str, prompt: str) -> dict[str, Any]:
        key = hashlib.sha256(f"{model}\n{ids[model]}\n{prompt}".encode()).hexdigest()
        if key in store.entries:
            stats["cached"] += 1
            return store.entries[key]
        if stats["stopped"]:
            raise BudgetExceededError("budget reached")
        async with sem:
            try:
                r = await gateways[model].ainvoke(prompt)
            except BudgetExceededError:
                stats["stopped"] = "budget"
                raise
        ok = [a for a in r.attempts if a.error is None][-1]
        entry = {"key": key, "model": model, "text": r.text, "cost": r.cost, "latency_ms": ok.latency_ms,
                 "input_tokens": ok.input_tokens, "output_tokens": ok.output_tokens}
        store.put(entry)
        stats["calls"] += 1
        stats["cost"] += r.cost
        bar.spent(stats["cost"])
        return entry

    async def judge_call(model: str, prompt: str) -> str:
        return (await call(model, prompt))["text"]

    async def one(row: dict) -> dict | str:
        try:
            return await graded(row)
        finally:
            bar.advance()

    async def graded(row: dict) -> dict | str:
        results = await asyncio.gather(*(call(m, row["prompt"]) for m in models), return_exceptions=True)
        answers = {}
        for m, res in zip(models, results):
            if isinstance(res, BudgetExceededError):
                return "budget"
            if isinstance(res, BaseException):
                if not isinstance(res, NoModelAvailableError):
                    raise res
                return f"failed:{m}"
            answers[m] = res
        try:
            scores = await grader.grade_all(row["prompt"], {m: a["text"] for m, a in answers.items()}, row["reference"],
                                            judge_call)
        except BudgetExceededError:
            return "budget"
        except NoModelAvailableError:
            return "ungraded"
        return {"row": row, "answers": answers, "scores": scores} if scores is not None else "ungraded"

    with Progress(len(rows), enabled=progress) as bar:
        done = await asyncio.gather(*(one(r) for r in rows))
    failed: dict[str, int] = {}
    for d in done:
        if isinstance(d, str) and d.startswith("failed:"):
            failed[d[7:]] = failed.get(d[7:], 0) + 1
    complete = [d for d in done if isinstance(d, dict)]
    write_wide(out, list(models), complete)
    return Collection(out, len(complete), stats["calls"], stats["cached"], stats["cost"], stats["stopped"],
                      sum(d == "ungraded" for d in done), failed)


def write_wide(out: Path, models: list[str], complete: list[dict]) -> None:
    """The wide CSV, written to a temporary file and renamed (never a half-written table)."""
    cols = ["id", "prompt", "reference"]
    for m in models:
        cols += [m, f"{m}|response", f"{m}|input_tokens", f"{m}|output_tokens", f"{m}|cost", f"{m}|latency_ms"]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for d in complete:
                line = [d["row"]["id"], d["row"]["prompt"], d["row"]["reference"] if d["row"]["reference"] is not None else ""]
                for m in models:
                    a = d["answers"][m]
                    line += [d["scores"][m], a["text"], a["input_tokens"], a["output_tokens"], round(a["cost"], 8),
                             round(a["latency_ms"], 1)]
                w.writerow(line)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
