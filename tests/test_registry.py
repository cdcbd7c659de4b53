"""Configured routers, not names: one registry mechanism for routers, scorers, strategies, encoders and
policies; specs with parameters from Python, the command line and YAML; scikit-learn parameter handling."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone as sk_clone
from typer.testing import CliRunner

from graphroute.cli.main import app
from graphroute.encoders import BACKENDS, SPECS
from graphroute.errors import ConfigError, UnknownNameError, UnknownRouterError
from graphroute.evaluation import cross_val_predict, evaluate
from graphroute.registry import Registry
from graphroute.routers import POLICIES, ROUTERS, KNNRouter, make_router, router_names
from graphroute.scorers import SCORERS, make_scorer
from graphroute.strategies import STRATEGIES, make_strategy


def test_one_name_per_router_family():
    assert len(set(ROUTERS.names())) == len(ROUTERS.names()) and "classifier" in ROUTERS.names()
    for registry in (ROUTERS, SCORERS, STRATEGIES, BACKENDS, SPECS, POLICIES):
        assert isinstance(registry, Registry)


def test_specs_set_parameters_and_check_them():
    r = make_router("knn:k=400,temperature=0.2,dims=64")
    assert isinstance(r, KNNRouter) and (r.k, r.temperature, r.dims) == (400, 0.2, 64)
    assert make_router({"name": "knn", "k": 7}).k == 7 and make_router(("knn", {"k": 8})).k == 8
    assert make_router("knn").k == 50  # the name's own default
    head = make_router("ridge:prompt_features=math,alpha=30")
    assert (head.head, head.alpha, head.prompt_features) == ("ridge", 30, "math")
    assert make_router("always-gpt-4o").model == "gpt-4o"
    assert make_router("cascade:gain=false,scorer=arithmetic").gain is False
    with pytest.raises(ConfigError, match="router 'knn' has no parameter 'kk'; its parameters: k, temperature"):
        make_router("knn:kk=3")
    with pytest.raises(ConfigError, match="expected key=value"):
        make_router("knn:400")
    with pytest.raises(UnknownRouterError, match="unknown router 'knn-wide'; registered: random"):
        make_router("knn-wide")


def test_comma_separated_specs_keep_their_parameters_together():
    assert router_names("random,knn:k=400,temperature=0.2,oracle, always-weak") == [
        "random", "knn:k=400,temperature=0.2", "oracle", "always-weak"]
    with pytest.raises(ConfigError, match="no parameter 'bogus'"):
        router_names("random,knn:k=4,bogus=1")


def test_get_set_params_and_clone_follow_scikit_learn(gsm8k):
    r = make_router("knn:k=30")
    assert r.get_params()["k"] == 30 and r.set_params(k=40) is r and r.k == 40
    with pytest.raises(ValueError, match="no parameter 'kk'"):
        r.set_params(kk=1)
    fitted = r.fit(gsm8k.subset(range(100)))
    for copy in (fitted.clone(), sk_clone(fitted)):
        assert copy.get_params() == fitted.get_params() and not hasattr(copy, "models_")
    assert fitted.name == "knn" and make_router("ridge").name == "ridge" and make_router("classifier").name == "classifier"


def test_evaluate_takes_specs_and_router_objects_alike(gsm8k):
    data = gsm8k.subset(range(400))
    by_spec, by_object = evaluate(["knn:k=20", KNNRouter(k=20)], data, cv=3)
    assert by_spec.router == "knn:k=20" and by_object.router.startswith("KNNRouter(k=20")
    np.testing.assert_array_equal(by_spec.predictions.scores, by_object.predictions.scores)
    direct = cross_val_predict(lambda: KNNRouter(k=20), data, 3)
    np.testing.assert_array_equal(by_spec.predictions.scores, direct.scores)


def test_slow_routers_can_run_on_one_fold_and_say_so(gsm8k):
    data = gsm8k.subset(range(300))
    spec = "classifier:folds=2"
    [slow, fast] = evaluate([spec, "knn"], data, cv=3, slow_folds=1)
    assert slow.protocol == "fold 1 of 3 held out, grouped by prompt" and fast.protocol == "3-fold CV grouped by prompt"
    assert slow.n == int((slow.predictions.folds == 0).sum()) < fast.n == 300


def test_the_command_line_takes_router_specs(tmp_path):
    res = CliRunner().invoke(app, ["eval", "--data", "routellm-gsm8k", "--router", "random,knn:k=10,temperature=0.5",
                                   "--cv", "3", "--plot", ""])
    assert res.exit_code == 0, res.output
    assert "knn:k=10,temperature=0.5" in res.output


def test_scorers_strategies_encoders_and_policies_come_from_their_registries():
    assert make_scorer("format:kind=integer").kind == "integer"
    assert make_scorer({"name": "combined", "how": "min", "scorers": [{"name": "format"}, {"name": "arithmetic"}]}).how == "min"
    with pytest.raises(Exception, match="unknown scorer 'magic'"):
        make_scorer({"name": "magic"})
    assert make_strategy({"name": "round_robin", "models": ["a", "b"]}).models_ == ["a", "b"]
    with pytest.raises(ConfigError, match="strategy 'round_robin' needs 'models'"):
        make_strategy({"name": "round_robin"})
    with pytest.raises(UnknownNameError, match="unknown encoder backend 'gpu'"):
        BACKENDS.make("gpu")
    assert POLICIES.make({"name": "threshold", "threshold": 0.2, "unfamiliar": "strong"}).unfamiliar == "strong"
    with pytest.raises(ConfigError, match="a strategy mapping needs 'name'"):
        make_strategy({"models": ["a"]})


def test_one_vocabulary_name_everywhere_and_the_old_keys_still_read_with_a_deprecation_warning(tmp_path):
    """A registered thing is named with ``name`` in every mapping; 1.0's ``type`` (scorers) and ``kind``
    (strategies, policies) still work, each with a DeprecationWarning naming the new spelling."""
    import warnings

    from graphroute.graphs.schema import GraphSpec

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spelling warns about nothing
        assert make_scorer({"name": "format", "kind": "json"}).kind == "json"
        assert make_scorer({"name": "format", "kind": "json"}).config()["name"] == "format"
        assert make_strategy({"name": "round_robin", "models": ["a"]}).models_ == ["a"]
        spec = GraphSpec.model_validate({
            "name": "g", "models": {"a": {"model": "a", "input_price": 0, "output_price": 0}},
            "routers": {"s": {"type": "strategy", "name": "round_robin", "params": {"models": ["a"]}},
                        "r": {"type": "learned", "fit": {"data": "routellm-mmlu", "router": {"name": "knn", "k": 5}}}},
            "nodes": {"n": {"type": "llm", "router": "s", "prompt": "{question}", "output": "answer"}},
            "edges": [{"from": "START", "to": "n"}, {"from": "n", "to": "END"}]})
        assert spec.routers["s"].name == "round_robin" and spec.routers["r"].type == "learned"
    with pytest.warns(DeprecationWarning, match="write name: format"):
        assert make_scorer({"type": "format", "kind": "json"}).kind == "json"
    with pytest.warns(DeprecationWarning, match="write name: round_robin"):
        assert make_strategy({"kind": "round_robin", "models": ["a"]}).models_ == ["a"]
    with pytest.warns(DeprecationWarning, match="write name: threshold"):
        assert POLICIES.make({"kind": "threshold", "threshold": 0.2}).threshold == 0.2
    with pytest.warns(DeprecationWarning, match="kind is deprecated: write name: round_robin"):
        old = GraphSpec.model_validate({
            "name": "g", "models": {"a": {"model": "a", "input_price": 0, "output_price": 0}},
            "routers": {"s": {"type": "strategy", "kind": "round_robin", "params": {"models": ["a"]}}},
            "nodes": {"n": {"type": "llm", "router": "s", "prompt": "{question}", "output": "answer"}},
            "edges": [{"from": "START", "to": "n"}, {"from": "n", "to": "END"}]})
    assert old.routers["s"].name == "round_robin"
    with pytest.warns(DeprecationWarning, match="type: classifier is deprecated: write type: learned"):
        GraphSpec.model_validate({
            "name": "g", "models": {"a": {"model": "a", "input_price": 0, "output_price": 0}},
            "routers": {"r": {"type": "classifier", "fit": {"data": "routellm-mmlu"}}},
            "nodes": {"n": {"type": "llm", "router": "r", "prompt": "{question}", "output": "answer"}},
            "edges": [{"from": "START", "to": "n"}, {"from": "n", "to": "END"}]})


def test_folders_saved_before_the_router_files_were_renamed_still_name_their_class():
    from graphroute.routers import router_class
    from graphroute.routers.cascade_router import CascadeRouter
    from graphroute.routers.classifier import StackedRouter

    assert router_class("graphroute.routers.stacked.StackedRouter") is StackedRouter
    assert router_class("graphroute.routers.escalation.CascadeRouter") is CascadeRouter
