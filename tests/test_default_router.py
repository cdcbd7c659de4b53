"""The default router is calibrated on prompts it was not fitted on: fit_router, a YAML fit block over
several built-in datasets, and the shipped serve.yaml's ``auto``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from graphroute.datasets import load_dataset
from graphroute.errors import DatasetError
from graphroute.routers import fit_router, split_for_calibration

SERVE = Path(__file__).resolve().parents[1] / "graphs" / "serve.yaml"


@pytest.fixture(scope="module")
def both():
    return [load_dataset("routellm-mmlu"), load_dataset("routellm-gsm8k")]


def test_split_for_calibration_holds_out_a_seeded_share(both):
    gsm8k = both[1]
    fit_on, cal_on = split_for_calibration(gsm8k, 0.2, seed=3)
    assert len(cal_on) == round(0.2 * len(gsm8k)) and len(fit_on) + len(cal_on) == len(gsm8k)
    assert not set(fit_on.prompts) & set(cal_on.prompts)
    assert split_for_calibration(gsm8k, 0.2, seed=3)[1].prompts == cal_on.prompts
    with pytest.raises(ValueError, match="holdout"):
        split_for_calibration(gsm8k, 1.0)


def test_fit_router_calibrates_on_held_out_prompts_of_several_datasets(both):
    mmlu, gsm8k = both
    r = fit_router("logistic", both, calibrate={"best_share": 0.95})
    assert r.calibration_ is not None and r.calibration_.target == {"best_share": 0.95}
    # held-out rows of the concatenation (the same seeded split): 95 % of GPT-4's quality, far fewer GPT-4 calls
    from graphroute.datasets import RoutingDataset

    _, held = split_for_calibration(RoutingDataset.concat(both))
    picks = [d.model for d in r.decide(held.prompts)]
    share = np.mean([m == r.strong_ for m in picks])
    quality = held.scores[np.arange(len(held)), [held.index(m) for m in picks]].mean()
    assert share < 0.8 and quality >= 0.95 * held.accuracy(r.strong_) - 0.01
    with pytest.raises(DatasetError, match="only datasets of the same models"):
        fit_router("logistic", [gsm8k, load_dataset("llmrouter-9-test")])


def test_a_yaml_fit_block_takes_a_list_of_datasets_and_the_shipped_auto_is_calibrated(tmp_path, one_step_graph):
    from graphroute.serve.settings import load_serve_config

    shipped = yaml.safe_load(SERVE.read_text())
    block = shipped["routers"]["classifier"]["fit"]
    assert block["data"] == ["routellm-mmlu", "routellm-gsm8k", "llmrouter-9"] and block["calibrate"] == {"best_share": 0.95}
    assert block["roles"] is True and block["router"] == "domains"
    load_serve_config(SERVE)  # validates
    from graphroute.graphs import compile_file, run_graph

    pair = "{mistralai/Mixtral-8x7B-Instruct-v0.1: mixtral, gpt-4-1106-preview: gpt4}"
    graph = one_step_graph(fit="{data: [routellm-gsm8k, routellm-gsm8k], router: logistic, calibrate: {strong_share: 0.3}}",
                           mapping=pair, weak="mixtral", strong="gpt4")
    (tmp_path / "g.yaml").write_text(graph)
    out = run_graph(compile_file(tmp_path / "g.yaml", offline=True), "What is 2 + 2?")
    assert out["outcome"] == "completed"
    # records of different pairs pool as their roles; the block maps weak and strong to graph models
    roles = graph.replace("data: [routellm-gsm8k, routellm-gsm8k]", "data: [routellm-gsm8k, llmrouter-9-test], roles: true")
    roles = roles.replace("mistralai/Mixtral-8x7B-Instruct-v0.1: mixtral, gpt-4-1106-preview: gpt4", "weak: mixtral, strong: gpt4")
    (tmp_path / "g.yaml").write_text(roles)
    out = run_graph(compile_file(tmp_path / "g.yaml", offline=True), "Write a haiku about autumn.")
    assert out["outcome"] == "completed" and out["trace"][-1]["model"] in ("mixtral", "gpt4")
    (tmp_path / "g.yaml").write_text(graph.replace("data: [routellm-gsm8k, routellm-gsm8k]", "data: []"))
    from graphroute.errors import ConfigError
    from graphroute.graphs import load_graph

    with pytest.raises(ConfigError, match="routers.pick.learned.fit.data"):
        load_graph(tmp_path / "g.yaml")


def test_roles_pool_pairs_and_a_wins_router_routes_any_pair(tmp_path):
    from graphroute.datasets import RoutingDataset
    from graphroute.errors import ConfigError
    from graphroute.routers import Router, WinRouter, make_router

    nine = load_dataset("llmrouter-9-test").roles()
    gsm8k = load_dataset("routellm-gsm8k").roles()
    assert nine.models == gsm8k.models == ["weak", "strong"]
    assert nine.meta["pair"] == ["llama3-chatqa-1.5-8b", "llama-3.1-nemotron-51b-instruct"]
    pooled = RoutingDataset.concat([gsm8k, nine])
    r = make_router("wins").fit(pooled)
    assert isinstance(r, WinRouter) and r.models_ == ["weak", "strong"]
    q = r.quality_dataset(nine)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)  # [1 - p, p]
    # the chance the strong model wins ranks the prompts where it did win above the others
    won = nine.scores[:, 1] > nine.scores[:, 0]
    assert q[won, 1].mean() > q[~won, 1].mean()
    # fitted on a dataset of nine models, it learns the dataset's pair
    assert make_router("wins").fit(load_dataset("llmrouter-9-test")).models_ == nine.meta["pair"]
    # any pair: the same scores under new names, with that pair's prices
    r.calibrate(pooled.subset(range(0, len(pooled), 3)), strong_share=0.4)
    other = r.for_pair("gpt-4o-mini", "gpt-4o", costs={"gpt-4o-mini": 1e-4, "gpt-4o": 2e-3})
    assert other.models_ == ["gpt-4o-mini", "gpt-4o"] and other.policy_.costs == {"gpt-4o-mini": 1e-4, "gpt-4o": 2e-3}
    picks = other.route(nine.prompts[:50], threshold=0.0)
    assert picks == [{"weak": "gpt-4o-mini", "strong": "gpt-4o"}[m] for m in r.route(nine.prompts[:50], threshold=0.0)]
    assert r.models_ == ["weak", "strong"]  # the original is untouched
    assert [d.model for d in Router.load(other.save(tmp_path / "w")).decide(nine.prompts[:20])] == \
        [d.model for d in other.decide(nine.prompts[:20])]
    with pytest.raises(ConfigError, match="two different models"):
        r.for_pair("a", "a")
    with pytest.raises(ConfigError, match="needs a router of two models"):
        make_router("logistic").fit(load_dataset("llmrouter-9-test")).for_pair("a", "b")


def test_a_domains_router_keeps_each_sources_expert_and_mixes_them_by_neighbours(tmp_path):
    from graphroute.datasets import RoutingDataset
    from graphroute.routers import DomainRouter, Router, make_router

    gsm8k = load_dataset("routellm-gsm8k").roles().subset(range(300))
    nine = load_dataset("llmrouter-9-test").roles()
    pooled = RoutingDataset.concat([gsm8k, nine])
    assert sorted(set(pooled.parts().tolist())) == ["llmrouter-9-test", "routellm-gsm8k"]
    r = DomainRouter(expert="logistic", encoder=None).fit(pooled)
    assert r.parts_ == ["routellm-gsm8k", "llmrouter-9-test"] and r.models_ == ["weak", "strong"]
    # the gate: a training prompt's nearest neighbours are mostly of its own part
    W = r.gate(r.embed(pooled.prompts))
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-5)
    own = W[np.arange(len(pooled)), (pooled.parts() == "llmrouter-9-test").astype(int)]
    assert np.median(own) > 0.9
    # each expert is the router fitted on its part alone
    alone = make_router("logistic").fit(gsm8k)
    np.testing.assert_allclose(r._experts[0].predict_quality(gsm8k.prompts[:20]), alone.predict_quality(gsm8k.prompts[:20]))
    # one part: the expert itself
    one = DomainRouter(expert="logistic", encoder=None).fit(gsm8k)
    np.testing.assert_allclose(one.predict_quality(nine.prompts[:30]), alone.predict_quality(nine.prompts[:30]))
    # familiarity covers every part: the 9-model prompts are familiar to it, not to the GSM8K expert
    fam = r.familiarity(nine.prompts)[0]
    assert np.mean(fam < 0.05) < np.mean(alone.familiarity(nine.prompts)[0] < 0.05)
    # saved and loaded (experts and gate in sub-folders), and routed for another pair
    loaded = Router.load(r.save(tmp_path / "d"))
    np.testing.assert_allclose(loaded.predict_quality(nine.prompts[:40]), r.predict_quality(nine.prompts[:40]))
    pair = loaded.for_pair("gpt-4o-mini", "gpt-4o")
    assert {d.model for d in pair.decide(nine.prompts[:40])} <= {"gpt-4o-mini", "gpt-4o"}
    # parts survive the calibration split of fit_router
    fitted = fit_router("domains:expert=logistic,encoder=null", [gsm8k, nine], calibrate={"strong_share": 0.5})
    assert fitted.parts_ == ["routellm-gsm8k", "llmrouter-9-test"] and fitted.calibration_ is not None


def test_a_first_build_says_it_is_fitting_and_a_second_loads_the_cache(tmp_path, one_step_graph, caplog):
    import logging

    from graphroute.graphs import compile_file

    pair = "{mistralai/Mixtral-8x7B-Instruct-v0.1: mixtral, gpt-4-1106-preview: gpt4}"
    (tmp_path / "g.yaml").write_text(one_step_graph(fit="{data: routellm-gsm8k, router: logistic}", mapping=pair,
                                                    weak="mixtral", strong="gpt4"))
    with caplog.at_level(logging.INFO, logger="graphroute"):
        compile_file(tmp_path / "g.yaml", offline=True)
        assert "fitting router 'logistic' on 1307 prompts" in caplog.text and "fitted 'logistic' in" in caplog.text
        caplog.clear()
        compile_file(tmp_path / "g.yaml", offline=True)
        assert "fitting router" not in caplog.text
