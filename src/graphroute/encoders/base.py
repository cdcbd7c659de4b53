"""The encoder protocol: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from graphroute.errors import EncoderError


@runtime_checkable
class Encoder(Protocol):
    """Anything that embeds texts.

    ``id`` names the model and every option that changes the vectors (it keys caches and is
    stored with saved routers, so that a router is never used with another encoder's vectors).
    """

    id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 array, rows L2-normalised."""
        ...


def normalise(vectors, n_expected: int, encoder_id: str) -> np.ndarray:
    """Check shape, cast to float32 and L2-normalise rows (zero rows stay zero)."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2 or v.shape[0] != n_expected:
        raise EncoderError(f"encoder {encoder_id!r} returned shape {v.shape} for {n_expected} texts")
    if not np.all(np.isfinite(v)):
        raise EncoderError(f"encoder {encoder_id!r} returned NaN or infinite values")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1.0, norms)
