"""Word n-gram router: TF-IDF of the prompt's words and word pairs, one ridge regression per model.

Lexical cues that an embedding blurs ("EXCEPT", "NOT", "Statement", a subject's jargon) carry
routing signal of their own; as a member of the stacked classifier this router adds them.

Fitting uses scikit-learn's ``TfidfVectorizer`` and ``Ridge``, saved with ``skops.io``. Prediction
reads the fitted vocabulary, idf weights and coefficients directly: a dictionary lookup per n-gram
of the prompt (one prompt in tens of microseconds; the vectorizer's own ``transform`` costs a
fraction of a millisecond more per call), and no encoder.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.persist import Saved
from graphroute.routers.base import ROUTERS
from graphroute.routers.embedding import PromptOnlyRouter

#: scikit-learn's default word pattern ``\b\w\w+\b`` (runs of two or more word characters), which
#: matches exactly the same runs without the boundary checks, and faster.
TOKEN = re.compile(r"\w\w+")


def word_ngrams(text: str, n: int) -> list[str]:
    """Lower-cased words of ``text`` and their runs of up to ``n`` words, as ``TfidfVectorizer`` makes them."""
    words = TOKEN.findall(text.lower())
    grams = list(words)
    for size in range(2, n + 1):
        grams += map(" ".join, zip(*(words[k:] for k in range(size))))
    return grams


@ROUTERS.register("text")
class TextRouter(PromptOnlyRouter):
    """Ridge regressions of each model's quality on TF-IDF word n-grams of the prompt.

    ``ngrams``: longest word run used (2: words and word pairs); ``min_df``: n-grams seen in fewer
    training prompts are dropped; ``max_features``: the most frequent n-grams kept; ``alpha``: the
    ridge penalty. Log-scaled term counts, smoothed idf, unit-length rows (scikit-learn's
    ``sublinear_tf=True``).

    Examples:
        >>> from graphroute.routers import TextRouter
        >>> easy = [f"What is {i} plus {i}?" for i in range(20)]
        >>> hard = [f"Prove the lemma on lattice number {i} rigorously." for i in range(20)]
        >>> r = TextRouter(alpha=1.0).fit(easy + hard, [[1, 1]] * 20 + [[0, 1]] * 20, models=["small", "big"])
        >>> r.route(["What is 7 plus 7?", "Prove the lemma rigorously."], threshold=0.5)
        ['small', 'big']
    """

    def __init__(self, alpha: float = 3.0, ngrams: int = 2, min_df: int = 2, max_features: int = 200_000,
                 encoder: Any = None) -> None:
        self.alpha = alpha
        self.ngrams = ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.encoder = encoder

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge

        if not (isinstance(self.ngrams, int) and 1 <= self.ngrams <= 4):
            raise ValueError(f"ngrams must be an integer from 1 to 4, got {self.ngrams!r}")
        vec = TfidfVectorizer(ngram_range=(1, self.ngrams), min_df=min(self.min_df, len(data)), sublinear_tf=True,
                              max_features=self.max_features, dtype=np.float32)
        lo, hi = data.score_range
        self._range = np.array([lo, hi], dtype=np.float64)
        Y = (data.scores - lo) / ((hi - lo) or 1.0)
        try:
            X = vec.fit_transform(data.prompts)
        except ValueError:  # no prompt has a word of two letters: nothing to learn but the means
            self.estimators_ = {}
            self._mean = Y.mean(axis=0)
            self._set_vocabulary()
            return
        self.estimators_ = {"tfidf": vec, "ridge": Ridge(alpha=self.alpha).fit(X, Y)}
        self._set_vocabulary()

    def _set_vocabulary(self) -> None:
        """The fast path's tables, read from the fitted vectorizer and ridge."""
        if not self.estimators_:
            self._index, self._idf = {}, np.zeros(0)
            self._coef, self._intercept = np.zeros((0, len(self._mean))), np.asarray(self._mean, np.float64)
            return
        vec, ridge = self.estimators_["tfidf"], self.estimators_["ridge"]
        self._index = vec.vocabulary_
        self._idf = vec.idf_.astype(np.float32)
        self._coef = np.asarray(ridge.coef_.T, dtype=np.float32)
        self._intercept = np.atleast_1d(np.asarray(ridge.intercept_, dtype=np.float64))

    def transform_one(self, prompt: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and TF-IDF weights (unit length) of one prompt's known n-grams."""
        ids = [i for i in map(self._index.get, word_ngrams(prompt, self.ngrams)) if i is not None]
        if not ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        idx, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
        w = (1.0 + np.log(counts)) * self._idf[idx]
        return idx, w / np.sqrt(w @ w)

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        Z = np.empty((len(prompts), len(self._intercept)))
        for r, p in enumerate(prompts):
            idx, w = self.transform_one(p)
            Z[r] = w @ self._coef[idx] + self._intercept
        lo, hi = self._range
        return lo + np.clip(Z, 0.0, 1.0) * (hi - lo)

    def _estimators(self) -> dict[str, Any]:
        return dict(self.estimators_)

    def _vector_state(self) -> dict[str, np.ndarray]:
        return {"range": self._range, "mean": getattr(self, "_mean", np.zeros(len(self.models_)))}

    def _set_vector_state(self, state: dict[str, np.ndarray], saved: Saved) -> None:
        self._range, self._mean = state["range"], state["mean"]
        has = (saved.path / "tfidf.skops").is_file()
        self.estimators_ = {"tfidf": saved.estimator("tfidf"), "ridge": saved.estimator("ridge")} if has else {}
        self._set_vocabulary()
