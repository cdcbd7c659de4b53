"""How familiar a prompt is to a router: is it like the prompts the router learned from?

A router fitted on MMLU outcomes predicts something for "What is 2 + 2?" too, but nothing it
learned speaks to it. Familiarity measures that: the mean cosine similarity of a prompt's ``k``
nearest training prompts (its *nearest similarity*), ranked against the same statistic of the
training prompts themselves, each measured against the others (leave one out). Familiarity 0.5
is a median training prompt; 0.02 means only 2 % of training prompts sit further from their
neighbours. For prompts drawn like the training data familiarity is uniform on 0-1, so a policy's
``min_familiarity=0.05`` flags about 5 % of them, and most prompts from elsewhere.

The neighbours are searched among a fixed sample of at most ``REFERENCE_SIZE`` training
prompts, in the encoder's *form view*: for a multi-layer encoder (``encoder="layers"``, the
classifier's) the lower half of its layers, which keep the wording and format that the top layer's
topic vector blurs; for a one-layer encoder, the vector itself (which sees topics only: to an MMLU
router, maths word problems look familiar, since MMLU has maths questions too). How well it
separates is measured by ``benchmarks/familiarity.py`` (the docs' benchmarks page).

Examples:
    >>> import numpy as np
    >>> from graphroute.routers.familiarity import Familiarity
    >>> rng = np.random.default_rng(0)
    >>> V = rng.normal(size=(300, 8)) + [4, 0, 0, 0, 0, 0, 0, 0]
    >>> V = (V / np.linalg.norm(V, axis=1, keepdims=True)).astype(np.float32)
    >>> fam = Familiarity.fit(V, blocks=1, k=5)
    >>> far = np.array([[-1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    >>> bool(fam.score(V[:50])[0].mean() > 0.5), float(fam.score(far)[0][0])
    (True, 0.0)
"""

from __future__ import annotations

import numpy as np

from graphroute.index import VectorIndex

#: Nearest training prompts averaged.
K = 10
#: Training prompts kept as the reference sample, at most.
REFERENCE_SIZE = 2000


def form_view(V: np.ndarray, blocks: int) -> np.ndarray:
    """The vectors familiarity compares: the lower half of ``blocks`` equal layer blocks (all of a
    one-block vector), renormalised."""
    if blocks > 1:
        V = V[:, : (V.shape[1] // blocks) * max(1, blocks // 2)]
    V = np.asarray(V, dtype=np.float32)
    return np.ascontiguousarray(V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12))


class Familiarity:
    """A reference sample of training prompts (in the form view) and its leave-one-out statistic."""

    def __init__(self, vectors: np.ndarray, reference: np.ndarray, k: int, blocks: int) -> None:
        self.k, self.blocks = int(k), int(blocks)
        self.reference = np.sort(np.asarray(reference, dtype=np.float64))
        self.index = VectorIndex(vectors.shape[1], "flat")
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def fit(cls, V: np.ndarray, *, blocks: int = 1, k: int = K, size: int = REFERENCE_SIZE,
            seed: int = 0) -> "Familiarity":
        """From the training vectors ``V`` (a fixed random sample of ``size`` of them when there are more)."""
        rows = np.arange(len(V)) if len(V) <= size else np.sort(np.random.default_rng(seed).choice(len(V), size, replace=False))
        X = form_view(V[rows], blocks)
        k = max(1, min(k, len(X) - 1))
        fam = cls(X, np.zeros(0), k, blocks)
        if len(X) >= 2:  # each sampled prompt against the others: its first neighbour is itself
            fam.reference = np.sort(_mean_valid(fam.index.search(X, k + 1)[0][:, 1:]))
        return fam

    def score(self, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(familiarity, nearest similarity)`` of each row of ``V`` (the router's own vectors)."""
        near = _mean_valid(self.index.search(form_view(V, self.blocks), self.k)[0])
        if not len(self.reference):
            return np.full(len(near), np.nan), near
        return np.searchsorted(self.reference, near, side="left") / len(self.reference), near

    def state(self) -> dict[str, np.ndarray]:
        return {"familiarity_vectors": self.index.vectors().astype(np.float16),
                "familiarity_reference": self.reference, "familiarity_k": np.asarray(self.k),
                "familiarity_blocks": np.asarray(self.blocks)}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "Familiarity | None":
        if "familiarity_vectors" not in state:
            return None
        return cls(np.asarray(state["familiarity_vectors"], dtype=np.float32), state["familiarity_reference"],
                   int(state["familiarity_k"]), int(state["familiarity_blocks"]))


def _mean_valid(sims: np.ndarray) -> np.ndarray:
    """Row means over real similarities (FAISS marks missing neighbours with a huge negative value)."""
    sims = np.asarray(sims, dtype=np.float64)
    ok = sims > -2.0
    return np.where(ok, sims, 0.0).sum(axis=1) / np.maximum(ok.sum(axis=1), 1)
