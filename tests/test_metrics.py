"""Metrics on small hand-computed cases, and the RouteLLM figures on the built-ins."""

from __future__ import annotations

import math

import numpy as np
import pytest

from graphroute.metrics import (
    aiq,
    apgr,
    auc,
    cost_saving,
    cpt,
    min_cost_for_quality,
    optimal_curve,
    pareto_frontier,
    quantile_thresholds,
    routellm_curve,
    summarize,
    tie_safe_curve,
    upper_hull,
)

S = np.array([1.0, 2.0, 3.0, 4.0])
W = np.array([1, 0, 0, 1])
G = np.array([1, 1, 1, 0])


def test_quantile_edges_match_pandas_qcut_linear_quantiles():
    # pd.qcut([1,2,3,4], 2, retbins=True)[1] == [1.0, 2.5, 4.0]
    assert quantile_thresholds(S, 2).tolist() == [1.0, 2.5, 4.0]


def test_routellm_curve_by_hand():
    c = routellm_curve(S, W, G, n_bins=2)
    # edges 1 (all strong), 2.5 (rows 2,3 strong), 4 with '>' (none strong)
    assert c.strong_frac.tolist() == [0.0, 0.5, 1.0]
    assert c.quality.tolist() == [0.5, 0.5, 0.75]
    assert auc(c) == pytest.approx(0.5625)
    assert apgr(c, 0.5, 0.75) == pytest.approx(0.25)
    # RouteLLM interpolates strong% as a function of accuracy: np.interp(0.625, [.5,.5,.75], [0,50,100])
    assert cpt(c, 0.5, 0.75, 0.5) == pytest.approx(75.0)


def test_tie_safe_curve_by_hand():
    c = tie_safe_curve(S, W, G)
    assert c.strong_frac.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert c.quality.tolist() == [0.5, 0.25, 0.5, 0.75, 0.75]
    assert auc(c) == pytest.approx(0.53125)
    assert apgr(c, 0.5, 0.75) == pytest.approx(0.125)
    # first crossing of 0.625 lies between (50%, .5) and (75%, .75)
    assert cpt(c, 0.5, 0.75, 0.5) == pytest.approx(62.5)
    assert math.isnan(cpt(c, 0.5, 0.75, 2.0))


def test_tie_safe_moves_tied_scores_together_and_costs_add_up():
    c = tie_safe_curve([0.5, 0.5, 0.1], [0, 0, 1], [1, 1, 1], cost_weak=[1, 1, 1], cost_strong=[10, 10, 10])
    assert c.strong_frac.tolist() == pytest.approx([0.0, 2 / 3, 1.0])
    assert c.quality.tolist() == pytest.approx([1 / 3, 1.0, 1.0])
    assert c.cost.tolist() == [3.0, 21.0, 30.0]


def test_quantile_method_collapses_on_binary_scores_tie_safe_does_not():
    n = 1000
    s = np.r_[np.zeros(750), np.ones(250)]
    w = np.r_[np.ones(750), np.zeros(250)]
    g = np.ones(n)
    rl, ts = routellm_curve(s, w, g), tie_safe_curve(s, w, g)
    assert len(rl) == 2 and apgr(rl, w.mean(), g.mean()) == pytest.approx(0.5)
    assert apgr(ts, w.mean(), g.mean()) == pytest.approx(0.875)  # perfect router: (0,.75)->(.25,1)->(1,1)


def test_optimal_curve_is_routellm_get_optimal_accuracy():
    c = optimal_curve(W, G, n_points=4)
    assert c.strong_frac.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert c.quality.tolist() == [0.5, 0.75, 1.0, 1.0, 1.0]
    # fractional budgets: 3 rows, 1 gain available -> share 1/6 gives half a gain
    c2 = optimal_curve([0, 1, 1], [1, 1, 1], n_points=6)
    assert c2.quality[1] == pytest.approx((2 + 0.5) / 3)


def test_summarize_reports_cost_at_cpt():
    c = tie_safe_curve(S, W, G, cost_weak=np.ones(4), cost_strong=np.full(4, 5.0))
    s = summarize(c, 0.5, 0.75, 4)
    assert s["cpt50"] == pytest.approx(62.5)
    # cost at 62.5 % strong: interpolate between 12 (50 %) and 16 (75 %)
    assert s["cost_at_cpt50"] == pytest.approx(14.0)
    assert s["cost_per_query_at_cpt50"] == pytest.approx(3.5)


def test_pareto_hull_aiq_and_saving_by_hand():
    c = [1.0, 2.0, 3.0, 4.0]
    q = [0.5, 0.7, 0.6, 0.9]
    assert pareto_frontier(c, q).tolist() == [0, 1, 3]
    hc, hq = upper_hull(c, q)
    assert hc.tolist() == [1.0, 2.0, 4.0] and hq.tolist() == [0.5, 0.7, 0.9]
    assert aiq(c, q, (1.0, 4.0)) == pytest.approx((0.6 + 1.6) / 3)
    assert min_cost_for_quality(c, q, 0.8) == pytest.approx(3.0)
    assert cost_saving(c, q, 0.8, 4.0) == pytest.approx(0.25)
    assert math.isnan(cost_saving(c, q, 0.95, 4.0))


def test_upper_hull_drops_points_under_the_chord():
    hc, hq = upper_hull([0, 1, 2], [0.0, 0.4, 1.0])
    assert hc.tolist() == [0, 2]  # (1, .4) lies under the chord from (0,0) to (2,1)


def test_builtin_oracle_and_random_apgr(mmlu, gsm8k):
    from graphroute.routers import RandomRouter

    for data, expected in ((mmlu, 1.274), (gsm8k, 1.131)):
        w, s = data.pair()
        c = optimal_curve(data.scores[:, w], data.scores[:, s])
        assert round(apgr(c, data.scores[:, w].mean(), data.scores[:, s].mean()), 3) == expected
        r = RandomRouter(seed=0).fit(data)
        rc = routellm_curve(r.score(data.prompts), data.scores[:, w], data.scores[:, s])
        assert 0.42 < apgr(rc, data.scores[:, w].mean(), data.scores[:, s].mean()) < 0.58


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        tie_safe_curve([1.0, np.nan], [0, 1], [1, 1])
    with pytest.raises(ValueError):
        routellm_curve([1.0], [0, 1], [1, 1])
