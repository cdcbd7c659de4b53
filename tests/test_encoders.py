"""Encoders: the real offline MiniLM, LangChain embeddings, the disk cache."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from graphroute.encoders import CachedEncoder, LangChainEncoder, SentenceTransformerEncoder, default_encoder
from graphroute.errors import EncoderError, UnknownNameError


@pytest.fixture(scope="module")
def minilm():
    return SentenceTransformerEncoder()


def test_minilm_offline_normalised_and_semantic(minilm):
    v = minilm.encode(["How do I bake bread?", "Bread baking instructions", "The derivative of x^2"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_shipped_embeddings_match_the_encoder(gsm8k, minilm, tmp_path):
    enc = default_encoder(cache_dir=tmp_path)
    cached = enc.encode(gsm8k.prompts[:4])
    assert enc.misses == 0 and enc.hits == 4  # all from the shipped layer, no model call
    fresh = minilm.encode(gsm8k.prompts[:4])
    assert np.min(np.sum(cached * fresh, axis=1)) > 0.999  # float16 storage


def test_cache_persists_across_instances(tmp_path):
    lc = LangChainEncoder(DeterministicFakeEmbedding(size=16))
    a = CachedEncoder(lc, tmp_path)
    v = a.encode(["x", "y", "x"])
    assert a.misses == 2 and np.array_equal(v[0], v[2])
    b = CachedEncoder(lc, tmp_path)
    assert np.array_equal(b.encode(["y"])[0], v[1]) and b.misses == 0 and b.hits == 1


def test_corrupt_shard_is_ignored_not_trusted(tmp_path):
    lc = LangChainEncoder(DeterministicFakeEmbedding(size=16))
    a = CachedEncoder(lc, tmp_path)
    a.encode(["x"])
    shard = next(a.folder.glob("shard-*.npz"))
    shard.write_bytes(shard.read_bytes()[:20])  # truncated
    b = CachedEncoder(lc, tmp_path)
    with pytest.warns(UserWarning, match="unreadable"):
        v = b.encode(["x"])
    assert b.misses == 1 and v.shape == (1, 16)


def test_cache_reads_vectors_only_of_shards_it_is_asked_about(tmp_path):
    lc = LangChainEncoder(DeterministicFakeEmbedding(size=16))
    a = CachedEncoder(lc, tmp_path)
    first, second = a.encode(["x"]), a.encode(["y"])  # two shards
    b = CachedEncoder(lc, tmp_path)
    assert b.encode(["new"]).shape == (1, 16) and b.hits == 0
    assert sum(v is not None for v in b._blocks) == 1  # only the new vector; the shards' keys alone were read
    assert np.array_equal(b.encode(["y"])[0], second[0]) and sum(v is not None for v in b._blocks) == 2
    # a shard whose keys read but whose vectors do not is dropped when first needed, its texts embedded again
    shard_x = next(p for p in a.folder.glob("shard-*.npz") if np.array_equal(np.load(p)["vectors"][0], first[0]))
    keys = np.load(shard_x)["keys"]
    np.savez(shard_x.with_suffix(".tmp.npz"), keys=keys, vectors=np.zeros((3, 16), np.float32))  # 3 rows, 1 key
    shard_x.with_suffix(".tmp.npz").replace(shard_x)
    c = CachedEncoder(lc, tmp_path)
    with pytest.warns(UserWarning, match="unreadable"):
        v = c.encode(["x", "y"])
    assert c.misses == 1 and c.hits == 1 and np.allclose(v[0], first[0]) and np.array_equal(v[1], second[0])


def test_queries_read_the_cache_but_store_nothing(tmp_path):
    from graphroute.encoders import encode_queries

    lc = LangChainEncoder(DeterministicFakeEmbedding(size=16))
    a = CachedEncoder(lc, tmp_path)
    stored = a.encode(["x"])
    v = encode_queries(a, ["new", "x", "new"])
    assert a.hits == 1 and a.misses == 2 and np.array_equal(v[1], stored[0]) and np.array_equal(v[0], v[2])
    assert np.allclose(v[0], lc.encode(["new"])[0])
    assert len(list(a.folder.glob("shard-*.npz"))) == 1 and len(a._index) == 1  # no file, no memory kept
    assert np.array_equal(encode_queries(lc, ["x"]), lc.encode(["x"]))  # plain encoders just encode


def test_routing_live_prompts_leaves_no_cache_files(gsm8k, tmp_path):
    from graphroute.routers.knn import KNNRouter

    enc = default_encoder(cache_dir=tmp_path)
    router = KNNRouter(encoder=enc).fit(gsm8k.subset(range(40)))
    shards = lambda: len(list(tmp_path.rglob("shard-*.npz")))  # noqa: E731
    assert shards() == 0  # the built-in prompts come from the shipped vectors
    for i in range(3):
        router.decide([f"What is {i} plus {i}?"])
    router.predict_quality(["Name a prime number."])
    assert shards() == 0 and enc.misses == 4
    from graphroute.datasets import RoutingDataset

    mine = RoutingDataset(name="mine", prompts=["What is 7 plus 7?", "Name a prime number."], models=gsm8k.models,
                          scores=gsm8k.scores[:2])
    first = router.score_dataset(mine)  # a dataset is scored again, so its vectors are stored
    assert shards() == 1 and np.allclose(router.score_dataset(mine), first) and enc.misses == 6


def test_other_encoder_ids_do_not_share_vectors(tmp_path):
    a = CachedEncoder(LangChainEncoder(DeterministicFakeEmbedding(size=8)), tmp_path)
    b = CachedEncoder(LangChainEncoder(DeterministicFakeEmbedding(size=8), id="other"), tmp_path)
    a.encode(["x"])
    b.encode(["x"])
    assert b.misses == 1


def test_langchain_encoder_rejects_non_embeddings():
    with pytest.raises(TypeError):
        LangChainEncoder(object())


def test_bad_model_path_is_a_typed_error(tmp_path):
    with pytest.raises(EncoderError):
        SentenceTransformerEncoder(str(tmp_path / "nope")).encode(["x"])


def test_onnx_backend_matches_sentence_transformers(minilm):
    from graphroute.encoders import OnnxEncoder, make_encoder

    texts = ["short", "a somewhat longer sentence about routing language models in LangGraph workflows", "x " * 3000,
             "a somewhat longer sentence about routing language models in LangGraph"]
    onnx = OnnxEncoder()
    v = onnx.encode(texts)  # length-sorted batches: the last text padded beside the second; the long one truncated
    assert np.min(np.sum(v * minilm.encode(texts), axis=1)) > 0.9999
    assert np.allclose(onnx.encode(texts[3:4])[0], v[3], atol=1e-5)  # unpadded alone, padded in the batch
    assert onnx.id == minilm.id  # same vectors, so caches and saved routers are shared
    assert make_encoder(backend="auto").id == minilm.id
    with pytest.raises(UnknownNameError, match="unknown encoder backend 'gpu'"):
        make_encoder(backend="gpu")


def test_batches_bound_their_padding():
    from graphroute.encoders.batching import padded_groups

    rng = np.random.default_rng(0)
    lengths = list(rng.integers(5, 256, size=300))
    groups = padded_groups(lengths, 8, 0.25)
    flat = np.concatenate(groups)
    assert sorted(flat) == list(range(300)) and list(np.asarray(lengths)[flat]) == sorted(lengths)
    for g in groups:
        ls = np.asarray(lengths)[g]
        assert 1 <= len(g) <= 8
        assert len(g) == 1 or len(g) * ls.max() <= 1.25 * ls.sum()
    assert [len(g) for g in padded_groups([30, 250, 60, 120], 8)] == [1, 1, 1, 1]  # never padded 30 -> 250
    assert [len(g) for g in padded_groups([100] * 20, 8)] == [8, 8, 4]
    assert [len(g) for g in padded_groups([100, 101, 102, 500], 8)] == [3, 1]
    assert [len(g) for g in padded_groups([100, 400], 8, max_padding=1e9)] == [2]  # unbounded: the old batching


def test_onnx_int8_has_its_own_id():
    from graphroute.encoders import OnnxEncoder

    q = OnnxEncoder(quantize=True)
    assert q.id.endswith("/onnx-int8")
    v = q.encode(["hello world", "bonjour le monde"])
    assert v.shape == (2, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_multi_layer_pooling_blocks_ids_and_variants(minilm):
    from graphroute.encoders import DEFAULT_LAYERS, make_encoder
    from graphroute.routers import HeadRouter

    texts = ["short", "a somewhat longer sentence about routing language models in LangGraph workflows", "x " * 3000,
             "a somewhat longer sentence about routing language models in LangGraph"]
    enc = make_encoder(layers=DEFAULT_LAYERS)
    assert enc.id == minilm.id + "+layers1-6"
    v = enc.encode(texts)
    assert v.shape == (4, 6 * 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    blocks = v.reshape(4, 6, 384)
    assert np.allclose(np.linalg.norm(blocks, axis=2), 1 / np.sqrt(6), atol=1e-5)  # each layer's block: same weight
    top = blocks[:, -1] * np.sqrt(6)  # the top layer's block is the model's usual sentence embedding
    assert np.min(np.sum(top * minilm.encode(texts), axis=1)) > 0.99999
    assert np.max(np.sum(blocks[:, 0] * blocks[:, -1], axis=1)) < 0.9 / 6  # lower layers carry other information
    assert np.allclose(enc.encode(texts[3:4])[0], v[3], atol=1e-4)  # unpadded alone, padded in a batch
    assert enc.encode([]).shape == (0, 2304)
    q8 = make_encoder(backend="onnx-int8", layers=DEFAULT_LAYERS)
    assert q8.id == enc.id + "/onnx-int8"
    assert np.min(np.sum(q8.encode(texts).reshape(4, 6, 384) * blocks, axis=2) * 6) > 0.8
    assert make_encoder(backend="onnx-int8", layers=[2, 4, 6]).id == minilm.id + "+layers2,4,6/onnx-int8"
    # a router fitted on one pooling takes the other's faster variants, never the other pooling
    prompts = ["add 2 and 3", "sum of 4 and 9", "write a sonnet", "compose a haiku about rain"]
    r = HeadRouter(C=10, encoder=enc).fit(prompts, [[1, 1], [1, 1], [0, 1], [0, 1]], models=["small", "big"])
    assert r.route(["add 7 and 8", "a poem about snow"], 0.5) == ["small", "big"]
    r.with_query_encoder(q8)
    assert r.route(["add 7 and 8", "a poem about snow"], 0.5) == ["small", "big"]
    with pytest.raises(EncoderError, match="not a variant"):
        r.with_query_encoder(minilm)
    plain = HeadRouter(C=10, encoder=minilm).fit(prompts, [[1, 1], [1, 1], [0, 1], [0, 1]], models=["small", "big"])
    with pytest.raises(EncoderError, match="not a variant"):
        plain.with_query_encoder(enc)


def test_torch_bf16_backend_is_a_close_variant_with_its_own_id(minilm):
    from graphroute.encoders import DEFAULT_LAYERS, make_encoder
    from graphroute.routers import HeadRouter

    texts = ["short", "a somewhat longer sentence about routing language models in LangGraph workflows", "x " * 3000]
    bf = make_encoder(backend="torch-bf16")
    assert bf.id == minilm.id + "/torch-bf16"
    v = bf.encode(texts)
    assert v.shape == (3, 384) and v.dtype == np.float32 and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(v * minilm.encode(texts), axis=1)) > 0.995  # bf16 forward, pooled in fp32
    fp32 = make_encoder(layers=DEFAULT_LAYERS)
    bfl = make_encoder(backend="torch-bf16", layers=DEFAULT_LAYERS)
    assert bfl.id == fp32.id + "/torch-bf16" and bfl.encode([]).shape == (0, 2304)
    vl = bfl.encode(texts)
    assert np.min(np.sum(vl.reshape(3, 6, 384) * fp32.encode(texts).reshape(3, 6, 384), axis=2) * 6) > 0.99
    prompts = ["add 2 and 3", "sum of 4 and 9", "write a sonnet", "compose a haiku about rain"]
    r = HeadRouter(C=10, encoder=fp32).fit(prompts, [[1, 1], [1, 1], [0, 1], [0, 1]], models=["small", "big"])
    r.with_query_encoder(bfl)
    assert r.encoder_.id.endswith("/torch-bf16")
    assert r.route(["add 7 and 8", "a poem about snow"], 0.5) == ["small", "big"]
    with pytest.raises(EncoderError, match="not a variant"):
        HeadRouter(C=10, encoder=minilm).fit(prompts, [[1, 1]] * 2 + [[0, 1]] * 2,
                                             models=["small", "big"]).with_query_encoder(bfl)


@pytest.mark.parametrize("layers", [[3, 2], [], [0, 7], [-1, 2]])
def test_multi_layer_pooling_rejects_bad_layer_lists(layers):
    from graphroute.encoders import OnnxEncoder

    with pytest.raises(EncoderError, match="layers must be"):
        OnnxEncoder(layers=layers).encode(["x"])


def test_multi_layer_pooling_needs_our_own_backends():
    from graphroute.encoders import make_encoder

    for backend in ("sentence-transformers", "static"):
        with pytest.raises(EncoderError, match="multi-layer pooling needs"):
            make_encoder(backend=backend, layers=(1, 2))


def test_router_accepts_only_variants_of_its_encoder_for_queries():
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from graphroute.encoders import LangChainEncoder, OnnxEncoder
    from graphroute.errors import EncoderError
    from graphroute.routers import KNNRouter

    prompts = ["add 2 and 3", "sum of 4 and 9", "write a sonnet", "compose a haiku about rain"]
    r = KNNRouter(k=2).fit(prompts, [[1, 1], [1, 1], [0, 1], [0, 1]], models=["small", "big"])
    exact = r.score(["add 7 and 8", "a poem about snow"])
    r.with_query_encoder(OnnxEncoder(quantize=True))
    assert r.encoder_.id.endswith("/onnx-int8")
    assert r.route(["add 7 and 8", "a poem about snow"], 0.5) == ["small", "big"]
    np.testing.assert_allclose(r.score(["add 7 and 8", "a poem about snow"]), exact, atol=0.3)
    with pytest.raises(EncoderError, match="not a variant"):
        r.with_query_encoder(LangChainEncoder(DeterministicFakeEmbedding(size=384)))


@pytest.mark.slow
def test_static_encoder_is_distilled_from_minilm_and_cached(tmp_path, monkeypatch):
    from graphroute.encoders import OnnxEncoder, StaticEncoder, make_encoder

    enc = StaticEncoder()
    assert make_encoder(backend="static").id == enc.id == "static/all-MiniLM-L6-v2"
    # a one-token text is exactly what the transformer gives for it alone
    words = ["rain", "integral", "court"]
    np.testing.assert_allclose(np.sum(enc.encode(words) * OnnxEncoder().encode(words), axis=1), 1.0, atol=2e-3)
    v = enc.encode(["What is the derivative of x squared?", "Compute the integral of 3x.", "Who wrote Hamlet?", ""])
    assert v[0] @ v[1] > v[0] @ v[2] and not v[3].any()  # an empty text has no tokens: a zero vector
    table = enc._table_file()
    assert table.is_file()
    table.write_bytes(b"not a numpy file")  # corrupt: rebuilt, not trusted
    again = StaticEncoder().encode(["What is the derivative of x squared?"])
    np.testing.assert_allclose(again[0], v[0], atol=1e-6)
    assert np.load(table).shape == (enc._source._tokenizer().get_vocab_size(), 384)


def test_router_on_the_static_encoder_saves_and_loads_it(tmp_path):
    from graphroute.routers import KNNRouter, Router

    prompts = ["add 2 and 3", "sum of 4 and 9", "write a sonnet", "compose a haiku about rain"]
    r = KNNRouter(k=2, encoder="static").fit(prompts, [[1, 1], [1, 1], [0, 1], [0, 1]], models=["small", "big"])
    assert r.encoder_id_ == "static/all-MiniLM-L6-v2"
    assert r.route(["add 7 and 8", "a poem about snow"], 0.5) == ["small", "big"]
    back = Router.load(r.save(tmp_path / "r") or tmp_path / "r")
    np.testing.assert_allclose(back.score(["add 7 and 8"]), r.score(["add 7 and 8"]), atol=1e-6)
