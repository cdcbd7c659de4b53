"""Scoring a whole graph offline on recorded outcomes: every prompt runs through the compiled graph
with replay models; the answer's quality is the recorded score of the model that produced it.

With ``cv`` folds, routers and scorers that the file fits (``fit`` blocks) are fitted on the
training folds only, and each test fold runs through a graph compiled from them.

Examples:
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.graphs.crossval import evaluate_graph
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.yaml"
    >>> _ = p.write_text('''
    ... models:
    ...   weak: {model: "x:weak", input_price: 0.6, output_price: 0.6, replay: mistralai/Mixtral-8x7B-Instruct-v0.1}
    ... state: {question: str, answer: str}
    ... nodes: {answer: {type: llm, model: weak, prompt: "{question}", output: answer}}
    ... edges: [{from: START, to: answer}, {from: answer, to: END}]
    ... ''')
    >>> r = evaluate_graph(p, load_dataset("routellm-gsm8k").subset(range(50)))
    >>> r["n"], r["quality"] == r["model_quality"]["weak"], r["model_mix"]
    (50, True, {'weak': 1.0})
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import ConfigError
from graphroute.evaluation.cv import cv_splits
from graphroute.graphs.build import build_runtime, replay_view
from graphroute.graphs.compiler import compile_graph, io_keys
from graphroute.graphs.validate import load_graph


def _answer_model(trace: list[dict]) -> str | None:
    for t in reversed(trace):
        if t.get("model") and t.get("type") in ("llm", "cascade"):
            return t["model"]
    return None


def evaluate_graph(path: str | Path, data: RoutingDataset, *, cv: int | None = None, seed: int = 0,
                   on_prompt: Callable[[], None] | None = None) -> dict[str, Any]:
    """Quality, cost per query, model mix and outcomes of the graph on ``data`` (see module doc)."""
    path = Path(path)
    spec = load_graph(path)
    view = replay_view(spec, data)
    if not view.models:
        raise ConfigError(f"no graph model replays a model of {data.name!r} ({', '.join(data.models)}); set 'replay'",
                          path=path, field="models")
    inp, _ = io_keys(spec)
    fits = any(getattr(b, "fit", None) is not None for b in spec.routers.values())
    folds = cv_splits(data, cv) if cv and cv > 1 else [np.arange(len(data))]
    quality = np.full(len(data), np.nan)
    cost = np.zeros(len(data))
    model = np.empty(len(data), dtype=object)
    outcomes: dict[str, int] = {}
    t0 = time.perf_counter()
    for test in folds:
        train = np.setdiff1d(np.arange(len(data)), test)
        fit_data = data.subset(train) if (cv and cv > 1 and fits) else None
        rt = build_runtime(spec, path.parent, offline=True, data=data, fit_data=fit_data)
        app = compile_graph(spec, rt)
        for i in test:
            state: dict[str, Any] = {inp: data.prompts[i]}
            if spec.budget.per_run is not None:
                state["budget_remaining"] = float(spec.budget.per_run)
            final = app.invoke(state)
            trace = final.get("trace", [])
            outcome = final.get("outcome", "completed")
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            m = _answer_model(trace)
            model[i] = m
            cost[i] = sum(t.get("cost") or 0.0 for t in trace)
            if m is not None and m in view.models:
                quality[i] = view.scores[i, view.index(m)]
            if on_prompt:
                on_prompt()
    answered = ~np.isnan(quality)
    mix = {m: float(np.mean(model == m)) for m in view.models if np.any(model == m)}
    return {
        "graph": spec.name, "dataset": data.name, "n": len(data), "cv": cv or 0,
        "quality": float(np.nanmean(quality)) if answered.any() else float("nan"),
        "answered": float(answered.mean()),
        "cost_per_query": float(cost.mean()), "cost_total": float(cost.sum()),
        "model_mix": mix, "model_quality": {m: float(view.scores[:, view.index(m)].mean()) for m in view.models},
        "outcomes": outcomes, "seconds": round(time.perf_counter() - t0, 2),
    }
