"""Cheap hand-made prompt features and a gradient-boosted router on them.

The features describe a prompt's form rather than its topic — length, lines, digits and maths
symbols, code markers, multiple-choice options, negation (NOT/EXCEPT/LEAST), question marks — which
is where hard items differ from easy ones within a topic. On MMLU they carry signal the topic
embeddings lack (``graphroute eval --router features`` on routellm-mmlu: APGR 0.640).

The boosted trees are scikit-learn ``HistGradientBoostingRegressor`` models, saved with joblib
beside the router; ``load`` refuses a file written by another scikit-learn version. Load only
routers you trust: joblib files can run code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.errors import PersistenceError
from graphroute.routers.embedding import EmbeddingRouter

_NEG = re.compile(r"\b(NOT|EXCEPT|LEAST|FALSE|INCORRECT|never)\b")
_MATH = re.compile(r"[=+*/^<>]|\\frac|\\sqrt|\bsqrt\b|\blog\b")
_NUM = re.compile(r"\d+(?:\.\d+)?")
_OPTION = re.compile(r"^\s*\(?[A-H][.)]\s", re.M)
_CODE = re.compile(r"```|\bdef |\breturn\b|[{};]\s*$|#include|\bprint\(", re.M)
FEATURE_NAMES = ["chars", "log_chars", "words", "lines", "stem_chars", "options_chars", "n_options", "digit_share",
                 "numbers", "math_symbols", "negation", "question_mark", "statement_pair", "code", "non_ascii_share",
                 "mean_word_len", "upper_share"]


def prompt_features(prompts: Sequence[str]) -> np.ndarray:
    """(n, len(FEATURE_NAMES)) float features of each prompt's form."""
    rows = []
    for p in prompts:
        m = _OPTION.search(p)
        stem = p[: m.start()] if m else p
        words = p.split()
        n = max(len(p), 1)
        rows.append([
            len(p), np.log1p(len(p)), len(words), p.count("\n") + 1, len(stem), len(p) - len(stem),
            len(_OPTION.findall(p)), sum(c.isdigit() for c in p) / n, len(_NUM.findall(p)), len(_MATH.findall(p)),
            len(_NEG.findall(p)), stem.count("?"), int("Statement 1" in p), len(_CODE.findall(p)),
            sum(ord(c) > 127 for c in p) / n, (sum(len(w) for w in words) / len(words)) if words else 0.0,
            sum(c.isupper() for c in p) / n,
        ])
    return np.asarray(rows, dtype=np.float64)


class FeatureRouter(EmbeddingRouter):
    """Gradient-boosted trees on :func:`prompt_features`, one regressor per model.

    It uses no embedding itself (``encoder`` is accepted so it can share an ensemble's).

    Example:
        >>> from graphroute.routers import FeatureRouter
        >>> easy = [f"What is {i} + {i}?" for i in range(30)]
        >>> hard = [f"Prove, step by step, the theorem number {i} on lattices and their duals." * 3 for i in range(30)]
        >>> r = FeatureRouter(max_iter=20).fit(easy + hard, [[1, 1]] * 30 + [[0, 1]] * 30, models=["small", "big"])
        >>> r.route(["What is 7 + 7?"], threshold=0.5)
        ['small']
    """

    name = "features"

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.05, min_samples_leaf: int = 20,
                 seed: int = 0, encoder: Any = None) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed
        self.encoder = encoder

    def embed(self, X):  # no embedding needed: skip the encoder entirely
        return np.zeros((len(X), 0), dtype=np.float32)

    def _fit(self, data: RoutingDataset) -> None:
        self.encoder_id_ = "none"
        self._fit_vectors(self.embed(data.prompts), data)

    def _check_encoder(self, saved_id: str) -> None:
        self.encoder_id_ = saved_id

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        F = prompt_features(data.prompts)
        self._models = [
            HistGradientBoostingRegressor(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                          min_samples_leaf=self.min_samples_leaf, random_state=self.seed).fit(F, y)
            for y in data.scores.T
        ]

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        F = prompt_features(prompts)
        return np.stack([m.predict(F) for m in self._models], axis=1)

    def _save_files(self, folder: Path) -> None:
        import joblib
        import sklearn

        joblib.dump({"sklearn": sklearn.__version__, "models": self._models}, folder / "trees.joblib")

    def _load_files(self, folder: Path) -> None:
        import joblib
        import sklearn

        try:
            blob = joblib.load(folder / "trees.joblib")
        except Exception as exc:
            raise PersistenceError(f"trees.joblib is missing or corrupt: {exc}", path=folder) from None
        if blob.get("sklearn") != sklearn.__version__:
            raise PersistenceError(f"trees.joblib was written by scikit-learn {blob.get('sklearn')}, "
                                   f"this is {sklearn.__version__}; refit the router", path=folder)
        self._models = blob["models"]
