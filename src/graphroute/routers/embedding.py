"""Base of routers that work on prompt embeddings.

Subclasses implement ``_fit_vectors(V, data)`` and ``_predict_vectors(V, prompts)`` (V: normalised
embeddings). This class embeds prompts once per call, measures how familiar each prompt is to the
training data (``graphroute.routers.familiarity``), checks the encoder on load, and lets an
ensemble hand the same vectors to all its members.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.encoders import EncoderMixin
from graphroute.errors import EncoderError, GraphRouteWarning
from graphroute.persist import Saved
from graphroute.prompts import check_prompts
from graphroute.routers.base import Router
from graphroute.routers.familiarity import Familiarity


def warn_collapsed(V: np.ndarray, prompts: Sequence[str], name: str, share: float = 0.05) -> int:
    """Warn when more than ``share`` of the distinct prompts embed to exactly the vector of another
    one: the encoder reads a prompt's first tokens only (MiniLM: 256), so prompts that differ only
    after a long shared prefix (few-shot examples before the question) look alike to every
    embedding router. Returns how many prompts collapsed.
    """
    distinct = dict.fromkeys(prompts)
    if len(distinct) < 2:
        return 0
    first = {p: i for i, p in enumerate(prompts)}
    rows = np.asarray([first[p] for p in distinct])
    _, inverse, counts = np.unique(np.round(V[rows], 6), axis=0, return_inverse=True, return_counts=True)
    collapsed = int(counts[counts > 1].sum())
    if collapsed > share * len(rows):
        warnings.warn(GraphRouteWarning(
            f"{name}: {collapsed} of {len(rows)} distinct prompts embed to the same vector as another one "
            f"({int((counts > 1).sum())} such vectors): the encoder reads only a prompt's first tokens, and these "
            "differ after them (e.g. few-shot examples before the question): embed their ends (encoder='ends'), put the "
            "question first, or route on it"),
            stacklevel=3)
    return collapsed


class EmbeddingRouter(EncoderMixin, Router):
    """A router whose predictions are a function of the prompt's embedding."""

    familiarity_: Familiarity | None = None

    def with_query_encoder(self, encoder: Any) -> "EmbeddingRouter":
        """Embed new queries with a faster variant of the fitted encoder (the fitted examples stay).

        An explicit opt-in for speed: only variants of the same model and pooling are accepted
        (their id is the fitted encoder's plus ``/<variant>``, as the int8 ONNX export of
        ``make_encoder(backend="onnx-int8")`` gives with the same ``layers``). Their vectors differ a
        little (cosine about 0.95 for int8), so decisions can differ from the fp32 ones.
        """
        fitted = getattr(self, "encoder_id_", None) or self.encoder_.id
        if not (str(encoder.id) == fitted or str(encoder.id).startswith(fitted + "/")):
            raise EncoderError(f"query encoder {encoder.id!r} is not a variant of the fitted encoder {fitted!r}")
        self.use_encoder(encoder)
        return self

    def use_encoder(self, encoder: Any) -> None:
        self._encoder = encoder
        for m in getattr(self, "_members", []):
            if isinstance(m, EmbeddingRouter):
                m.use_encoder(encoder)

    def embed(self, X: Sequence[str], *, store: bool = True) -> np.ndarray:
        """Normalised vectors of ``X``; ``store=False`` (queries) leaves the disk cache unchanged."""
        return self.embed_texts(check_prompts(X), store=store)

    def _fit(self, data: RoutingDataset) -> None:
        self.encoder_id_ = self.encoder_.id
        V = self.embed(data.prompts)
        warn_collapsed(V, data.prompts, data.name)
        self._fit_vectors(V, data)
        self._fit_familiarity(V)

    def predict_quality(self, X: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        X = check_prompts(X)
        if not X:
            return np.zeros((0, len(self.models_)))
        return self._predict_vectors(self.embed(X, store=False), X)

    def quality_dataset(self, data: RoutingDataset) -> np.ndarray:
        """Predicted quality on a dataset's prompts, whose vectors are cached (datasets are scored again)."""
        self._check_fitted()
        return self._predict_vectors(self.embed(data.prompts), data.prompts)

    # ------------------------------------------------------------------ familiarity
    def _fit_familiarity(self, V: np.ndarray) -> None:
        blocks = len(getattr(self.encoder_, "layers", None) or ()) or 1
        self.familiarity_ = Familiarity.fit(V, blocks=blocks)

    def _predict_for_decisions(self, prompts: list[str]):
        self._check_fitted()
        V = self.embed(prompts, store=False)
        q = self._predict_vectors(V, prompts)
        return q, (self.familiarity_.score(V) if self.familiarity_ is not None else None)

    def familiarity(self, X: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """``(familiarity, nearest similarity)`` of each prompt (see ``graphroute.routers.familiarity``)."""
        self._check_fitted()
        if self.familiarity_ is None:
            return None
        return self.familiarity_.score(self.embed(check_prompts(X), store=False))

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        """Learn from the embeddings ``V`` of ``data.prompts``."""

    @abstractmethod
    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str]) -> np.ndarray:
        """(n, models) predicted quality from the prompts' embeddings ``V`` (and texts)."""

    # ------------------------------------------------------------------ persistence
    def _saved_params(self) -> dict[str, Any]:
        return {**self.get_params(), "encoder": self.encoder_spec()}

    def _encoder_id(self) -> str | None:
        return self.encoder_id_

    def _state(self) -> dict[str, np.ndarray]:
        return {**self._vector_state(), **(self.familiarity_.state() if self.familiarity_ is not None else {})}

    def _load(self, saved: Saved) -> None:
        saved.check_encoder(self.encoder_.id)
        self.encoder_id_ = saved.encoder_id
        state = saved.arrays()
        self._set_vector_state(state, saved)
        self.familiarity_ = Familiarity.from_state(state)

    def _vector_state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_vector_state(self, state: dict[str, np.ndarray], saved: Saved) -> None:
        pass


class PromptOnlyRouter(EmbeddingRouter):
    """An ``EmbeddingRouter`` that reads only the prompt texts, never their embeddings.

    It still accepts ``encoder`` so a stack can hand it the shared vectors; alone it skips the
    encoder entirely (saved with encoder id ``"none"``, loadable with any encoder), and it reports
    no familiarity.
    """

    def embed(self, X: Sequence[str], *, store: bool = True) -> np.ndarray:
        return np.zeros((len(check_prompts(X)), 0), dtype=np.float32)

    def _fit(self, data: RoutingDataset) -> None:
        self.encoder_id_ = "none"
        self._fit_vectors(self.embed(data.prompts), data)

    def _fit_familiarity(self, V: np.ndarray) -> None:
        pass

    def _load(self, saved: Saved) -> None:
        self.encoder_id_ = "none"
        self._set_vector_state(saved.arrays(), saved)


def fit_member(router: EmbeddingRouter, encoder: Any, V: np.ndarray, data: RoutingDataset,
               costs: dict[str, float] | None) -> EmbeddingRouter:
    """Fit ``router`` on vectors already embedded by ``encoder`` (an ensemble's member or expert)."""
    router.use_encoder(encoder)
    router.models_, router.weak_, router.strong_ = list(data.models), data.weak, data.strong
    router.costs_ = costs
    router.encoder_id_ = encoder.id if not isinstance(router, PromptOnlyRouter) else "none"
    router._fit_vectors(V, data)
    return router
