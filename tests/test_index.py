"""FAISS VectorIndex: exact and IVF, add/remove without rebuilding, checksummed persistence."""

from __future__ import annotations

import numpy as np
import pytest

from graphroute.errors import PersistenceError
from graphroute.index import VectorIndex


def _unit(n, d=32, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_search_add_remove(kind):
    V = _unit(2000)
    idx = VectorIndex(32, kind)
    ids = idx.add(V[:1500])
    more = idx.add(V[1500:])
    assert idx.built_kind == kind and len(idx) == 2000 and more[0] == 1500
    sims, found = idx.search(V[[3, 1600]], 1)
    assert found[:, 0].tolist() == [3, 1600] and np.allclose(sims[:, 0], 1.0, atol=1e-5)
    assert idx.remove([3, 99999]) == 1
    assert 3 not in idx.search(V[[3]], 5)[1][0]
    assert len(idx) == 1999 and ids[0] == 0


def test_exact_search_matches_faiss_and_follows_changes():
    V = _unit(3000, d=48)
    idx = VectorIndex(48, "flat")
    idx.add(V)
    Q = _unit(40, d=48, seed=2)
    for k in (1, 7, 400, 3000, 5000):  # k above the size gives every vector
        sims, found = idx.search(Q, k)
        want_sims, want_ids = idx._index.search(Q, min(k, 3000))  # FAISS's own flat search
        np.testing.assert_allclose(sims, want_sims, atol=1e-5)
        # the same neighbours (ranks may swap only between similarities equal to float rounding)
        assert all(len(set(a) & set(b)) >= 0.99 * len(a) for a, b in zip(found, want_ids))
        if k <= 7:
            np.testing.assert_array_equal(found, want_ids)
        assert np.all(np.diff(sims, axis=1) <= 0)
    best = idx.search(Q[:1], 1)[1][0, 0]
    idx.remove([best])  # the in-place view of the storage is refreshed after changes
    assert idx.search(Q[:1], 1)[1][0, 0] != best
    new = idx.add(Q[:1])
    assert idx.search(Q[:1], 1)[1][0, 0] == new[0]


def test_auto_switches_to_ivf_above_threshold():
    idx = VectorIndex(32, "auto", approx_threshold=500)
    idx.add(_unit(400))
    assert idx.built_kind == "flat"
    idx.add(_unit(200, seed=1))
    assert idx.built_kind == "ivf" and len(idx) == 600


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_save_load_round_trip(tmp_path, kind):
    V = _unit(1000)
    idx = VectorIndex(32, kind)
    idx.add(V)
    idx.remove([7])
    idx.save(tmp_path)
    again = VectorIndex.load(tmp_path)
    assert len(again) == 999 and again.built_kind == kind
    np.testing.assert_array_equal(again.search(V[:20], 5)[1], idx.search(V[:20], 5)[1])
    assert again.add(V[:1])[0] == 1000  # ids continue after the saved ones


def test_corrupt_or_truncated_index_is_refused(tmp_path):
    idx = VectorIndex(32)
    idx.add(_unit(50))
    idx.save(tmp_path)
    data = (tmp_path / "index.faiss").read_bytes()
    (tmp_path / "index.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(PersistenceError, match="checksum"):
        VectorIndex.load(tmp_path)
    (tmp_path / "graphroute.json").write_text("{")
    with pytest.raises(PersistenceError, match="corrupt"):
        VectorIndex.load(tmp_path)
    with pytest.raises(PersistenceError, match="not a saved index"):
        VectorIndex.load(tmp_path / "nothing")


def test_bad_shapes_and_ids():
    idx = VectorIndex(8)
    with pytest.raises(ValueError):
        idx.add(np.zeros((2, 4), np.float32))
    idx.add(_unit(2, 8), ids=[5, 6])
    with pytest.raises(ValueError):
        idx.add(_unit(1, 8), ids=[5])
    with pytest.raises(ValueError):
        VectorIndex(8).search(_unit(1, 8), 1)
