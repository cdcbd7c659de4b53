"""Learning curves: real routers on the built-in GSM8K outcomes, the same folds as ``graphroute eval``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from graphroute.cli.main import app
from graphroute.evaluation import LearningCurve, LearningPoint, cross_val_predict, learning_curve
from graphroute.evaluation.learning import _nested_subsets, check_fractions
from graphroute.metrics import routellm_curve, summarize
from graphroute.routers import make_router


def test_full_share_is_exactly_cross_validation(gsm8k):
    lc = learning_curve(lambda: make_router("knn"), gsm8k, (0.5, 1.0), k=3, seed=4)
    preds = cross_val_predict(lambda: make_router("knn"), gsm8k, 3, seed=4)
    w, s = gsm8k.pair()
    yw, ys = gsm8k.scores[:, w], gsm8k.scores[:, s]
    expected = summarize(routellm_curve(preds.scores, yw, ys), yw.mean(), ys.mean(), len(gsm8k))
    full = lc.points[1]
    assert full.apgr == pytest.approx(expected["apgr"], abs=1e-12)
    assert full.cpt50 == pytest.approx(expected["cpt50"], abs=1e-12)
    assert lc.points[0].train_rows == pytest.approx(full.train_rows / 2, rel=0.02)
    assert (lc.router, lc.dataset, lc.k) == ("knn", gsm8k.name, 3)


def test_repeats_draw_different_subsets_and_the_seed_repeats_them(gsm8k):
    a = learning_curve(lambda: make_router("logistic"), gsm8k, (0.3, 1.0), k=2, repeats=2, seed=1)
    b = learning_curve(lambda: make_router("logistic"), gsm8k, (0.3, 1.0), k=2, repeats=2, seed=1)
    assert a.to_dict() == b.to_dict()
    low = a.points[0]
    assert len(low.repeat_apgr) == 2 and low.repeat_apgr[0] != low.repeat_apgr[1]
    assert low.apgr == pytest.approx(np.mean(low.repeat_apgr))
    assert len(a.points[1].repeat_apgr) == 1  # the whole share is drawn once
    assert math.isfinite(a.slope_per_doubling())


def test_subsets_take_whole_groups_and_are_nested():
    groups = np.repeat(np.arange(40), np.arange(40) % 3 + 1)  # groups of 1-3 identical prompts
    parts = _nested_subsets(groups, [0.25, 0.5, 1.0], np.random.default_rng(0))
    assert [len(np.unique(groups[p])) for p in parts] == [10, 20, 40]
    for p in parts:
        chosen = np.unique(groups[p])
        assert set(p) == set(np.flatnonzero(np.isin(groups, chosen)))  # no group split
    assert set(parts[0]) <= set(parts[1]) <= set(parts[2]) == set(range(len(groups)))


def test_extrapolation_reads_the_fit():
    pts = [LearningPoint(f, rows, a, a, 30.0, 60.0, [a]) for f, rows, a in
           [(0.25, 1000.0, 0.60), (0.5, 2000.0, 0.62), (1.0, 4000.0, 0.64)]]
    lc = LearningCurve("r", "d", 5, "prompt", 0, pts)
    assert lc.slope_per_doubling() == pytest.approx(0.02)
    assert lc.rows_for(0.68) == pytest.approx(16000.0)
    assert lc.rows_for(0.5) == 4000.0  # already reached
    flat = LearningCurve("r", "d", 5, "prompt", 0, [LearningPoint(f, r, 0.6, 0.6, 1, 1, [0.6]) for f, r in
                                                   [(0.5, 10.0), (1.0, 20.0)]])
    assert flat.rows_for(0.7) == math.inf


@pytest.mark.parametrize("bad", [[], [0.0], [1.5], [-0.2, 1.0]])
def test_bad_shares_raise(bad, gsm8k):
    with pytest.raises(ValueError, match="training share|at least one"):
        check_fractions(bad)
    if bad:
        with pytest.raises(ValueError):
            learning_curve(lambda: make_router("random"), gsm8k, bad, k=2)


def test_cli_table_json_and_plot(tmp_path):
    res = CliRunner().invoke(app, ["eval", "--data", "routellm-gsm8k", "--router", "knn", "--learning-curve",
                                   "1,0.5", "--cv", "3", "--target-apgr", "0.9", "--json", str(tmp_path / "lc.json"),
                                   "--plot", str(tmp_path / "lc.png")])
    assert res.exit_code == 0, res.output
    assert "knn learning curve" in res.output and "per doubling" in res.output and "APGR 0.9" in res.output
    doc = json.loads((tmp_path / "lc.json").read_text())
    [curve] = doc["learning_curves"]
    assert [p["fraction"] for p in curve["points"]] == [0.5, 1.0]
    assert curve["points"][0]["train_rows"] < curve["points"][1]["train_rows"]
    assert (tmp_path / "lc.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["--learning-curve", "0,1"], "not in (0, 1]"),
    (["--learning-curve", "0.5,x"], "--learning-curve"),
    (["--learning-curve", "0.5", "--test", "routellm-gsm8k"], "cannot be combined with --test"),
    (["--learning-curve", "0.5", "--repeats", "0"], "--repeats"),
    (["--learning-curve", "0.5", "--draw-by", "subject"], "--draw-by"),
])
def test_cli_bad_learning_options_exit_2(args, message, tmp_path):
    res = CliRunner().invoke(app, ["eval", "--data", "routellm-gsm8k", "--router", "random", "--plot", "", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_drawing_whole_subjects_for_unseen_subject_curves(mmlu):
    small = mmlu.subset(np.flatnonzero(np.isin(mmlu.groups.astype(str), np.unique(mmlu.groups.astype(str))[:8])))
    lc = learning_curve(lambda: make_router("knn"), small, (0.5, 1.0), k=4, group_by="group", draw_by="group")
    assert [round(p.train_units, 1) for p in lc.points] == [3.0, 6.0]  # 8 subjects, 2 held out per fold
    assert lc.to_dict()["draw_by"] == "group" and lc.points[0].train_rows < lc.points[1].train_rows
    with pytest.raises(ValueError, match="draw_by"):
        learning_curve(lambda: make_router("knn"), small, (1.0,), k=2, draw_by="subject")
