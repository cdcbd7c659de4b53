"""Learning from production: exploration, logged decisions and feedback, partial-label fitting."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from graphroute.datasets import from_logs, load_dataset, load_logged, write_logged
from graphroute.errors import DatasetError
from graphroute.routers import make_router
from graphroute.runtime.telemetry import JsonlSink, log_decision, log_feedback

PAIR = ["mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"]


@pytest.fixture(scope="module")
def small_mmlu(mmlu):
    return mmlu.select_models(PAIR).subset(np.arange(600))


def test_exploration_reports_each_decisions_probability(small_mmlu):
    r = make_router("logistic").fit(small_mmlu.subset(np.arange(400)))
    prompts = small_mmlu.prompts[400:600]
    greedy = [d.model for d in r.decide(prompts)]
    assert {d.probability for d in r.decide(prompts)} == {1.0}
    r.set_policy(explore=0.3)
    ds = r.decide(prompts * 2)
    explored = [d.model != g for d, g in zip(ds, greedy * 2)]
    assert {round(d.probability, 6) for d in ds} <= {0.85, 0.15}
    assert all((d.probability < 0.5) == e for d, e in zip(ds, explored))
    assert 0.05 < np.mean(explored) < 0.3  # about epsilon / 2 with two models
    assert all(d.reason.startswith("exploring") for d, e in zip(ds, explored) if e)
    assert r.decide(prompts[:1], max_cost=0.0)[0].model in PAIR


def test_logs_become_partial_training_data_and_only_partial_learners_fit_it(small_mmlu, tmp_path):
    r = make_router("logistic").fit(small_mmlu.subset(np.arange(300)))
    r.set_policy(explore=0.5)
    sink = JsonlSink(tmp_path / "calls.jsonl")
    traffic = small_mmlu.subset(np.arange(300, 600))
    for i, d in enumerate(r.decide(traffic.prompts)):
        log_decision(sink, f"r{i}", traffic.prompts[i], d, cost=0.001)
        if i % 10:  # some requests never get feedback
            log_feedback(sink, f"r{i}", traffic.scores[i, traffic.index(d.model)])
    log_feedback(sink, "unknown-run", 1.0)
    rows, counts = from_logs(tmp_path / "calls.jsonl")
    assert counts == {"decisions": 300, "feedback": 271, "joined": 270, "without_feedback": 30, "orphan_feedback": 1,
                      "fallback": 0}
    write_logged(rows, tmp_path / "logged.csv")
    ds = load_dataset(tmp_path / "logged.csv")  # the long format is recognised
    assert sorted(ds.models) == sorted(PAIR) and len(ds) == 270
    known = ~np.isnan(ds.scores)
    assert (known.sum(axis=1) == 1).all()  # one outcome per request: the called model's
    assert np.allclose(ds.meta["weights"][known], 1.0)  # unweighted by default
    ips = load_logged(tmp_path / "logged.csv", clip=20.0)
    assert np.allclose(ips.meta["weights"][known], [min(1 / row["propensity"], 20.0) for row in rows])
    with pytest.raises(DatasetError, match="unknown ones"):
        make_router("knn").fit(ds)
    learned = make_router("logistic").fit(ds)
    q = learned.predict_quality(small_mmlu.prompts[:5])
    assert q.shape == (5, 2) and np.isfinite(q).all()
    assert not np.allclose(make_router("logistic").fit(ips).coef_, learned.coef_)  # the weights are used
    cv = ds.subset(np.arange(0, 270, 2))
    assert cv.meta["weights"].shape == (135, 2)  # per-row weights follow the rows


def test_from_logs_rejects_decisions_without_probability(tmp_path):
    p = tmp_path / "calls.jsonl"
    p.write_text(json.dumps({"event": "decision", "run_id": "a", "prompt": "x", "model": "m"}) + "\n")
    with pytest.raises(DatasetError, match=r"calls.jsonl.*row 1.*probability"):
        from_logs(p)
    p.write_text(json.dumps({"event": "feedback", "run_id": "a", "score": "good"}) + "\n")
    with pytest.raises(DatasetError, match="not a finite number"):
        from_logs(p)


def test_cli_dataset_from_logs_then_fit_and_route(small_mmlu, tmp_path):
    r = make_router("logistic").fit(small_mmlu.subset(np.arange(200)))
    r.set_policy(explore=0.4)
    sink = JsonlSink(tmp_path / "calls.jsonl")
    for i, d in enumerate(r.decide(small_mmlu.prompts[200:400])):
        log_decision(sink, f"r{i}", small_mmlu.prompts[200 + i], d)
        log_feedback(sink, f"r{i}", small_mmlu.scores[200 + i, small_mmlu.index(d.model)])

    def run(*a):
        return subprocess.run([sys.executable, "-m", "graphroute.cli.main", *a], capture_output=True, text=True)

    out = run("dataset", "from-logs", str(tmp_path / "calls.jsonl"), "--out", str(tmp_path / "logged.csv"))
    assert out.returncode == 0 and "200 requests with feedback" in out.stdout, out.stderr
    fit = run("fit", str(tmp_path / "logged.csv"), "--router", "ridge", "--out", str(tmp_path / "r"),
              "--calibrate", "strong_share=0.3")
    assert fit.returncode == 0, fit.stderr
    bad = run("fit", str(tmp_path / "logged.csv"), "--router", "knn", "--out", str(tmp_path / "r2"))
    assert bad.returncode == 2 and "unknown ones" in bad.stderr
    routed = run("route", str(tmp_path / "r"), small_mmlu.prompts[500])
    assert routed.returncode == 0 and routed.stdout.split()[0] in PAIR


def test_gateway_telemetry_and_feedback_are_training_data(tmp_path):
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.runnables import RunnableLambda

    from graphroute.runtime import Gateway
    from graphroute.runtime.telemetry import TelemetryHandler
    from graphroute.strategies import RoundRobinRouter

    def down(_):
        raise ConnectionError("HTTP 503 service unavailable")

    sink = JsonlSink(tmp_path / "calls.jsonl")
    gw = Gateway({"a": FakeListChatModel(responses=["fine"]), "dead": RunnableLambda(down),
                  "b": FakeListChatModel(responses=["ok"])}, RoundRobinRouter(["a", "dead"]),
                 fallbacks={"dead": ["b"]}, retries=0, backoff_s=0.001, telemetry=TelemetryHandler(sink))
    results = [gw.invoke(f"question {i}") for i in range(4)]
    assert [r.model for r in results] == ["a", "b", "a", "b"] and len({r.run_id for r in results}) == 4
    for r in results:
        gw.feedback(r.run_id, 1.0 if r.model == "a" else 0.0)
    rows, counts = from_logs(tmp_path / "calls.jsonl")
    assert counts["joined"] == 2 and counts["fallback"] == 2  # fallback answers were not the router's choice
    assert {(row["model"], row["propensity"]) for row in rows} == {("a", 1.0)}
