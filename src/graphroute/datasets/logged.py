"""Learning from production: logged decisions and feedback become partial-label training data.

A deployment logs, per request, the router's decision with the probability the chosen model had
(``Decision.probability``; 1.0 without exploration) and later a ``feedback(run_id, score)``
(``graphroute.runtime.telemetry.log_decision`` / ``log_feedback``). ``from_logs`` joins
them: one row per request with feedback, *only the called model's* outcome known. Written as a long
table (``run_id, prompt, model, score, propensity, cost, latency_ms``; ``graphroute dataset
from-logs``), it loads (``load_logged``, or ``load_dataset`` on such a file) as a
``RoutingDataset`` whose unknown outcomes are NaN and whose ``meta["weights"]`` weigh each
row: a router fitted on it (``logistic``, ``ridge``) learns each model's quality from the requests
that model served. ``clip`` > 1 weighs rows by inverse propensity (``1/p`` clipped at ``clip``),
which removes the bias of the router's own past choices when a head cannot condition on what they
depended on; the default (1: unweighted) is what measured better here, because the logging policy
depends only on the prompt, which the heads condition on, and the weights' variance cost more than
they corrected (``benchmarks/feedback_loop.py``, the docs' benchmarks page).

Examples:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from graphroute.datasets.logged import from_logs, load_logged, write_logged
    >>> d = Path(tempfile.mkdtemp())
    >>> log = [{"event": "decision", "run_id": "r1", "prompt": "2+2?", "model": "small", "probability": 0.9},
    ...        {"event": "decision", "run_id": "r2", "prompt": "prove it", "model": "big", "probability": 0.1},
    ...        {"event": "feedback", "run_id": "r1", "score": 1}, {"event": "feedback", "run_id": "r2", "score": 1}]
    >>> _ = (d / "calls.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in log))
    >>> rows, stats = from_logs(d / "calls.jsonl")
    >>> write_logged(rows, d / "data.csv")
    >>> ds = load_logged(d / "data.csv", clip=20)
    >>> ds.models, ds.scores.tolist(), ds.meta["weights"].tolist()
    (['big', 'small'], [[nan, 1.0], [1.0, nan]], [[0.0, 1.1111111111111112], [10.0, 0.0]])
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.datasets.base import RoutingDataset
from graphroute.datasets.wide import iter_jsonl, read_table
from graphroute.errors import DatasetError
from graphroute.events import DecisionEvent, FeedbackEvent, read_event
from graphroute.storage import read_events

COLUMNS = ["run_id", "prompt", "model", "score", "propensity", "cost", "latency_ms"]
REQUIRED = {"prompt", "model", "score", "propensity"}


def from_logs(path: str | Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Join decision and feedback events of a telemetry JSONL file, or of the telemetry tables of
    a ``postgresql://`` URL: ``(rows, counts)``.

    ``counts``: ``decisions``, ``feedback``, ``joined``, ``without_feedback`` (decisions never scored),
    ``orphan_feedback`` (feedback for an unknown run or a left-out one), ``fallback`` (requests a
    fallback model answered: the router did not choose it, so they are left out). A decision without a prompt, model or
    probability, or feedback without a finite score, raises ``DatasetError`` naming the line (row).
    """
    if str(path).startswith(("postgresql://", "postgres://")):
        records: Any = enumerate(read_events(str(path)), start=1)
    else:
        path = Path(path)
        if not path.is_file():
            raise DatasetError("file not found", path=path)
        records = iter_jsonl(path, objects=False)
    decisions: dict[str, DecisionEvent] = {}
    scores: dict[str, float] = {}
    fallbacks = 0
    for lineno, rec in records:
        event = rec.get("event") if isinstance(rec, dict) else None
        if event == "feedback":  # checked before reading: a bad score names its line
            score = rec.get("score")
            if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
                raise DatasetError(f"feedback score {score!r} is not a finite number", path=path, row=lineno)
        elif event == "decision" and not rec.get("fallback") and "run_id" in rec and "prompt" in rec:
            for key in ("model", "probability"):
                if rec.get(key) is None:
                    raise DatasetError(f"decision without {key!r} (routers that explore must log it)",
                                       path=path, row=lineno)
        e = read_event(rec)
        if isinstance(e, DecisionEvent) and e.fallback:
            fallbacks += 1  # a fallback answered, not the router's choice: no propensity
        elif isinstance(e, DecisionEvent):
            p = float(e.probability or 0.0)
            if not 0.0 < p <= 1.0:
                raise DatasetError(f"probability {p} is not in (0, 1]", path=path, row=lineno)
            decisions[e.run_id] = e
        elif isinstance(e, FeedbackEvent):
            scores[e.run_id] = float(e.score)
    rows = [{"run_id": rid, "prompt": d.prompt, "model": d.model, "score": scores[rid],
             "propensity": float(d.probability or 0.0), "cost": d.cost, "latency_ms": d.latency_ms}
            for rid, d in decisions.items() if rid in scores]
    counts = {"decisions": len(decisions), "feedback": len(scores), "joined": len(rows),
              "without_feedback": len(decisions) - len(rows), "orphan_feedback": len(set(scores) - set(decisions)),
              "fallback": fallbacks}
    return rows, counts


def write_logged(rows: Sequence[dict[str, Any]], out: str | Path) -> None:
    """The long table of ``from_logs`` rows, written atomically."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if r.get(k) is None else r[k]) for k in COLUMNS})
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def looks_logged(columns: Sequence[str]) -> bool:
    """Whether a table's columns are the long logged format."""
    return REQUIRED <= set(columns)


def load_logged(path: str | Path, *, models: Sequence[str] | None = None, clip: float = 1.0,
                name: str | None = None) -> RoutingDataset:
    """A partial-label ``RoutingDataset`` from a logged table (see the module doc).

    ``weights`` are ``1 / propensity`` clipped at ``clip`` (default 1: every row weighs 1);
    ``weak``/``strong`` are the models with the lowest/highest inverse-propensity-weighted mean score.
    """
    columns, rows = read_table(path)
    missing = REQUIRED - set(columns)
    if missing:
        raise DatasetError(f"a logged table needs columns {sorted(REQUIRED)}; missing {sorted(missing)}", path=path)
    seen = sorted({str(r["model"]) for r in rows})
    models = list(models) if models is not None else seen
    index = {m: j for j, m in enumerate(models)}
    n = len(rows)
    scores = np.full((n, len(models)), np.nan)
    weights = np.zeros((n, len(models)))
    costs = np.full((n, len(models)), np.nan)
    for i, r in enumerate(rows):
        m = str(r["model"])
        if m not in index:
            raise DatasetError(f"model {m!r} is not one of {models}", path=path, column="model", row=i + 1)
        try:
            s, p = float(r["score"]), float(r["propensity"])
        except (TypeError, ValueError):
            raise DatasetError("score and propensity must be numbers", path=path, row=i + 1) from None
        if not (math.isfinite(s) and 0.0 < p <= 1.0):
            raise DatasetError(f"score {s} / propensity {p} out of range", path=path, row=i + 1)
        if not isinstance(r["prompt"], str) or not r["prompt"].strip():
            raise DatasetError("prompt is empty or not text", path=path, column="prompt", row=i + 1)
        scores[i, index[m]], weights[i, index[m]] = s, min(1.0 / p, clip)
        if r.get("cost") not in (None, ""):
            costs[i, index[m]] = float(r["cost"])
    known = ~np.isnan(scores)
    means = [float(np.sum(np.where(known[:, j], scores[:, j], 0) * weights[:, j]) / max(weights[:, j].sum(), 1e-12))
             if known[:, j].any() else -np.inf for j in range(len(models))]
    lo, hi = float(np.nanmin(scores)), float(np.nanmax(scores))
    return RoutingDataset(name=name or Path(path).stem, prompts=[r["prompt"] for r in rows], models=models,
                          scores=scores, score_range=(min(lo, 0.0), max(hi, 1.0)), source=str(path),
                          weak_model=models[int(np.argmin([m if m != -np.inf else np.inf for m in means]))],
                          strong_model=models[int(np.argmax(means))],
                          meta={"partial": True, "weights": weights, "logged_costs": costs})
