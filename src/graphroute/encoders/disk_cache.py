"""On-disk embedding cache keyed by encoder id + SHA-1 of the text.

Layout: ``<cache_dir>/<encoder id, made file-safe>/shard-*.npz``, each shard holding ``keys``
(hex digests) and ``vectors``; ``meta.json`` records the encoder id. New vectors are written as
a new shard through a temporary file and an atomic rename, so an interrupted run leaves no
broken shard. Read-only layers (the precomputed embeddings shipped for the built-in datasets)
are consulted first. A shard that cannot be read is skipped with a warning, never trusted.

Only the shards' keys are read when the cache opens; a shard's vectors are read the first time one
of its texts is asked for, so opening a large cache (the classifier's 2,304-number multi-layer
vectors of both built-ins: 120 MB) costs little when the texts asked for are new, as routing
queries are. A shard whose vectors turn out unreadable is dropped then, and its texts embedded again.

Queries are not stored: ``encode_queries`` (what routers, the semantic cache, the bandit, the
allocator and retrieval use for texts arriving one request at a time) reads the cache but neither
writes a shard nor keeps the vector in memory. Storing them would add one shard file per request to
the user's cache and grow a long-running server's memory without bound. Fitting data, datasets and
corpora are stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from graphroute.encoders.base import Encoder


def default_cache_dir() -> Path:
    """``$GRAPHROUTE_CACHE`` or ``~/.cache/graphroute``, plus ``/embeddings``."""
    root = os.environ.get("GRAPHROUTE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "graphroute")
    return Path(root) / "embeddings"


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def safe_name(encoder_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", encoder_id)


def write_shard(folder: Path, encoder_id: str, keys: Sequence[str], vectors: np.ndarray, dtype=np.float32) -> Path:
    """Write one shard atomically (temporary file + rename) and the folder's meta.json."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "meta.json"
    if not meta.exists():
        tmp = folder / f".meta-{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps({"encoder_id": encoder_id, "dim": int(vectors.shape[1])}))
        os.replace(tmp, meta)
    final = folder / f"shard-{uuid.uuid4().hex}.npz"
    tmp = folder / f".{final.name}.tmp"
    with tmp.open("wb") as fh:
        np.savez(fh, keys=np.asarray(keys, dtype="S40"), vectors=np.asarray(vectors, dtype=dtype))
    os.replace(tmp, final)
    return final


class CachedEncoder:
    """Wrap an encoder with the on-disk cache; only texts never seen are embedded.

    Examples:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from graphroute.encoders import CachedEncoder, LangChainEncoder
        >>> enc = CachedEncoder(LangChainEncoder(DeterministicFakeEmbedding(size=8)), tempfile.mkdtemp())
        >>> v1 = enc.encode(["hello", "world"]); v2 = enc.encode(["world"])
        >>> enc.misses, bool((v1[1] == v2[0]).all())
        (2, True)
    """

    def __init__(self, encoder: Encoder, cache_dir: str | Path | None = None, *,
                 read_only_dirs: Sequence[str | Path] = ()) -> None:
        self.encoder = encoder
        self.id = encoder.id
        self.layers = getattr(encoder, "layers", None)  # a multi-layer encoder's blocks (see encoders/batching.py)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.read_only_dirs = [Path(d) for d in read_only_dirs]
        self._index: dict[str, tuple[int, int]] | None = None
        self._blocks: list[np.ndarray | None] = []
        self._paths: list[Path | None] = []
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def folder(self) -> Path:
        return self.cache_dir / safe_name(self.id)

    def _load_index(self) -> dict[str, tuple[int, int]]:
        if self._index is not None:
            return self._index
        index: dict[str, tuple[int, int]] = {}
        folders = [d / safe_name(self.id) for d in self.read_only_dirs] + [self.folder]
        for folder in folders:
            meta = folder / "meta.json"
            if not meta.is_file():
                continue
            try:
                if json.loads(meta.read_text()).get("encoder_id") != self.id:
                    warnings.warn(f"{meta}: made by another encoder; ignored", stacklevel=3)
                    continue
            except (OSError, ValueError):
                warnings.warn(f"{meta}: unreadable; cache folder ignored", stacklevel=3)
                continue
            for shard in sorted(folder.glob("shard-*.npz")):
                try:
                    with np.load(shard, allow_pickle=False) as z:
                        keys = z["keys"]
                    if keys.ndim != 1:
                        raise ValueError("keys are not a list")
                except Exception as exc:  # corrupt or truncated shard: never trust it
                    warnings.warn(f"{shard}: unreadable embedding cache shard ignored ({exc})", stacklevel=3)
                    continue
                b = len(self._blocks)
                self._blocks.append(None)  # vectors read on first use (_block)
                self._paths.append(shard)
                for i, k in enumerate(keys.astype(str)):
                    index.setdefault(k, (b, i))
        self._index = index
        return index

    def _block(self, b: int, index: dict[str, tuple[int, int]]) -> bool:
        """Read shard ``b``'s vectors if not yet read; a shard that fails is forgotten (False)."""
        if self._blocks[b] is not None:
            return True
        shard = self._paths[b]
        assert shard is not None
        try:
            with np.load(shard, allow_pickle=False) as z:
                keys, vecs = z["keys"], z["vectors"].astype(np.float32)
            if vecs.ndim != 2 or len(keys) != len(vecs):
                raise ValueError("keys and vectors disagree")
        except Exception as exc:
            warnings.warn(f"{shard}: unreadable embedding cache shard ignored ({exc})", stacklevel=4)
            for k in [k for k, (bb, _) in index.items() if bb == b]:
                del index[k]
            return False
        self._blocks[b] = vecs
        return True

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``; those not cached are embedded and stored (a new shard)."""
        return self._encode(list(texts), store=True)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like ``encode``, but texts not cached are embedded without being stored."""
        return self._encode(list(texts), store=False)

    def _encode(self, texts: list[str], store: bool) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        with self._lock:
            index = self._load_index()
            for b in {index[k][0] for k in keys if k in index}:
                self._block(b, index)
            todo = {k: t for k, t in zip(keys, texts) if k not in index}
            missing = list(todo)
            self.hits += sum(1 for k in keys if k in index)
            if missing and not store:
                self.misses += len(missing)
                fresh = dict(zip(missing, encode_queries(self.encoder, [todo[k] for k in missing])))
                return np.stack([fresh[k] if k in fresh else self._vec(*index[k]) for k in keys])
            if missing:
                vecs = self.encoder.encode([todo[k] for k in missing])
                self.misses += len(missing)
                try:
                    write_shard(self.folder, self.id, missing, vecs)
                except OSError as exc:
                    warnings.warn(f"could not write embedding cache in {self.folder}: {exc}", stacklevel=2)
                b = len(self._blocks)
                self._blocks.append(np.asarray(vecs, dtype=np.float32))
                self._paths.append(None)
                for i, k in enumerate(missing):
                    index[k] = (b, i)
            if not texts:
                dim = next((v.shape[1] for v in self._blocks if v is not None), 0)
                return np.zeros((0, dim), dtype=np.float32)
            return np.stack([self._vec(*index[k]) for k in keys])

    def _vec(self, b: int, i: int) -> np.ndarray:
        block = self._blocks[b]
        assert block is not None  # read by _block before use
        return block[i]


def encode_queries(encoder, texts: Sequence[str]) -> np.ndarray:
    """Embed query texts with ``encoder``: a cache is read but not written (see the module docstring)."""
    fn = getattr(encoder, "encode_queries", None)
    return fn(texts) if fn is not None else encoder.encode(texts)
