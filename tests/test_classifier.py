"""The embedding classifier: heads, features, stacking, policies, calibration, semantic routes."""

from __future__ import annotations

import numpy as np
import pytest

from graphroute.costs import CostModel
from graphroute.errors import ConfigError, PersistenceError, UnknownNameError
from graphroute.routers import (CostPolicy, HeadRouter, KNNRouter, Router, StackedRouter,
                                TargetQualityPolicy, TextRouter, ThresholdPolicy, prompt_features)
from graphroute.routers.semantic import Route, SemanticRouter

ARITH = [f"What is {a} plus {b}?" for a, b in zip(range(3, 33), range(40, 70))]
POEMS = [f"Write a short poem about {t}." for t in ["rain", "autumn", "the sea", "love", "a cat", "winter", "mountains",
                                                     "the moon", "a river", "friendship", "the city", "spring",
                                                     "a dog", "silence", "fire", "the stars", "a garden", "time",
                                                     "dreams", "snow", "the wind", "a forest", "sunrise", "home",
                                                     "the desert", "music", "a bridge", "an island", "the sky", "memory"]]
X = ARITH + POEMS
Y = np.array([[1, 1]] * 30 + [[0, 1]] * 30, dtype=float)
MODELS = ["small", "big"]


@pytest.mark.parametrize("router", [HeadRouter("logistic", C=3.0), HeadRouter("ridge", alpha=1.0),
                                    HeadRouter("ridge", alpha=1.0, prompt_features="math"),
                                    HeadRouter("mlp", hidden=16, max_iter=500), KNNRouter(k=5), KNNRouter(k=5, dims=8),
                                    TextRouter(alpha=1.0, min_df=1),
                                    StackedRouter(members=[["knn", {"k": 5}], ["logistic", {"C": 1.0}], ["features", {"max_iter": 30}]],
                                                  folds=3)])
def test_routers_learn_and_round_trip(router, tmp_path):
    router.fit(X, Y, models=MODELS)
    queries = ["What is 100 plus 7?", "Write a short poem about the ocean."]
    assert router.route(queries, threshold=0.5) == ["small", "big"]
    router.save(tmp_path / "r")
    again = Router.load(tmp_path / "r")
    assert type(again) is type(router)
    np.testing.assert_allclose(again.score(queries), router.score(queries), atol=1e-6)
    assert again.route(queries, 0.5) == router.route(queries, 0.5)


def test_stacked_members_take_the_top_layer_or_all_layers(tmp_path):
    spec = [["knn", {"k": 5, "vectors": "last-layer"}], ["logistic", {"C": 1.0, "vectors": "last-layer"}], ["logistic", {"C": 1.0}]]
    r = StackedRouter(members=spec, folds=3, encoder="layers").fit(X, Y, models=MODELS)  # MiniLM layers 1-6
    assert r.encoder_.id.endswith("+layers1-6")
    assert r._members[0].index_.dim == 384 and r._members[1].coef_.shape[0] == 384
    assert r._members[2].coef_.shape[0] == 6 * 384
    queries = ["What is 100 plus 7?", "Write a short poem about the ocean."]
    assert r.route(queries, threshold=0.5) == ["small", "big"]
    # the top block, renormalised, is what a one-layer stack's members see
    plain = StackedRouter(members=spec, folds=3, encoder=None).fit(X, Y, models=MODELS)
    assert plain._members[2].coef_.shape[0] == 384
    np.testing.assert_allclose(r._members[1].coef_, plain._members[1].coef_, atol=1e-3)
    r.save(tmp_path / "r")
    again = Router.load(tmp_path / "r")
    assert again.encoder_.id == r.encoder_.id
    np.testing.assert_allclose(again.score(queries), r.score(queries), atol=1e-6)
    with pytest.raises(ValueError, match="vectors must be one of"):
        StackedRouter(members=[["logistic", {"vectors": "top"}]], folds=2).fit(X, Y, models=MODELS)


def test_stacked_weights_are_non_negative():
    r = StackedRouter(members=[["knn", {"k": 5}], ["logistic", {"C": 1.0}]], folds=3).fit(X, Y, models=MODELS)
    for row in r.weights().values():
        assert all(v >= 0 for k, v in row.items() if k != "intercept")


def test_graded_scores_stay_on_their_scale():
    y = np.array([[3.0, 9.0]] * 30 + [[8.0, 9.0]] * 30)
    r = HeadRouter("ridge", alpha=1.0).fit(X, y, models=MODELS)
    q = r.predict_quality(["What is 1 plus 1?"])
    assert q.shape == (1, 2) and 1.0 <= q.min() and q.max() <= 10.0


def test_prompt_features_shape_and_meaning():
    F = prompt_features(["Which is NOT true?\nA. x\nB. y\nC. z\nD. w", "hi"])
    assert F.shape == (2, 17)
    assert F[0, 6] == 4 and F[0, 10] == 1 and F[1, 6] == 0


def test_feature_shortcuts_count_what_the_plain_regexes_count(mmlu):
    from graphroute.routers import trees as F
    from graphroute.tasks import word_problems as W

    tricky = ["x = y; z {}", "def f():\n    return 1;  \n", "ÄÖ² ٣ UPPER never NOT", "ſpend the prıce? How MUCH did it cost",
              "print(1) #include <a>", "\\frac{1}{2} sqrt log", "", "plain words only"]
    prompts = tricky + mmlu.prompts[:300]
    got = F.prompt_features(prompts)
    col = {name: i for i, name in enumerate(F.FEATURE_NAMES)}
    for row, p in zip(got, prompts):
        n = max(len(p), 1)
        assert row[col["math_symbols"]] == len(F._MATH.findall(p)) and row[col["negation"]] == len(F._NEG.findall(p))
        assert row[col["code"]] == len(F._CODE.findall(p)) and row[col["numbers"]] == len(F._NUM.findall(p))
        assert row[col["digit_share"]] == sum(map(str.isdigit, p)) / n and row[col["upper_share"]] == sum(map(str.isupper, p)) / n
        risk = W.format_risk_features(p)
        assert risk[4] == bool(W._HOW_MUCH.search(p)) and risk[5] == bool(W._MONEY.search(p))


def test_option_features_read_the_answer_options(mmlu):
    from graphroute.tasks.multiple_choice import OPTION_FEATURE_NAMES, option_features

    two_statements = "Statement 1 | A ring is a group. Statement 2 | x.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer:"
    close = "Which cell makes insulin?\nA. beta cell of the pancreas\nB. alpha cell of the pancreas\nC. a liver cell\nD. none of the above\nAnswer:"
    F = option_features([two_statements, close, "Write a poem about rain."])
    f = [dict(zip(OPTION_FEATURE_NAMES, row)) for row in F]
    assert F.shape == (3, len(OPTION_FEATURE_NAMES))
    assert f[0]["statement_pair_options"] == 4 and f[1]["statement_pair_options"] == 0
    assert f[1]["all_or_none_of_above"] == 1 and f[1]["option_overlap_max"] == pytest.approx(4 / 6)
    assert f[1]["unique_longest_option"] == 1 and f[1]["option_chars_max"] == len("alpha cell of the pancreas")
    assert not F[2].any()  # no options: all zeros
    # every real MMLU prompt parses to at least two options, and nothing is NaN
    G = option_features(mmlu.prompts[:2000])
    assert np.isfinite(G).all() and (G[:, OPTION_FEATURE_NAMES.index("option_chars_max")] > 0).all()


def test_flattened_trees_predict_exactly_as_sklearn(mmlu):
    from sklearn.ensemble import HistGradientBoostingRegressor

    from graphroute.routers.trees import flatten_trees, merge_forests, predict_forests

    F = prompt_features(mmlu.prompts[:1500])
    # one forest per model, of different sizes and depths, walked together in one pass
    ms = [HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(F[:1000], mmlu.scores[:1000, 0]),
          HistGradientBoostingRegressor(max_iter=25, max_depth=3, random_state=0).fit(F[:1000], mmlu.scores[:1000, 1])]
    merged = merge_forests([flatten_trees(m) for m in ms])
    want = np.stack([m.predict(F[1000:]) for m in ms], axis=1)
    np.testing.assert_allclose(predict_forests(merged, F[1000:]), want, atol=1e-12)
    np.testing.assert_allclose(predict_forests(merged, F[1000:1001]), want[:1], atol=1e-12)


def test_policies():
    q = np.array([0.5, 0.9])
    assert ThresholdPolicy(0.3).choose(q, MODELS, "small", "big")[0] == "big"
    assert ThresholdPolicy(0.5).choose(q, MODELS, "small", "big")[0] == "small"
    costs = {"small": 1.0, "big": 10.0}
    assert ThresholdPolicy(0.3, costs=costs).choose(q, MODELS, "small", "big", max_cost=5.0)[0] == "small"
    assert CostPolicy(0.0, costs=costs).choose(q, MODELS, "small", "big")[0] == "big"
    assert CostPolicy(0.1, costs=costs).choose(q, MODELS, "small", "big")[0] == "small"
    assert TargetQualityPolicy(0.4, costs=costs).choose(q, MODELS, "small", "big")[0] == "small"
    assert TargetQualityPolicy(0.8, costs=costs).choose(q, MODELS, "small", "big")[0] == "big"


def test_calibration_hits_the_target_share_and_is_saved(gsm8k, tmp_path):
    train, cal = gsm8k.subset(np.arange(900)), gsm8k.subset(np.arange(900, 1307))
    r = KNNRouter(k=50).fit(train)
    c = r.calibrate(cal, strong_share=0.3)
    assert abs(c.strong_share - 0.3) < 0.02 and "calibration prompts go to gpt-4-1106-preview" in str(c)
    decisions = r.decide(cal.prompts)
    share = np.mean([d.model == "gpt-4-1106-preview" for d in decisions])
    assert abs(share - c.strong_share) < 1e-9
    r.save(tmp_path / "r")
    assert Router.load(tmp_path / "r").policy_.threshold == pytest.approx(r.policy_.threshold)
    costs = CostModel.default().dataset_costs(cal)
    b = r.calibrate(cal, budget=0.002, costs=costs)
    assert b.cost_per_query <= 0.002
    q = r.calibrate(cal, quality=0.75)
    assert q.quality >= 0.75
    with pytest.raises(ValueError):
        r.calibrate(cal, strong_share=0.3, budget=1.0)


def test_calibrating_many_models_sets_lambda():
    y = np.column_stack([Y[:, 0], (Y[:, 0] + 1) / 2, Y[:, 1]])
    from graphroute.datasets import RoutingDataset

    d = RoutingDataset("t", X, ["s", "m", "l"], y)
    costs = np.tile([1.0, 3.0, 10.0], (len(X), 1))
    r = KNNRouter(k=5).fit(d)
    c = r.calibrate(d, budget=4.0, costs=costs)
    assert isinstance(r.policy_, CostPolicy) and c.cost_per_query <= 4.0
    assert {x.model for x in r.decide(["What is 2 plus 2?"])} <= {"s", "m", "l"}


SEM = [Route(name="maths", model="big", utterances=["solve 2x + 3 = 7", "what is the integral of x squared",
                                                      "compute the derivative of sin x"]),
       Route(name="greeting", model="small", utterances=["hello there", "good morning", "hi, how are you?"])]


def test_semantic_routes_top_k_fallback_and_fit():
    r = SemanticRouter(SEM, fallback="small")
    assert r.query("please solve 3x + 1 = 10")[0][0] == "maths"
    d = r.decide(["hey, good evening!", "the capital of France and its history"])
    assert d[0].route == "greeting" and d[0].model == "small"
    assert d[1].route is None and d[1].model == "small" and "no route" in d[1].reason
    X_ = ["solve x^2 = 4", "differentiate cos x", "hello friend", "good afternoon", "recommend a novel", "weather in Oslo"]
    y_ = ["maths", "maths", "greeting", "greeting", None, None]
    r.fit(X_, y_)
    assert r.evaluate(X_, y_)["accuracy"] >= 5 / 6
    with pytest.raises(ValueError):
        r.fit(["x"], ["unknown-route"])


def test_semantic_save_load(tmp_path):
    r = SemanticRouter(SEM, fallback="small")
    r.save(tmp_path / "s")
    again = SemanticRouter.load(tmp_path / "s")
    assert [d.route for d in again.decide(["solve 5x = 10", "hello"])] == ["maths", "greeting"]
    (tmp_path / "s" / "arrays.npz").write_bytes(b"junk")
    with pytest.raises(PersistenceError):
        SemanticRouter.load(tmp_path / "s")


def test_semantic_yaml_and_its_errors(tmp_path):
    good = tmp_path / "routes.yaml"
    good.write_text("fallback: small\nroutes:\n  - name: maths\n    model: big\n    utterances: [solve 2x = 4]\n"
                    "  - name: chat\n    utterances: [hello there]\n")
    r = SemanticRouter.from_yaml(good)
    assert [x.name for x in r.routes] == ["maths", "chat"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  - name: maths\n    utterances: []\n    threshold: 3\n")
    with pytest.raises(ConfigError) as err:
        SemanticRouter.from_yaml(bad)
    msg = str(err.value)
    assert f"{bad}:3:" in msg and "routes.0.utterances" in msg and "routes.0.threshold" in msg
    broken = tmp_path / "broken.yaml"
    broken.write_text("routes: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        SemanticRouter.from_yaml(broken)
    dup = tmp_path / "dup.yaml"
    dup.write_text("routes:\n  - {name: a, utterances: [x]}\n  - {name: a, utterances: [y]}\n")
    with pytest.raises(ConfigError, match="duplicate"):
        SemanticRouter.from_yaml(dup)


def test_stacked_knn_members_share_one_index_search(tmp_path):
    spec = [["knn", {"k": 20, "temperature": 0.2}], ["knn", {"k": 5}], ["logistic", {"C": 1.0}]]
    r = StackedRouter(members=spec, folds=3).fit(X, Y, models=MODELS)
    knn = [m for m in r._members if isinstance(m, KNNRouter)]
    assert knn[0].index_ is knn[1].index_
    # the shared search gives exactly what each member computes alone
    V = r.embed(["What is 5 plus 9?", "Write a short poem about dusk."])
    for m in knn:
        np.testing.assert_allclose(m.predict_neighbours(*m.search(V, 20)), m._predict_vectors(V), atol=1e-12)
    back = Router.load(r.save(tmp_path / "r") or tmp_path / "r")
    shared = [m for m in back._members if isinstance(m, KNNRouter)]
    assert shared[0].index_ is shared[1].index_


def test_knn_on_principal_components_projects_queries_and_new_examples(tmp_path):
    r = KNNRouter(k=5, dims=8).fit(X, Y, models=MODELS)
    assert r.index_.dim == 8 and r._proj.shape == (384, 8)
    ids = r.add_examples(["Compose a limerick about a kettle."], [[0.0, 1.0]])
    sims, found = r.search(r.embed(["Compose a limerick about a kettle."]), 1)
    assert found[0, 0] == ids[0] and sims[0, 0] == pytest.approx(1.0, abs=1e-5)
    back = Router.load(r.save(tmp_path / "r") or tmp_path / "r")
    q = ["What is 8 plus 80?", "Write a short poem about fog."]
    np.testing.assert_allclose(back.score(q), r.score(q), atol=1e-6)
    with pytest.raises(ValueError):
        KNNRouter(k=5, dims=0).fit(X, Y, models=MODELS)


def test_math_prompt_features_count_quantities_and_step_words():
    from graphroute.tasks.word_problems import MATH_FEATURE_NAMES, math_prompt_features

    F = math_prompt_features(["Tom buys 3 apples at $2 each and 50% more pears. How much is left?", ""])
    row = dict(zip(MATH_FEATURE_NAMES, F[0]))
    assert F.shape == (2, len(MATH_FEATURE_NAMES)) and (F[1] == 0).all()
    assert row["numbers"] == 3 and row["percent_signs"] == 1 and row["kw_each"] == 1 and row["kw_left"] == 1


def test_format_risk_features_read_how_an_answer_will_be_written():
    from graphroute.tasks.word_problems import FORMAT_RISK_NAMES, format_risk_features

    cents = dict(zip(FORMAT_RISK_NAMES, format_risk_features(
        "Croissants cost $3.00 and rolls $2.50 each. How much money did Marcus spend?")))
    assert cents["prices_with_cents"] == 2 and cents["whole_cents"] == 1 and cents["asks_how_much"] == 1
    assert cents["number_after_wh"] == 0
    restated = dict(zip(FORMAT_RISK_NAMES, format_risk_features(
        "Claire earns 1 badge a month. How many badges does she earn in a 1 year time frame?")))
    assert restated["number_after_wh"] == 1 and restated["ask_time_number"] == 1 and restated["prices_with_cents"] == 0


def test_feature_router_feature_sets_fit_and_round_trip(tmp_path):
    from graphroute.routers import FeatureRouter

    easy = [f"What is {i} + {i}?" for i in range(30)]
    hard = [f"A shop sells {i} pens at $1.25 each and half as many pads. How much money in {i} weeks?" for i in range(30)]
    y = [[1, 1]] * 30 + [[0, 1]] * 30
    with pytest.raises(UnknownNameError, match="unknown feature set 'words'; registered: form, options, math"):
        FeatureRouter(features="form+words")
    r = FeatureRouter(max_iter=20, features="form+math").fit(easy + hard, y, models=["small", "big"])
    assert r.route(["What is 7 + 7?", "A shop sells 9 pens at $2.50 each. How much money in 3 weeks?"],
                   threshold=0.5) == ["small", "big"]
    back = Router.load(r.save(tmp_path / "r") or tmp_path / "r")
    np.testing.assert_allclose(back.predict_quality(easy[:3] + hard[:3]), r.predict_quality(easy[:3] + hard[:3]))


def test_router_saved_with_other_prompt_features_refuses_to_load(tmp_path):
    qs = [f"Tom buys {i} apples at $1.50 each. How much money does he spend?" for i in range(20)]
    r = HeadRouter("ridge", alpha=1.0, prompt_features="math").fit(qs, [[i % 2, 1] for i in range(20)], models=["a", "b"])
    folder = tmp_path / "r"
    r.save(folder)
    state = dict(np.load(folder / "arrays.npz"))
    state["fmean"], state["fstd"] = state["fmean"][:48], state["fstd"][:48]  # as written by an older version
    np.savez(folder / "arrays.npz", **state)
    with pytest.raises(PersistenceError, match="word-problem features"):
        Router.load(folder)


def test_text_router_weights_are_sklearns_tfidf(mmlu, tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    train, test = mmlu.subset(np.arange(0, 600)), mmlu.subset(np.arange(600, 700))
    r = TextRouter(ngrams=2, min_df=2).fit(train)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000).fit(train.prompts)
    assert r.vocabulary_ == vec.vocabulary_
    back = Router.load(r.save(tmp_path / "t"))
    assert back.vocabulary_ == vec.vocabulary_
    X = vec.transform(test.prompts).tocsr()
    for i, prompt in enumerate(test.prompts):
        idx, w = back.transform_one(prompt)
        row = X[i]
        np.testing.assert_array_equal(idx, row.indices[np.argsort(row.indices)])
        np.testing.assert_allclose(w, row.data[np.argsort(row.indices)], rtol=1e-5)


def test_text_router_gives_prompts_without_known_words_one_prediction_and_refuses_a_broken_state(tmp_path):
    r = TextRouter(alpha=1.0, min_df=1).fit(X, Y, models=MODELS)
    q = r.predict_quality(["zzqx", "?"])
    np.testing.assert_allclose(q[0], q[1])
    folder = r.save(tmp_path / "r")
    np.testing.assert_allclose(Router.load(folder).predict_quality(["zzqx", "a sonnet"]), r.predict_quality(["zzqx", "a sonnet"]))
    state = dict(np.load(folder / "arrays.npz"))
    state["idf"] = state["idf"][:-3]
    np.savez(folder / "arrays.npz", **state)
    with pytest.raises(PersistenceError, match="do not match"):
        Router.load(folder)


def test_stack_with_a_text_member_loads_it_without_an_encoder(tmp_path):
    spec = [["knn", {"k": 5}], ["text", {"alpha": 1.0, "min_df": 1}]]
    r = StackedRouter(members=spec, folds=3).fit(X, Y, models=MODELS)
    assert r._members[1].encoder_id_ == "none"
    back = Router.load(r.save(tmp_path / "r") or tmp_path / "r")
    queries = ["What is 12 plus 30?", "Write a short poem about a lighthouse."]
    np.testing.assert_allclose(back.score(queries), r.score(queries), atol=1e-9)
    assert back.route(queries, 0.5) == ["small", "big"]
