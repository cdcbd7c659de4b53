"""The router that learns across models (``mf``) and onboarding a new model from a few probes, on
LLMRouter's real 9-model records with the real encoder's vectors."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from graphroute.datasets import load_dataset
from graphroute.errors import ConfigError, DatasetError
from graphroute.routers import FactorRouter, Router, make_router

NEW = "qwen2.5-7b-instruct"


@pytest.fixture(scope="module")
def nine():
    return load_dataset("llmrouter-9"), load_dataset("llmrouter-9-test")


@pytest.fixture(scope="module")
def eight(nine, tmp_path_factory):
    """An mf router fitted without one model's records, saved (each test loads its own copy)."""
    train, _ = nine
    others = [m for m in train.models if m != NEW]
    return make_router("mf").fit(train.select_models(others)).save(tmp_path_factory.mktemp("mf") / "eight")


def _auc(q: np.ndarray, outcomes: np.ndarray) -> float:
    known = ~np.isnan(outcomes)
    return float(roc_auc_score(outcomes[known] > 0.5, q[known]))


def test_mf_learns_all_models_predicts_by_name_and_round_trips(nine, tmp_path):
    train, test = nine
    r = make_router("mf").fit(train)
    q = r.quality_dataset(test)
    assert q.shape == (500, 9) and ((q >= 0) & (q <= 1)).all()
    # it ranks each model's own test outcomes better than chance, for every model
    for j, m in enumerate(r.models_):
        assert _auc(q[:, j], test.scores[:, test.index(m)]) > 0.6, m
    lo, hi = r.predict_interval(test.prompts[:20])
    assert (lo <= q[:20] + 1e-9).all() and (q[:20] <= hi + 1e-9).all() and (hi - lo > 0).all()
    loaded = Router.load(r.save(tmp_path / "mf"))
    assert isinstance(loaded, FactorRouter) and loaded.costs_ == r.costs_
    np.testing.assert_allclose(loaded.predict_quality(test.prompts[:20]), r.predict_quality(test.prompts[:20]))


def test_mf_learns_from_partial_outcomes(nine):
    train, _ = nine
    part = train.subset(range(600))
    scores = part.scores.copy()
    scores[np.random.default_rng(0).random(scores.shape) < 0.5] = np.nan  # half the outcomes unknown
    part.scores[:] = scores
    r = make_router("mf").fit(part)
    assert np.isfinite(r.predict_quality(part.prompts[:5])).all()


def test_a_new_model_is_placed_from_50_probes(nine, eight):
    train, test = nine
    r = Router.load(eight)
    assert NEW not in r.models_
    probes = train.subset(np.sort(np.random.default_rng(0).choice(len(train), 50, replace=False)))
    r.add_model(NEW, probes)
    assert r.models_[-1] == NEW and r.costs_[NEW] == pytest.approx(float(np.mean(probes.costs[:, probes.index(NEW)])))
    q = r.quality_dataset(test)
    reference = make_router("mf").fit(train).quality_dataset(test)
    outcomes = test.scores[:, test.index(NEW)]
    # the newcomer's predicted quality ranks its own test outcomes nearly as well as a router that saw all its records
    assert _auc(q[:, -1], outcomes) > _auc(reference[:, train.index(NEW)], outcomes) - 0.05
    assert _auc(q[:, -1], outcomes) > 0.75


def test_the_router_says_how_sure_it_is_and_optimism_explores_the_newcomer(nine, eight, tmp_path):
    train, test = nine
    widths = {}
    for k in (25, 400):
        r = Router.load(eight)
        r.add_model(NEW, train.subset(np.sort(np.random.default_rng(1).choice(len(train), k, replace=False))))
        lo, hi = r.predict_interval(test.prompts)
        widths[k] = float(np.mean(hi[:, -1] - lo[:, -1]))
        assert widths[k] > float(np.mean(hi[:, 0] - lo[:, 0]))  # less sure of the newcomer than of a known model
    assert widths[400] < 0.7 * widths[25]  # more records narrow it
    r = Router.load(eight).add_model(NEW, train.subset(np.sort(np.random.default_rng(1).choice(len(train), 25,
                                                                                                replace=False))))
    picks = np.mean([d.model == NEW for d in r.decide(test.prompts[:200])])
    r.set_params(optimism=2.0)
    bolder = np.mean([d.model == NEW for d in r.decide(test.prompts[:200])])
    assert bolder > picks + 0.2  # ranked by an upper bound, the uncertain newcomer gets tried
    r.save(tmp_path / "nine")
    assert Router.load(tmp_path / "nine").models_[-1] == NEW


def test_add_model_refuses_bad_input(nine, eight):
    train, _ = nine
    r = Router.load(eight)
    with pytest.raises(DatasetError, match="no outcomes for 'nobody'"):
        r.add_model("nobody", train.subset(range(10)))
    with pytest.raises(DatasetError, match="already one of the router's models"):
        r.add_model(r.models_[0], train.subset(range(10)))
    unpriced = train.subset(range(30)).select_models([NEW]).rename_models({NEW: "brand-new-model"})
    unpriced.costs = None
    with pytest.raises(DatasetError, match="has no cost: pass cost="):
        r.add_model("brand-new-model", unpriced)
    r.add_model("brand-new-model", unpriced, cost=2e-5)
    assert r.costs_["brand-new-model"] == 2e-5
    with pytest.raises(ConfigError, match="cannot add a model without refitting"):
        make_router("logistic").fit(train.subset(range(200))).add_model(NEW, train.subset(range(10)))


def test_fit_add_model_cli(nine, eight, tmp_path):
    train, _ = nine
    path = tmp_path / "probes.csv"  # what graphroute collect writes for the new model alone: prompt, outcome
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", "newcomer"])
        w.writerows([p, s] for p, s in zip(train.prompts[:60], train.scores[:60, train.index(NEW)]))

    def fit(*extra):
        return subprocess.run([sys.executable, "-m", "graphroute.cli.main", "fit", str(path), "--out",
                               str(tmp_path / "nine"), *extra], capture_output=True, text=True)

    out = fit("--add-model", "newcomer", "--into", str(eight), "--cost", "0.00002")
    assert out.returncode == 0, out.stderr
    assert "placed newcomer among 8 models from 60 probe prompts" in out.stdout
    r = Router.load(tmp_path / "nine")
    assert r.models_[-1] == "newcomer" and r.costs_["newcomer"] == 2e-5
    out = fit("--add-model", "newcomer", "--into", str(eight))  # the router routes at a price: a cost is needed
    assert out.returncode != 0 and "has no cost: pass cost=" in out.stderr
    assert "--into" in fit("--add-model", "newcomer").stderr


def test_mf_is_a_member_of_the_classifier_stack(nine):
    train, test = nine
    members = [["logistic", {"C": 0.3}], ["mf", {"dims": 8}]]
    r = make_router({"name": "classifier", "members": members, "encoder": None, "folds": 3}).fit(train.subset(range(1200)))
    q = r.predict_quality(test.prompts[:30])
    assert q.shape == (30, 9) and np.isfinite(q).all()
