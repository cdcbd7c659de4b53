"""Experiments on known truth: assignment, the report's tests and verdicts, off-policy estimates,
and their records in PostgreSQL — replayed from the built-in recorded MMLU outcomes."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from graphroute.errors import ConfigError
from graphroute.experiments import ExperimentBlock, assign, estimate, read_records, report
from graphroute.experiments.ope import candidate_matrix
from graphroute.experiments.simulate import replay_logged, replay_traffic
from graphroute.experiments.stats import compare, holm, kind_of
from graphroute.storage import PostgresSink


def block(**kw) -> ExperimentBlock:
    return ExperimentBlock.model_validate({"arms": {"A": {"target": "x"}, "B": {"target": "y"}}, **kw})


def always(n: int, j: int) -> np.ndarray:
    return np.full(n, j)


# ------------------------------------------------------------------ assignment
def test_assignment_is_sticky_keeps_the_split_and_moves_only_the_users_it_must():
    users = [f"u{i}" for i in range(20_000)]
    half = [assign(u, {"A": 50, "B": 50}, "exp") for u in users]
    assert half == [assign(u, {"A": 1, "B": 1}, "exp") for u in users]  # scale-free and deterministic
    assert Counter(half)["A"] / len(users) == pytest.approx(0.5, abs=0.015)
    tilted = [assign(u, {"A": 60, "B": 40}, "exp") for u in users]
    moved = [(x, y) for x, y in zip(half, tilted) if x != y]
    assert len(moved) / len(users) == pytest.approx(0.10, abs=0.012)
    assert set(moved) == {("B", "A")}  # only into the arm that grew
    three = [assign(u, {"A": 1, "B": 1, "C": 1}, "exp") for u in users]
    grown = [assign(u, {"A": 1, "B": 1, "C": 2}, "exp") for u in users]
    assert {y for x, y in zip(three, grown) if x != y} == {"C"}  # B and C never trade users with A and B
    assert [assign(u, {"A": 1, "B": 1}, "other-salt") for u in users] != half  # a new salt reshuffles


# ------------------------------------------------------------------ tests and verdicts
def test_aa_experiments_reject_at_about_alpha(mmlu):
    gpt4 = mmlu.models.index("gpt-4-1106-preview")
    arm = always(len(mmlu), gpt4)
    cfg = block(metrics=["feedback"], min_effect={"feedback": 0.08})
    verdicts = []
    for seed in range(100):
        recs = replay_traffic(mmlu.scores, {"A": arm, "B": arm}, {"A": 1, "B": 1}, requests=1200, users=800, seed=seed)
        rep = report(recs, "replay", cfg, n_resamples=200)
        verdicts.append(rep.comparison("B", "feedback").verdict)
    assert "not enough data" not in " ".join(verdicts)
    fpr = sum(v in ("better", "worse") for v in verdicts) / len(verdicts)
    assert 0.01 <= fpr <= 0.10, fpr  # seeded: 100 experiments at alpha 0.05


def test_ab_says_not_enough_data_until_the_planned_size_then_names_the_better_arm(mmlu):
    weak, strong = mmlu.models.index("mistralai/Mixtral-8x7B-Instruct-v0.1"), mmlu.models.index("gpt-4-1106-preview")
    cfg = block(metrics=["feedback"], min_effect={"feedback": 0.05})
    recs = replay_traffic(mmlu.scores, {"A": always(len(mmlu), weak), "B": always(len(mmlu), strong)}, {"A": 1, "B": 1},
                          requests=6000, users=3000, seed=1)
    early = report(recs[:400], "replay", cfg)
    need = early.comparison("B", "feedback").needed
    assert early.verdict == "not enough data" and need > 200
    assert early.comparison("B", "feedback").verdict.startswith("not enough data:")
    late = report(recs, "replay", cfg)
    assert late.verdict == "B is better on feedback"
    c = late.comparison("B", "feedback")
    assert c.kind == "binary" and c.comparison["test"] == "two-proportion z"
    true_diff = mmlu.scores[:, strong].mean() - mmlu.scores[:, weak].mean()
    assert c.comparison["ci"][0] < true_diff < c.comparison["ci"][1]


def test_a_broken_split_is_flagged_and_nothing_is_concluded():
    rng = np.random.default_rng(0)
    recs = []
    for i in range(3000):
        arm = "A" if rng.random() < 0.56 else "B"  # configured 50/50
        recs += [{"event": "experiment", "experiment": "e", "run_id": str(i), "arm": arm, "unit": f"u{i}"},
                 {"event": "feedback", "run_id": str(i), "score": float(rng.random() < (0.5 if arm == "A" else 0.9))}]
    rep = report(recs, "e", block(metrics=["feedback"], min_effect={"feedback": 0.05}))
    assert rep.srm_p < 1e-6 and rep.verdict.startswith("sample ratio mismatch")
    assert rep.comparison("B", "feedback").verdict == "sample ratio mismatch: not trusted"


def test_each_metric_gets_its_test_and_holm_adjusts_them():
    rng = np.random.default_rng(3)
    assert kind_of("feedback", np.array([0.0, 1.0, 1.0])) == "binary"
    assert kind_of("judge", np.array([0.0, 0.5, 1.0])) == "graded"
    assert kind_of("cost", np.array([0.0, 1.0])) == "continuous"
    graded = compare(rng.choice([0, 0.5, 1], 800), rng.choice([0.5, 1.0], 800), "graded")
    assert graded.test == "bootstrap" and graded.p_value < 0.01 and graded.ci[0] > 0
    cost = compare(rng.normal(1.0, 0.3, 500), rng.normal(1.0, 0.9, 500), "continuous")
    assert cost.test == "Welch t" and cost.p_value > 0.01 and cost.ci[0] < 0 < cost.ci[1]
    raw = [0.01, 0.04, 0.03, 0.5]
    adj = holm(raw)
    assert all(a >= r for a, r in zip(adj, raw)) and adj[0] == pytest.approx(0.04)


def test_report_of_cost_and_latency_and_an_unknown_arm():
    rng = np.random.default_rng(5)
    recs = [{"event": "experiment", "experiment": "e", "run_id": str(i), "arm": "AB"[i % 2],
             "cost": float(rng.gamma(2.0, 0.001 if i % 2 else 0.002)), "latency_ms": float(rng.normal(300, 40))}
            for i in range(2000)]
    rep = report(recs, "e", block(metrics=["cost", "latency"], min_effect={"cost": 0.0005, "latency": 50}))
    assert rep.comparison("B", "cost").verdict == "better"  # cheaper is better
    assert rep.comparison("B", "latency").verdict == "no difference found"
    assert rep.verdict == "B is better on cost"
    with pytest.raises(ConfigError, match="does not configure"):
        report([*recs, {"event": "experiment", "experiment": "e", "run_id": "x", "arm": "Z"}], "e", block(metrics=["cost"]))
    with pytest.raises(ConfigError, match="no records"):
        report(recs, "nope", block(metrics=["cost"]))


def test_experiment_blocks_refuse_what_cannot_run():
    with pytest.raises(ValueError, match="at least two arms"):
        ExperimentBlock.model_validate({"arms": {"A": {"target": "x"}}})
    with pytest.raises(ValueError, match="needs a budget"):
        block(shadow={"s": {"target": "z", "sample": 0.1}})
    with pytest.raises(ValueError, match="time zone"):
        block(start="2026-12-01T00:00:00")
    with pytest.raises(ValueError, match="unknown metrics"):
        block(metrics=["clicks"])


# ------------------------------------------------------------------ off-policy evaluation
def test_off_policy_estimates_cover_the_true_quality_of_candidates(mmlu):
    rng = np.random.default_rng(0)
    k = len(mmlu.models)
    logger = rng.integers(0, k, len(mmlu))  # the logging policy's greedy choices
    oracle = np.argmax(mmlu.scores + rng.random(mmlu.scores.shape) * 1e-3, axis=1)
    cands = {"strong": always(len(mmlu), 1), "oracle": oracle}
    for name, choice in cands.items():
        true = mmlu.scores[np.arange(len(mmlu)), choice].mean()
        covered, errors = [], []
        for seed in range(40):
            log = replay_logged(mmlu.scores, logger, 0.2, requests=1500, seed=seed)
            pi = candidate_matrix(choice[log["prompt"]], k)
            q = np.tile(mmlu.scores.mean(axis=0), (len(log["prompt"]), 1))
            est = estimate(log["action"], log["propensity"], log["reward"], pi, q)
            covered.append([est[e]["low"] <= true <= est[e]["high"] for e in ("ips", "snips", "dr")])
            errors.append([est[e]["value"] - true for e in ("ips", "snips", "dr")])
        assert np.mean(covered, axis=0).min() >= 0.85, (name, np.mean(covered, axis=0))
        assert np.abs(np.mean(errors, axis=0)).max() < 0.01, (name, np.mean(errors, axis=0))
    with pytest.raises(ConfigError, match="propensities"):
        estimate(np.array([0]), np.array([0.0]), np.array([1.0]), np.array([[1.0, 0.0]]))


# ------------------------------------------------------------------ PostgreSQL
def test_experiment_records_in_postgresql_read_back_as_from_jsonl(postgres_db, tmp_path, mmlu):
    arms = {"A": always(len(mmlu), 0), "B": always(len(mmlu), 1)}
    recs = replay_traffic(mmlu.scores, arms, {"A": 1, "B": 1}, requests=600, users=300, seed=2, experiment="pg")
    shadow = {"event": "shadow", "experiment": "pg", "run_id": recs[0]["run_id"], "arm": "S", "model": "m",
              "output": "an answer", "cost": 0.001, "latency_ms": 12.0}
    sink = PostgresSink(postgres_db)
    for r in [*recs, shadow, {"event": "feedback", "run_id": recs[0]["run_id"] + "#S", "score": 1.0, "metric": "judge"}]:
        sink.write({"ts": 1.0, **r})
    sink.close()
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("".join(json.dumps({"ts": 1.0, **r}) + "\n" for r in recs))
    cfg = block(metrics=["feedback", "judge"], min_effect={"feedback": 0.05})
    from_pg = report(read_records(postgres_db), "pg", cfg)
    from_file = report(read_records(jsonl), "pg", cfg)
    assert from_pg.comparison("B", "feedback").comparison == from_file.comparison("B", "feedback").comparison
    got = [r for r in read_records(postgres_db) if r["event"] == "experiment"]
    assert len(got) == 600 and got[0]["decisions"] and got[0]["propensity"] is not None
    assert [a.name for a in from_pg.arms if a.shadow] == ["S"]


def test_an_exploring_router_logs_propensities_that_off_policy_evaluation_reweights(gsm8k):
    from graphroute.routers import make_router
    from graphroute.runtime.telemetry import MemorySink, log_decision, log_feedback
    from graphroute.experiments import off_policy

    data = gsm8k.subset(np.arange(600))
    router = make_router("logistic").fit(gsm8k.subset(np.arange(600, 1307)))
    greedy = [d.model for d in router.decide(data.prompts)]
    router.set_policy(explore=0.4)
    sink = MemorySink()
    for rep in range(3):  # each prompt served three times by the exploring router
        for i, d in enumerate(router.decide(data.prompts)):
            assert sum(d.probabilities.values()) == pytest.approx(1.0)
            assert d.probability == pytest.approx(d.probabilities[d.model])
            assert d.probabilities[greedy[i]] == pytest.approx(0.8)  # 1 - 0.4 + 0.4 / 2
            rid = f"{rep}-{i}"
            log_decision(sink, rid, data.prompts[i], d, cost=0.001)
            log_feedback(sink, rid, float(data.scores[i, data.models.index(d.model)]))
    router.set_policy(explore=0.0)
    res = off_policy(sink.records, router, name="greedy")
    true = float(np.mean([data.scores[i, data.models.index(m)] for i, m in enumerate(greedy)]))
    assert res.n == 1800 and 0.7 < res.matched < 0.9
    for e in ("ips", "snips", "dr"):
        assert res.quality[e]["low"] <= true <= res.quality[e]["high"], (e, res.quality[e], true)
    assert res.cost["ips"]["value"] == pytest.approx(0.001, rel=0.2)


def test_unit_analysis_keeps_alpha_when_a_users_requests_are_alike():
    """Users differ (each has their own success rate) and send 20 requests each: treating requests
    as independent rejects a true A/A far too often; testing users' means does not."""
    per_request = per_unit = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        recs = []
        for u in range(300):
            p = rng.beta(1.0, 1.0)
            arm = assign(f"u{u}", {"A": 1, "B": 1}, f"s{seed}")
            for k in range(20):
                rid = f"{u}-{k}"
                recs += [{"event": "experiment", "experiment": "e", "run_id": rid, "arm": arm, "unit": f"u{u}"},
                         {"event": "feedback", "run_id": rid, "score": float(rng.random() < p)}]
        kw = {"metrics": ["feedback"], "min_effect": {"feedback": 0.2}}
        per_request += report(recs, "e", block(**kw), n_resamples=100).comparison("B", "feedback").verdict in ("better", "worse")
        unit = report(recs, "e", block(analysis="unit", **kw), n_resamples=100).comparison("B", "feedback")
        assert unit.kind == "continuous" and unit.comparison["test"] == "Welch t"
        per_unit += unit.verdict in ("better", "worse")
    assert per_request / 60 > 0.3 and per_unit / 60 <= 0.12, (per_request, per_unit)
