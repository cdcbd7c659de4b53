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
    (tmp_path / "index.json").write_text("{")
    with pytest.raises(PersistenceError, match="corrupt"):
        VectorIndex.load(tmp_path)
    with pytest.raises(PersistenceError, match="missing"):
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
