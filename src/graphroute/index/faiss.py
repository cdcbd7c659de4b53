"""FAISS inner-product index over L2-normalised vectors, with stable ids, add/remove and save/load.

``kind="auto"`` is exact (``IndexFlatIP``) up to ``APPROX_THRESHOLD`` vectors and an IVF index
(``IndexIVFFlat``, ``nlist = 4·sqrt(n)``, ``nprobe`` 32) above it; exact search grows linearly with
the vectors (``benchmarks/index_speed.py``). Exact search reads the FAISS flat storage in place and
selects the top k with numpy (one BLAS product + ``argpartition``): FAISS's own flat search keeps a
k-heap per query, slow for the wide neighbourhoods routers use (k=400). Nothing here changes a
process-wide thread setting. Adding or removing vectors never rebuilds; the one rebuild is the
switch from exact to IVF when ``auto`` crosses the threshold (IVF needs data to train its coarse
quantiser).

Saved as ``index.faiss`` beside ``graphroute.json`` (kind, dimension, count and the file's SHA-256;
``graphroute.persist``): a truncated or altered file raises ``PersistenceError``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from graphroute.errors import PersistenceError
from graphroute.persist import read_folder, save_folder

Kind = Literal["auto", "flat", "ivf"]
APPROX_THRESHOLD = 20_000
QUERY_CHUNK = 256  # exact search scores this many queries at a time (bounds the score matrix)
KIND = "index"


def _faiss():
    import faiss

    return faiss


class VectorIndex:
    """Nearest neighbours by cosine similarity (inner product of normalised vectors).

    Examples:
        >>> import numpy as np
        >>> from graphroute.index import VectorIndex
        >>> idx = VectorIndex(dim=2)
        >>> ids = idx.add(np.array([[1, 0], [0, 1]], dtype=np.float32))
        >>> sims, found = idx.search(np.array([[0.9, 0.1]], dtype=np.float32), k=1)
        >>> found.tolist(), len(idx)
        ([[0]], 2)
    """

    def __init__(self, dim: int, kind: Kind = "auto", *, approx_threshold: int = APPROX_THRESHOLD, nprobe: int = 32) -> None:
        if kind not in ("auto", "flat", "ivf"):
            raise ValueError(f"kind must be 'auto', 'flat' or 'ivf', got {kind!r}")
        self.dim = int(dim)
        self.kind = kind
        self.approx_threshold = approx_threshold
        self.nprobe = nprobe
        self._index: Any = None
        self._built = "flat"
        self._next_id = 0
        self._store: dict[int, np.ndarray] = {}
        self._flat: tuple[np.ndarray, np.ndarray] | None = None  # (stored vectors, their ids), read in place

    # ------------------------------------------------------------------ building
    def _new(self, built: str, train: np.ndarray | None = None) -> Any:
        faiss = _faiss()
        if built == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        assert train is not None  # an IVF index is trained on the vectors it will hold
        nlist = max(1, min(int(4 * math.sqrt(len(train))), len(train) // 39))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(train)
        index.nprobe = min(self.nprobe, nlist)
        return index

    def _want_ivf(self, n: int) -> bool:
        return self.kind == "ivf" or (self.kind == "auto" and n >= self.approx_threshold)

    def _rebuild(self) -> None:
        ids = np.fromiter(self._store, dtype=np.int64, count=len(self._store))
        vecs = np.stack([self._store[i] for i in ids]) if len(ids) else np.zeros((0, self.dim), np.float32)
        self._built = "ivf" if self._want_ivf(len(ids)) and len(ids) >= 39 else "flat"
        self._flat = None
        self._index = self._new(self._built, vecs if self._built == "ivf" else None)
        if len(ids):
            self._index.add_with_ids(vecs, ids)

    def _check(self, vectors) -> np.ndarray:
        v = np.ascontiguousarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {v.shape}")
        return v

    def add(self, vectors, ids=None) -> np.ndarray:
        """Add vectors; returns their ids (new ids are assigned when ``ids`` is None)."""
        v = self._check(vectors)
        if ids is None:
            ids = np.arange(self._next_id, self._next_id + len(v), dtype=np.int64)
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(v) or len(set(ids.tolist())) != len(ids) or any(int(i) in self._store for i in ids):
            raise ValueError("ids must be unique, new, and one per vector")
        for i, row in zip(ids.tolist(), v):
            self._store[i] = row
        self._next_id = max(self._next_id, int(ids.max()) + 1 if len(ids) else 0)
        self._flat = None
        if self._index is None or (self._built == "flat" and self._want_ivf(len(self._store))):
            self._rebuild()
        else:
            self._index.add_with_ids(v, ids)
        return ids

    def remove(self, ids) -> int:
        """Remove vectors by id; returns how many were removed."""
        ids = [int(i) for i in np.atleast_1d(ids) if int(i) in self._store]
        for i in ids:
            del self._store[i]
        if ids and self._index is not None:
            self._flat = None
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
        return len(ids)

    # ------------------------------------------------------------------ querying
    def __len__(self) -> int:
        return len(self._store)

    @property
    def built_kind(self) -> str:
        """``flat`` or ``ivf``: what the index is now."""
        return self._built

    def ids(self) -> np.ndarray:
        """Ids of the stored vectors, ascending."""
        return np.sort(np.fromiter(self._store, dtype=np.int64, count=len(self._store)))

    def vectors(self, ids=None) -> np.ndarray:
        """The stored vectors of ``ids`` (default: all, by ascending id), (n, dim) float32."""
        ids = self.ids() if ids is None else np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._store[int(i)] for i in ids])

    def search(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids), each (n_queries, k'); k' = min(k, len). Missing neighbours have id -1."""
        q = self._check(queries)
        if not self._store:
            raise ValueError("search on an empty index")
        k = min(int(k), len(self._store))
        if self._built == "flat":
            return self._exact(q, k)
        return self._index.search(q, k)

    def _exact(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k by inner product over the flat index's storage (read in place, not copied)."""
        if self._flat is None:
            faiss = _faiss()
            inner = faiss.downcast_index(self._index.index)
            n = inner.ntotal
            xb = faiss.rev_swig_ptr(inner.get_xb(), n * self.dim).reshape(n, self.dim)
            self._flat = (xb, faiss.vector_to_array(self._index.id_map))
        xb, ids = self._flat
        n = len(xb)
        sims, found = [np.zeros((0, k), np.float32)], [np.zeros((0, k), np.int64)]  # no queries: empty results
        for start in range(0, len(q), QUERY_CHUNK):
            S = q[start:start + QUERY_CHUNK] @ xb.T
            top = np.argpartition(S, n - k, axis=1)[:, n - k:] if k < n else np.broadcast_to(np.arange(n), S.shape)
            s = np.take_along_axis(S, top, axis=1)
            order = np.argsort(-s, axis=1, kind="stable")
            sims.append(np.take_along_axis(s, order, axis=1))
            found.append(ids[np.take_along_axis(top, order, axis=1)])
        return np.concatenate(sims), np.concatenate(found)

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write the index to ``folder`` (``graphroute.json`` with the file's SHA-256, ``index.faiss``)."""
        faiss = _faiss()
        data = faiss.serialize_index(self._index).tobytes() if self._index is not None else b""
        meta = {"dim": self.dim, "index_kind": self.kind, "built": self._built, "approx_threshold": self.approx_threshold,
                "nprobe": self.nprobe, "count": len(self._store), "next_id": self._next_id,
                "sha256": hashlib.sha256(data).hexdigest()}
        return save_folder(folder, KIND, meta, write=lambda tmp: (tmp / "index.faiss").write_bytes(data))

    @classmethod
    def load(cls, folder: str | Path) -> "VectorIndex":
        """Read what ``save`` wrote; any mismatch raises ``PersistenceError``."""
        faiss = _faiss()
        saved = read_folder(folder, KIND)
        meta, folder = saved.meta, saved.path
        try:
            data = (folder / "index.faiss").read_bytes()
        except FileNotFoundError:
            raise PersistenceError("missing index.faiss", path=folder) from None
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise PersistenceError("index.faiss does not match its checksum (truncated or altered)", path=folder / "index.faiss")
        idx = cls(meta["dim"], meta["index_kind"], approx_threshold=meta["approx_threshold"], nprobe=meta["nprobe"])
        idx._built, idx._next_id = meta["built"], meta["next_id"]
        if data:
            try:
                idx._index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
            except RuntimeError as exc:
                raise PersistenceError(f"index.faiss is unreadable: {exc}", path=folder / "index.faiss") from None
            if idx._index.ntotal != meta["count"] or idx._index.d != meta["dim"]:
                raise PersistenceError("index.faiss disagrees with graphroute.json", path=folder)
            if idx._built == "flat":
                ids = faiss.vector_to_array(idx._index.id_map)
                vecs = idx._index.index.reconstruct_n(0, idx._index.ntotal)
            else:
                ids, vecs = _ivf_contents(faiss, idx._index)
            idx._store = {int(i): v for i, v in zip(ids, vecs)}
        return idx


def _ivf_contents(faiss, index) -> tuple[np.ndarray, np.ndarray]:
    """Ids and vectors stored in an IVF index (read list by list)."""
    invlists = index.invlists
    ids, vecs = [], []
    for lst in range(index.nlist):
        n = invlists.list_size(lst)
        if not n:
            continue
        ids.append(faiss.rev_swig_ptr(invlists.get_ids(lst), n).copy())
        codes = faiss.rev_swig_ptr(invlists.get_codes(lst), n * index.code_size).copy()
        vecs.append(codes.view(np.float32).reshape(n, index.d))
    if not ids:
        return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
    return np.concatenate(ids), np.concatenate(vecs)
