"""Routers: the protocol, baselines, the kNN router on the real encoder and FAISS, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from graphroute.errors import NotFittedError, PersistenceError, PromptError, UnknownModelError, UnknownRouterError
from graphroute.routers import AlwaysRouter, KNNRouter, OracleRouter, RandomRouter, Router, make_router, router_names

PROMPTS = ["add 2 and 3", "what is 7 times 8", "subtract 4 from 10",
           "write a sonnet about autumn", "compose a haiku about rain", "write a limerick about a cat"]
# the small model does arithmetic, only the big one writes poems
Y = np.array([[1, 1], [1, 1], [1, 1], [0, 1], [0, 1], [0, 1]], dtype=float)
MODELS = ["small", "big"]


@pytest.fixture(scope="module")
def knn():
    return KNNRouter(k=3).fit(PROMPTS, Y, models=MODELS)


def test_knn_learns_from_real_embeddings(knn):
    assert knn.route(["multiply 6 by 9", "a poem about the sea"], threshold=0.5) == ["small", "big"]
    q = knn.predict_quality(["a poem about the sea"])
    assert q.shape == (1, 2) and q[0, 1] > q[0, 0]


def test_knn_save_load_gives_identical_decisions(knn, tmp_path):
    queries = ["divide 9 by 3", "an ode to the moon", "sum of 1 and 1"]
    knn.save(tmp_path / "r")
    loaded = Router.load(tmp_path / "r")
    assert isinstance(loaded, KNNRouter) and loaded.get_params() == knn.get_params()
    # same decisions; scores equal up to float rounding of separately computed query embeddings
    np.testing.assert_allclose(loaded.score(queries), knn.score(queries), atol=1e-6)
    assert loaded.route(queries, 0.5) == knn.route(queries, 0.5)
    # the stored training vectors and labels are bit-identical
    V = knn.embed(queries)
    np.testing.assert_array_equal(loaded._predict_vectors(V), knn._predict_vectors(V))


def test_load_errors_are_typed_and_name_the_path(knn, tmp_path):
    with pytest.raises(PersistenceError, match="not a saved router"):
        Router.load(tmp_path)
    knn.save(tmp_path / "r")
    (tmp_path / "r" / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(PersistenceError, match="arrays.npz"):
        Router.load(tmp_path / "r")
    knn.save(tmp_path / "r")  # overwrite repairs it atomically
    (tmp_path / "r" / "graphroute.json").write_text("{not json")
    with pytest.raises(PersistenceError, match="corrupt"):
        Router.load(tmp_path / "r")


def test_loading_with_another_encoder_is_refused(knn, tmp_path):
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from graphroute.encoders import LangChainEncoder

    knn.save(tmp_path / "r")
    with pytest.raises(PersistenceError, match="fitted with encoder"):
        Router.load(tmp_path / "r", encoder=LangChainEncoder(DeterministicFakeEmbedding(size=384)))


def test_knn_with_langchain_embeddings():
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from graphroute.encoders import LangChainEncoder

    r = KNNRouter(k=1, encoder=LangChainEncoder(DeterministicFakeEmbedding(size=32))).fit(PROMPTS, Y, models=MODELS)
    # the same text embeds identically, so its nearest neighbour is itself
    assert r.route([PROMPTS[0], PROMPTS[3]], 0.5) == ["small", "big"]


@pytest.mark.parametrize("bad, match", [("", "empty"), ("   ", "empty"), (42, "int"), ("x" * 1_000_001, "limit")])
def test_bad_prompts_get_typed_errors(knn, bad, match):
    with pytest.raises(PromptError, match=match):
        knn.route([bad])


def test_unfitted_router():
    with pytest.raises(NotFittedError):
        RandomRouter().score(["x"])


def test_random_is_deterministic_per_prompt_and_uniform():
    r = RandomRouter(seed=3).fit(PROMPTS, Y, models=MODELS)
    s = r.score(PROMPTS)
    assert np.array_equal(s[2:], r.score(PROMPTS[2:]))
    many = r.score([f"prompt {i}" for i in range(4000)])
    assert abs(many.mean() - 0.5) < 0.03 and many.min() >= 0 and many.max() < 1
    assert not np.array_equal(s, RandomRouter(seed=4).fit(PROMPTS, Y, models=MODELS).score(PROMPTS))


def test_always_and_oracle():
    a = AlwaysRouter("big").fit(PROMPTS, Y, models=MODELS)
    assert a.choose(["anything"]) == ["big"] and a.route(["x"]) == ["big"]
    with pytest.raises(UnknownModelError):
        AlwaysRouter("huge").fit(PROMPTS, Y, models=MODELS)
    o = OracleRouter().fit(PROMPTS, Y, models=MODELS)
    assert o.route(PROMPTS, threshold=0.5) == ["small"] * 3 + ["big"] * 3


def test_oracle_and_random_round_trip(tmp_path):
    for r in (OracleRouter(), RandomRouter(seed=7)):
        r.fit(PROMPTS, Y, models=MODELS).save(tmp_path / r.name)
        again = Router.load(tmp_path / r.name)
        np.testing.assert_array_equal(again.score(PROMPTS), r.score(PROMPTS))


def test_choose_trades_quality_for_cost(knn):
    q = ["a poem about the sea"]
    assert knn.choose(q) == ["big"]
    assert knn.choose(q, costs={"small": 0.0, "big": 10.0}, lam=1.0) == ["small"]
    with pytest.raises(UnknownModelError):
        knn.choose(q, costs={"nope": 1.0})


def test_registry():
    assert isinstance(make_router("always-gpt-4"), AlwaysRouter)
    assert router_names("random, oracle") == ["random", "oracle"]
    with pytest.raises(UnknownRouterError, match="unknown router 'bogus'; registered: random"):
        router_names("random,bogus")


def test_fit_requires_labels():
    with pytest.raises(ValueError, match="y"):
        RandomRouter().fit(["a"])


