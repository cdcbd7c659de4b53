"""A learned confidence scorer (FrugalGPT's idea): predict "this answer is right" from features of the
(prompt, answer) pair, fitted on recorded outcomes.

Two members, averaged: a logistic regression and gradient-boosted trees on the hand-made features
of :mod:`graphroute.cascade.features`; with ``embeddings=True`` both also see one extra feature, the
out-of-fold probability of a logistic head on the MiniLM embeddings of prompt and answer (stacked,
so the trees never see a probability fitted on their own rows). Fitted weights and trees are plain
arrays: saving needs no pickle and scoring needs no scikit-learn.

Example:
    >>> from graphroute.cascade.scorers import LearnedScorer
    >>> prompts = [f"What is {i} + {i}?" for i in range(40)]
    >>> answers = [f"{i} + {i} = {2 * i}\\n#### {2 * i}" if i % 2 else f"{i} + {i} = {2 * i + 1}\\n#### {2 * i + 1}" for i in range(40)]
    >>> s = LearnedScorer(embeddings=False, min_samples_leaf=5).fit(prompts, answers, [i % 2 for i in range(40)])
    >>> bool(s.score_many(["What is 50 + 50?"], ["50 + 50 = 100\\n#### 100"])[0] > 0.5)
    True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.cascade.base import Answer, CascadeError
from graphroute.cascade.features import answer_features, feature_names
from graphroute.cascade.scorers.base import ScoreContext, Scorer, as_answer
from graphroute.errors import NotFittedError, PersistenceError
from graphroute.persist import read_json, read_npz, write_folder
from graphroute.routers.features import flatten_trees, predict_trees

FORMAT_VERSION = 1


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def binary_labels(y: Sequence[float]) -> np.ndarray:
    """Correct (1) / wrong (0): booleans and 0/1 as they are; graded scores scaled to 0-1 by their
    range (0-1 kept, else min-max) and counted correct from 0.5."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or not len(y):
        raise CascadeError(f"y must be a non-empty 1-D array of outcomes, got shape {y.shape}")
    if np.isnan(y).any():
        raise CascadeError("y contains missing outcomes (NaN)")
    if np.isin(y, (0.0, 1.0)).all():
        return y.astype(np.int64)
    lo, hi = (0.0, 1.0) if (y.min() >= 0 and y.max() <= 1) else (y.min(), y.max())
    return (((y - lo) / ((hi - lo) or 1.0)) >= 0.5).astype(np.int64)


class LearnedScorer(Scorer):
    """Estimator: ``fit(prompts, answers, y)``, ``predict_proba``, ``score``, ``save``/``load``.

    ``features``: "math" (answers that show their work), "generic", or "auto" (math when most
    training answers contain numbers). ``C``: logistic inverse regularisation. ``max_iter``,
    ``learning_rate``, ``max_leaf_nodes``, ``min_samples_leaf``: the boosted trees.
    """

    name = "learned"

    def __init__(self, features: str = "auto", embeddings: bool = True, encoder: Any = None, C: float = 0.1,
                 max_iter: int = 100, learning_rate: float = 0.1, max_leaf_nodes: int = 4, min_samples_leaf: int = 20,
                 embedding_C: float = 0.05, seed: int = 0) -> None:
        if features not in ("auto", "math", "generic"):
            raise CascadeError(f"LearnedScorer features must be 'auto', 'math' or 'generic', got {features!r}")
        self.features, self.embeddings, self.encoder = features, embeddings, encoder
        self.C, self.max_iter, self.learning_rate = C, max_iter, learning_rate
        self.max_leaf_nodes, self.min_samples_leaf, self.embedding_C, self.seed = max_leaf_nodes, min_samples_leaf, embedding_C, seed

    def _params(self) -> dict[str, Any]:
        enc = self.encoder if (self.encoder is None or isinstance(self.encoder, str)) else None
        return {"features": self.features, "embeddings": self.embeddings, "encoder": enc, "C": self.C,
                "max_iter": self.max_iter, "learning_rate": self.learning_rate, "max_leaf_nodes": self.max_leaf_nodes,
                "min_samples_leaf": self.min_samples_leaf, "embedding_C": self.embedding_C, "seed": self.seed}

    # ------------------------------------------------------------------ features
    @property
    def encoder_(self):
        if getattr(self, "_encoder", None) is None:
            from graphroute.routers.embedding import resolve_encoder

            self._encoder = resolve_encoder(self.encoder)
        return self._encoder

    def _embed(self, prompts: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        enc = self.encoder_
        return np.hstack([enc.encode(list(prompts)), enc.encode([t if t.strip() else "(empty)" for t in texts])]).astype(np.float64)

    def _hand(self, prompts, texts, reasons) -> np.ndarray:
        return answer_features(prompts, texts, reasons, kind=self.kind_)

    def _check(self, prompts, answers):
        if isinstance(prompts, str) or isinstance(answers, str):
            raise CascadeError("prompts and answers must be sequences (use score() for one pair)")
        answers = [as_answer(a) for a in answers]
        if len(prompts) != len(answers):
            raise CascadeError(f"{len(prompts)} prompts but {len(answers)} answers")
        for i, p in enumerate(prompts):
            if not isinstance(p, str):
                raise CascadeError(f"prompt {i} is {type(p).__name__}, not str")
        return list(prompts), [a.text for a in answers], [a.finish_reason for a in answers]

    # ------------------------------------------------------------------ fitting
    def fit(self, prompts: Sequence[str], answers: Sequence[Answer | str], y: Sequence[float]) -> "LearnedScorer":
        """Learn from recorded answers and their outcomes (``y``: correct 1/0, or graded scores)."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        prompts, texts, reasons = self._check(prompts, answers)
        yb = binary_labels(y)
        if len(yb) != len(texts):
            raise CascadeError(f"{len(texts)} answers but {len(yb)} outcomes")
        if len(np.unique(yb)) < 2:
            raise CascadeError("y has one class only: a scorer needs both right and wrong answers to learn from")
        self.kind_ = self.features if self.features != "auto" else (
            "math" if np.mean([any(c.isdigit() for c in t) for t in texts]) >= 0.5 else "generic")
        F = self._hand(prompts, texts, reasons)
        self.emb_coef_ = np.zeros(0)
        self.emb_intercept_ = 0.0
        if self.embeddings:
            E = self._embed(prompts, texts)
            head = LogisticRegression(C=self.embedding_C, max_iter=3000)
            folds = min(5, int(np.bincount(yb).min()))
            if folds >= 2:
                oof = cross_val_predict(head, E, yb, cv=StratifiedKFold(folds, shuffle=True, random_state=self.seed),
                                        method="predict_proba")[:, 1]
            else:
                oof = np.full(len(yb), yb.mean())
            head.fit(E, yb)
            self.emb_coef_, self.emb_intercept_ = head.coef_[0].copy(), float(head.intercept_[0])
            self.encoder_id_ = self.encoder_.id
            F = np.hstack([F, oof[:, None]])
        self.mean_ = F.mean(axis=0)
        self.scale_ = F.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        lr = LogisticRegression(C=self.C, max_iter=3000).fit((F - self.mean_) / self.scale_, yb)
        self.coef_, self.intercept_ = lr.coef_[0].copy(), float(lr.intercept_[0])
        hgb = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                             max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
                                             l2_regularization=1.0, random_state=self.seed).fit(F, yb)
        self.trees_ = flatten_trees(hgb)
        return self

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("LearnedScorer is not fitted; call fit() or load() first")

    def predict_proba(self, prompts: Sequence[str], answers: Sequence[Answer | str]) -> np.ndarray:
        """P(answer is right) for each (prompt, answer)."""
        self._check_fitted()
        prompts, texts, reasons = self._check(prompts, answers)
        if not prompts:
            return np.zeros(0)
        F = self._hand(prompts, texts, reasons)
        if self.embeddings:
            e = _sigmoid(self._embed(prompts, texts) @ self.emb_coef_ + self.emb_intercept_)
            F = np.hstack([F, e[:, None]])
        p_lr = _sigmoid(((F - self.mean_) / self.scale_) @ self.coef_ + self.intercept_)
        p_gb = _sigmoid(predict_trees(self.trees_, F))
        return (p_lr + p_gb) / 2

    def score_many(self, prompts: Sequence[str], answers: Sequence[Answer | str]) -> np.ndarray:
        return self.predict_proba(prompts, answers)

    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        return float(self.predict_proba([prompt], [answer])[0])

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``scorer.json`` and ``state.npz`` (replaced atomically)."""
        self._check_fitted()
        meta = {"format_version": FORMAT_VERSION, "params": self._params(), "kind": self.kind_,
                "encoder_id": getattr(self, "encoder_id_", None), "feature_names": feature_names(self.kind_)}
        state = {"mean": self.mean_, "scale": self.scale_, "coef": self.coef_, "intercept": np.asarray(self.intercept_),
                 "emb_coef": self.emb_coef_, "emb_intercept": np.asarray(self.emb_intercept_),
                 **{f"tree_{k}": v for k, v in self.trees_.items()}}

        def write(tmp: Path) -> None:
            (tmp / "scorer.json").write_text(json.dumps(meta, indent=2))
            np.savez(tmp / "state.npz", **state)

        return write_folder(path, write)

    @classmethod
    def load(cls, path: str | Path, encoder: Any = None) -> "LearnedScorer":
        """Load a saved scorer; the embedding encoder must be the one it was fitted with."""
        path = Path(path)
        meta = read_json(path / "scorer.json", "learned scorer")
        if meta.get("format_version") != FORMAT_VERSION:
            raise PersistenceError(f"format_version {meta.get('format_version')!r}, this graphroute reads {FORMAT_VERSION}", path=path)
        z = read_npz(path / "state.npz")
        params = dict(meta["params"])
        if encoder is not None:
            params["encoder"] = encoder
        s = cls(**params)
        s.kind_ = meta["kind"]
        try:
            s.mean_, s.scale_, s.coef_ = z["mean"], z["scale"], z["coef"]
            s.intercept_, s.emb_coef_, s.emb_intercept_ = float(z["intercept"]), z["emb_coef"], float(z["emb_intercept"])
            s.trees_ = {k[5:]: v for k, v in z.items() if k.startswith("tree_")}
        except KeyError as exc:
            raise PersistenceError(f"state.npz lacks {exc}", path=path) from None
        n_feat = len(feature_names(s.kind_)) + (1 if s.embeddings else 0)
        if len(s.coef_) != n_feat or len(s.mean_) != n_feat:
            raise PersistenceError(f"state.npz has {len(s.coef_)} weights for {n_feat} features", path=path)
        if s.embeddings:
            if s.encoder_.id != meta.get("encoder_id"):
                raise PersistenceError(f"scorer was fitted with encoder {meta.get('encoder_id')!r} but is loaded with "
                                       f"{s.encoder_.id!r}", path=path)
            s.encoder_id_ = meta["encoder_id"]
        return s
