"""What the ``/ui`` dashboard shows, assembled from the server's own figures: its Prometheus metrics
(requests, answers and dollars per model, upstream latency and time to first token, fallbacks,
breaker states, budgets left) and its telemetry (JSONL or PostgreSQL: the decision mix of each
virtual model over time, spend per key, exact latency percentiles — the same summary ``graphroute
stats`` prints), plus each experiment's current report.

Examples:
    >>> from graphroute.serve.dashboard import histogram_quantile
    >>> histogram_quantile(0.5, [(0.1, 2.0), (0.5, 6.0), (float("inf"), 6.0)])  # 3rd of 6 falls in (0.1, 0.5]
    0.2
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from typing import Any

from graphroute.errors import GraphRouteError
from graphroute.experiments import report
from graphroute.experiments.records import read_records
from graphroute.runtime.telemetry import JsonlSink, summarise
from graphroute.storage import PostgresSink, read_events

#: decision-mix buckets: this many of them, each at least ``MIN_STEP_S``, over the telemetry's time span
BUCKETS = 24
MIN_STEP_S = 10.0


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' ``histogram_quantile``: ``q`` of cumulative ``(upper bound, count)`` buckets,
    linear within the bucket it falls in (the upper bound of the last finite one beyond it)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank, lower, below = q * buckets[-1][1], 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = upper, count
    return lower


def metric_samples(registry: Any) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of a Prometheus registry: sample name -> [(labels, value)]."""
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in registry.collect():
        for s in family.samples:
            out[s.name].append((dict(s.labels), float(s.value)))
    return out


def _per(samples: list[tuple[dict[str, str], float]], label: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for labels, v in samples:
        out[labels.get(label, "")] += v
    return dict(out)


def _quantiles_ms(samples: list[tuple[dict[str, str], float]], label: str) -> dict[str, dict[str, float | None]]:
    """p50/p95/p99 in milliseconds per ``label`` value of a histogram's ``_bucket`` samples."""
    by: dict[str, dict[float, float]] = defaultdict(dict)
    for labels, v in samples:
        le = labels.get("le", "+Inf")
        by[labels.get(label, "")][float("inf") if le == "+Inf" else float(le)] = v
    out = {}
    for key, b in by.items():
        cum = sorted(b.items())
        out[key] = {f"p{q}": (None if (x := histogram_quantile(q / 100, cum)) is None else x * 1000) for q in (50, 95, 99)}
    return out


def from_metrics(registry: Any) -> dict[str, Any]:
    """The dashboard's figures that come from ``/metrics``."""
    m = metric_samples(registry)
    requests = m.get("graphroute_requests_total", [])
    per_vm: dict[str, dict[str, float]] = defaultdict(lambda: {"requests": 0.0, "errors": 0.0})
    for labels, v in requests:
        row = per_vm[labels["virtual_model"]]
        row["requests"] += v
        if not labels["code"].startswith("2"):
            row["errors"] += v
    answered, cost = _per(m.get("graphroute_decisions_total", []), "model"), _per(m.get("graphroute_cost_dollars_total", []), "model")
    errors: dict[str, dict[str, float]] = defaultdict(dict)
    for labels, v in m.get("graphroute_upstream_errors_total", []):
        errors[labels["model"]][labels["kind"]] = v
    breakers = {labels["model"]: labels["state"] for labels, v in m.get("graphroute_breaker_state", []) if v == 1.0}
    upstream = _quantiles_ms(m.get("graphroute_upstream_seconds_bucket", []), "model")
    ttft = _quantiles_ms(m.get("graphroute_time_to_first_token_seconds_bucket", []), "model")
    models = sorted(set(answered) | set(breakers) | set(errors))
    limits = {labels["scope"]: v for labels, v in m.get("graphroute_budget_limit_dollars", [])}
    left = {labels["scope"]: v for labels, v in m.get("graphroute_budget_remaining_dollars", [])}
    return {
        "requests": sum(v for _, v in requests),
        "answered": sum(answered.values()),
        "cost": sum(cost.values()),
        "virtual_models": {vm: {k: int(v) for k, v in row.items()} for vm, row in sorted(per_vm.items())},
        "request_ms": _quantiles_ms(m.get("graphroute_request_seconds_bucket", []), "virtual_model"),
        "models": [{"model": name, "answered": int(answered.get(name, 0)), "cost": cost.get(name, 0.0),
                    "breaker": breakers.get(name, "closed"), "errors": {k: int(v) for k, v in errors[name].items()},
                    "upstream_ms": upstream.get(name), "ttft_ms": ttft.get(name)} for name in models],
        "fallbacks": [{"chosen": labels["chosen"], "answered": labels["answered"], "count": int(v)}
                      for labels, v in m.get("graphroute_fallbacks_total", [])],
        "budgets": [{"scope": s, "limit": lim, "remaining": left.get(s, lim)} for s, lim in sorted(limits.items())],
    }


def _records(sink: Any) -> list[dict[str, Any]]:
    if isinstance(sink, JsonlSink):
        return list(read_records(sink.path)) if sink.path.is_file() else []
    if isinstance(sink, PostgresSink):
        return list(read_events(sink.url, table_prefix=sink.prefix))
    return list(getattr(sink, "records", []))


def mix_over_time(decisions: list[dict[str, Any]], buckets: int = BUCKETS) -> dict[str, Any]:
    """Per virtual model: answers per model in ``buckets`` equal time bins over the logged span."""
    if not decisions:
        return {"start": None, "step_s": None, "series": {}}
    t0, t1 = min(d["ts"] for d in decisions), max(d["ts"] for d in decisions)
    step = max(MIN_STEP_S, (t1 - t0) / buckets)
    n = int((t1 - t0) // step) + 1
    series: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0] * n))
    for d in decisions:
        vm = str(d.get("virtual_model") or "(not recorded)")
        series[vm][str(d.get("served") or d.get("model") or "unknown")][int((d["ts"] - t0) // step)] += 1
    return {"start": t0, "step_s": step, "series": {vm: dict(models) for vm, models in sorted(series.items())}}


def from_telemetry(sink: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The dashboard's figures that come from the telemetry (the ``graphroute stats`` summary among
    them), and the records they were read from."""
    recs = _records(sink)
    decisions = [r for r in recs if r.get("event") == "decision"]
    spend: dict[str, dict[str, float]] = defaultdict(lambda: {"requests": 0.0, "cost": 0.0})
    for d in decisions:
        row = spend[str(d.get("key") or "(no key)")]
        row["requests"] += 1
        row["cost"] += float(d.get("cost") or 0.0)
    return {"stats": summarise(recs), "mix": mix_over_time(decisions),
            "keys": [{"key": k, "requests": int(v["requests"]), "cost": v["cost"]} for k, v in sorted(spend.items())],
            "records": len(recs)}, recs


def experiment_reports(experiments: Any, recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each configured experiment's report on the logged records, or why there is none yet."""
    out: list[dict[str, Any]] = []
    for name in experiments.names():
        block = experiments.blocks[name]
        try:
            rep = report(recs, name, block, n_resamples=500).to_dict()
            out.append({"name": name, "state": rep["verdict"], "report": rep})
        except (GraphRouteError, ValueError) as exc:  # no records yet, or too few for an interval
            out.append({"name": name, "state": "not enough data", "report": None, "why": str(exc)})
    return out


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None (JSON has neither; a report with too
    few records has NaN intervals)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


async def dashboard_data(svc: Any) -> dict[str, Any]:
    """Everything ``/ui`` draws, as JSON (the telemetry is read off the event loop)."""
    if not hasattr(svc.budgets, "spent"):
        await svc.sync_budgets()  # shared budgets: read them now rather than at the last sync
    metrics = from_metrics(svc.metrics.registry)
    telemetry: dict[str, Any] = {"stats": None, "mix": None, "keys": [], "records": 0}
    recs: list[dict[str, Any]] = []
    if svc.sink is not None:
        telemetry, recs = await asyncio.to_thread(from_telemetry, svc.sink)
    return finite({"generated_at": time.time(), "metrics": metrics, "telemetry": telemetry,
                   "telemetry_source": None if svc.sink is None else type(svc.sink).__name__,
                   "experiments": experiment_reports(svc.experiments, recs)})
