"""Reading what an experiment logged: ``experiment`` events (assignment, every arm's decision,
propensity, cost, latency), ``shadow`` events (a shadow arm's call) and ``feedback`` events
(scores, by ``metric``: ``feedback`` unless named, e.g. ``judge``), from a telemetry JSONL file, a
PostgreSQL URL or records in memory.

A shadow's answer is scored under the request id ``<request id>#<shadow>``.

Examples:
    >>> from graphroute.experiments.records import outcomes
    >>> recs = [{"event": "experiment", "experiment": "e", "run_id": "r1", "arm": "a", "unit": "u1", "cost": 0.1,
    ...          "latency_ms": 80.0},
    ...         {"event": "feedback", "run_id": "r1", "score": 1.0}]
    >>> t = outcomes(recs, "e")
    >>> t["arm"], t["feedback"], t["cost"]
    (['a'], [1.0], [0.1])
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Iterator

from graphroute.errors import ConfigError
from graphroute.events import ExperimentEvent, FeedbackEvent, ShadowEvent, read_event
from graphroute.storage import read_events


def read_records(source: str | Path | Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file, a ``postgresql://`` URL, or an iterable of records."""
    if isinstance(source, str) and source.startswith(("postgresql://", "postgres://")):
        yield from read_events(source)
        return
    if not isinstance(source, (str, Path)):
        yield from source
        return
    path = Path(source)
    if not path.is_file():
        raise ConfigError("telemetry file not found", path=path)
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"line {i} is not JSON: {exc.msg}", path=path) from None


def experiments_in(records: Iterable[dict[str, Any]]) -> list[str]:
    """Names of the experiments the records hold, in order of first appearance."""
    events = (read_event(r) for r in records)
    return list(dict.fromkeys(e.experiment for e in events if isinstance(e, ExperimentEvent) and e.experiment))


def outcomes(records: Iterable[dict[str, Any]], experiment: str) -> dict[str, list[Any]]:
    """One row per request (and per called shadow): ``arm``, ``shadow``, ``unit``, ``weights``,
    ``cost``, ``latency``, ``feedback``, ``judge`` (NaN where no score came; a failed request has
    no cost or latency, but counts in the split)."""
    rows: dict[str, dict[str, Any]] = {}
    scores: dict[tuple[str, str], float] = {}
    for r in records:
        e = read_event(r)
        if isinstance(e, ExperimentEvent) and e.experiment == experiment:
            failed = bool(e.error)  # counted in the split; no cost or latency of an answer
            rows[e.run_id] = {"arm": e.arm, "shadow": False, "unit": e.unit, "weights": e.weights,
                              "cost": None if failed else e.cost, "latency": None if failed else e.latency_ms}
        elif isinstance(e, ShadowEvent) and e.experiment == experiment and not e.error:
            rows[f"{e.run_id}#{e.arm}"] = {"arm": e.arm, "shadow": True, "unit": e.unit, "weights": None,
                                           "cost": e.cost, "latency": e.latency_ms}
        elif isinstance(e, FeedbackEvent):
            scores[(e.run_id, e.metric)] = float(e.score)
    cols: dict[str, list[Any]] = {k: [] for k in ("run_id", "arm", "shadow", "unit", "weights", "cost", "latency",
                                                  "feedback", "judge")}
    for rid, row in rows.items():
        cols["run_id"].append(rid)
        for k in ("arm", "shadow", "unit", "weights"):
            cols[k].append(row[k])
        for k in ("cost", "latency"):
            cols[k].append(math.nan if row[k] is None else float(row[k]))
        for m in ("feedback", "judge"):
            cols[m].append(scores.get((rid, m), math.nan))
    return cols
