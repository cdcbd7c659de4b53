"""The one encoder mixin of estimators that embed texts (routers, semantic routes, scorers, utilities).

``encoder`` is a constructor parameter (an encoder spec, see ``graphroute.encoders.select``);
``encoder_`` is the encoder it resolves to, built on first use; ``encoder_spec()`` is what a save
keeps so that ``load`` rebuilds the same encoder; an Encoder object cannot be saved, so its
estimator is loaded with ``encoder=`` given again, and the saved encoder id is checked either way
(``graphroute.persist.Saved.check_encoder``).

Examples:
    >>> from graphroute.encoders.mixin import EncoderMixin
    >>> class Thing(EncoderMixin):
    ...     def __init__(self, encoder=None):
    ...         self.encoder = encoder
    >>> Thing("static").encoder_spec(), Thing(object()).encoder_spec()
    ('static', None)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from graphroute.encoders.disk_cache import encode_queries
from graphroute.encoders.select import resolve_encoder


class EncoderMixin:
    """Adds ``encoder_``, ``use_encoder``, ``encoder_spec`` and ``embed_texts`` to an estimator."""

    encoder: Any = None

    @property
    def encoder_(self) -> Any:
        """The resolved encoder (built from ``encoder`` on first use, then shared)."""
        if getattr(self, "_encoder", None) is None:
            self._encoder = resolve_encoder(self.encoder)
        return self._encoder

    def use_encoder(self, encoder: Any) -> None:
        """Use this resolved encoder object (an ensemble hands its own to every member)."""
        self._encoder = encoder

    def encoder_spec(self) -> str | None:
        """The ``encoder`` parameter as it can be saved: a spec string, or None for an object."""
        return self.encoder if isinstance(self.encoder, str) else None

    def embed_texts(self, texts: Sequence[str], *, store: bool = True) -> np.ndarray:
        """Normalised float32 vectors; ``store=False`` (live queries) reads the disk cache without
        adding to it (``encoders/disk_cache.py``)."""
        texts = list(texts)
        V = self.encoder_.encode(texts) if store else encode_queries(self.encoder_, texts)
        return np.ascontiguousarray(V, dtype=np.float32)
