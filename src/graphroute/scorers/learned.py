"""A learned confidence scorer (FrugalGPT's idea): predict "this answer is right" from features of the
(prompt, answer) pair, fitted on recorded outcomes.

Each prediction averages a logistic regression and gradient-boosted trees on the hand-made features
of ``graphroute.scorers.answer_features``; with ``embeddings=True`` both also see one extra feature, the
out-of-fold probability of a logistic head on the MiniLM embeddings of prompt and answer (stacked,
so the trees never see a probability fitted on their own rows). Fitted weights and trees are plain
arrays: saving needs no pickle and scoring needs no scikit-learn.

Escalating pays only when the next stage would be right where this one is wrong. Given the next
stage's recorded outcomes (``fit(..., y_next=...)``), the scorer also predicts P(next stage right)
from the prompt alone (its features and embedding) and scores ``(1 + P(this right) - P(next
right)) / 2``: below 0.5 the expected gain of escalating is positive. Ranking by expected gain
rather than by P(this answer wrong) keeps hard questions that both models miss — and questions
whose answer the stronger model tends to *format* wrongly — with the cheap stage (the docs'
benchmarks page measures both on routellm-gsm8k).

Examples:
    >>> from graphroute.scorers import LearnedScorer
    >>> prompts = [f"What is {i} + {i}?" for i in range(40)]
    >>> answers = [f"{i} + {i} = {2 * i}\\n#### {2 * i}" if i % 2 else f"{i} + {i} = {2 * i + 1}\\n#### {2 * i + 1}" for i in range(40)]
    >>> s = LearnedScorer(embeddings=False, min_samples_leaf=5).fit(prompts, answers, [i % 2 for i in range(40)])
    >>> bool(s.score_many(["What is 50 + 50?"], ["50 + 50 = 100\\n#### 100"])[0] > 0.5)
    True
    >>> g = LearnedScorer(embeddings=False, min_samples_leaf=5).fit(prompts, answers, [i % 2 for i in range(40)],
    ...                                                            y_next=[int(i % 5 > 0) for i in range(40)])
    >>> p = g.predict_next(["What is 50 + 50?"], ["50 + 50 = 101\\n#### 101"])   # P(next stage right)
    >>> bool(0.5 < p[0] < 1)
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.encoders import EncoderMixin
from graphroute.errors import CascadeError, NotFittedError, PersistenceError
from graphroute.persist import read_folder, save_folder
from graphroute.scorers.answer_features import answer_features, feature_names, prompt_columns
from graphroute.scorers.base import SCORERS, ScoreContext, Scorer, as_answer
from graphroute.types import Answer

KIND = "learned scorer"
PARTS = ("emb", "lr", "gb")


def binary_labels(y: Sequence[float] | np.ndarray) -> np.ndarray:
    """Correct (1) / wrong (0): booleans and 0/1 as they are; graded scores scaled to 0-1 by their
    range (0-1 kept, else min-max) and counted correct from 0.5."""
    v = np.asarray(y, dtype=np.float64)
    if v.ndim != 1 or not len(v):
        raise CascadeError(f"y must be a non-empty 1-D array of outcomes, got shape {v.shape}")
    if np.isnan(v).any():
        raise CascadeError("y contains missing outcomes (NaN)")
    if np.isin(v, (0.0, 1.0)).all():
        return v.astype(np.int64)
    lo, hi = (0.0, 1.0) if (v.min() >= 0 and v.max() <= 1) else (float(v.min()), float(v.max()))
    return np.asarray(((v - lo) / ((hi - lo) or 1.0)) >= 0.5).astype(np.int64)


@SCORERS.register("learned")
class LearnedScorer(EncoderMixin, Scorer):
    """Estimator: ``fit(prompts, answers, y, y_next=None)``, ``predict_proba``, ``predict_next``,
    ``score``, ``save``/``load``.

    ``features``: "math" (answers that show their work), "generic", or "auto" (math when most
    training answers contain numbers). ``C``: logistic inverse regularisation. ``max_iter``,
    ``learning_rate``, ``max_leaf_nodes``, ``min_samples_leaf``: the boosted trees.
    ``embedding_C``: the stacked embedding head.
    """

    def __init__(self, features: str = "auto", embeddings: bool = True, encoder: Any = None, C: float = 1.0,
                 max_iter: int = 100, learning_rate: float = 0.1, max_leaf_nodes: int = 4, min_samples_leaf: int = 20,
                 embedding_C: float = 0.05, seed: int = 0) -> None:
        if features not in ("auto", "math", "generic"):
            raise CascadeError(f"LearnedScorer features must be 'auto', 'math' or 'generic', got {features!r}")
        self.features, self.embeddings, self.encoder = features, embeddings, encoder
        self.C, self.max_iter, self.learning_rate = C, max_iter, learning_rate
        self.max_leaf_nodes, self.min_samples_leaf, self.embedding_C, self.seed = max_leaf_nodes, min_samples_leaf, embedding_C, seed

    def _params(self) -> dict[str, Any]:
        return {"features": self.features, "embeddings": self.embeddings, "encoder": self.encoder_spec(), "C": self.C,
                "max_iter": self.max_iter, "learning_rate": self.learning_rate, "max_leaf_nodes": self.max_leaf_nodes,
                "min_samples_leaf": self.min_samples_leaf, "embedding_C": self.embedding_C, "seed": self.seed}

    # ------------------------------------------------------------------ features
    def _embed(self, prompts: Sequence[str], texts: Sequence[str], store: bool = True) -> np.ndarray:
        n = len(prompts)  # one encoder call for prompts and answers
        V = self.embed_texts(list(prompts) + [t if t.strip() else "(empty)" for t in texts], store=store)
        return np.hstack([V[:n], V[n:]]).astype(np.float64)

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

    def _inputs(self, prompts, answers, store: bool) -> tuple[np.ndarray, np.ndarray | None]:
        prompts, texts, reasons = self._check(prompts, answers)
        F = answer_features(prompts, texts, reasons, kind=self.kind_)
        return F, (self._embed(prompts, texts, store=store) if self.embeddings and len(prompts) else None)

    # ------------------------------------------------------------------ fitting
    def _fit_member(self, F: np.ndarray, E: np.ndarray | None, yb: np.ndarray) -> dict[str, Any]:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        m: dict[str, Any] = {"emb": None}
        if E is not None:
            head = LogisticRegression(C=self.embedding_C, max_iter=3000)
            folds = min(5, int(np.bincount(yb).min()))
            if folds >= 2:
                oof = cross_val_predict(head, E, yb, cv=StratifiedKFold(folds, shuffle=True, random_state=self.seed),
                                        method="predict_proba")[:, 1]
            else:
                oof = np.full(len(yb), yb.mean())
            m["emb"] = head.fit(E, yb)
            F = np.hstack([F, oof[:, None]])
        m["lr"] = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=3000)).fit(F, yb)
        m["gb"] = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                                 max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
                                                 l2_regularization=1.0, random_state=self.seed).fit(F, yb)
        return m

    def fit(self, prompts: Sequence[str], answers: Sequence[Answer | str], y: Sequence[float] | np.ndarray,
            y_next: Sequence[float] | np.ndarray | None = None) -> "LearnedScorer":
        """Learn from recorded answers and their outcomes (``y``: correct 1/0, or graded scores).

        ``y_next``: the next stage's recorded outcome on the same prompts; when given, the score
        becomes the expected gain of *not* escalating (see the module docstring).
        """
        prompts, texts, reasons = self._check(prompts, answers)
        targets = {"self": binary_labels(y)}
        if y_next is not None:
            targets["next"] = binary_labels(y_next)
        for name, yb in targets.items():
            if len(yb) != len(texts):
                raise CascadeError(f"{len(texts)} answers but {len(yb)} {'next-stage ' if name == 'next' else ''}outcomes")
            if len(np.unique(yb)) < 2:
                raise CascadeError(f"{'y_next' if name == 'next' else 'y'} has one class only: a scorer needs both right "
                                   "and wrong answers to learn from")
        self.kind_ = self.features if self.features != "auto" else (
            "math" if np.mean([any(c.isdigit() for c in t) for t in texts]) >= 0.5 else "generic")
        F = answer_features(prompts, texts, reasons, kind=self.kind_)
        E = self._embed(prompts, texts) if self.embeddings else None
        # the next stage's outcome depends on the question, not on this stage's wording: it is fitted on
        # the prompt-only features and the prompt's half of the embeddings
        half = None if E is None else E[:, : E.shape[1] // 2]
        cols = {"self": np.arange(F.shape[1]), "next": np.asarray(prompt_columns(self.kind_), dtype=np.int64)}
        self.members_ = {name: {**self._fit_member(F[:, cols[name]], E if name == "self" else half, yb),
                                "columns": cols[name]} for name, yb in targets.items()}
        self.encoder_id_ = self.encoder_.id if self.embeddings else None
        return self

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError("LearnedScorer is not fitted; call fit() or load() first")

    @property
    def gain_(self) -> bool:
        """True when fitted with the next stage's outcomes (scores are expected gains)."""
        return "next" in getattr(self, "members_", {})

    def _member_proba(self, name: str, F: np.ndarray, E: np.ndarray | None) -> np.ndarray:
        m = self.members_[name]
        F = F[:, m["columns"]]
        if m["emb"] is not None:  # members fitted on the prompt's half use the leading columns
            emb = m["emb"]
            assert E is not None  # such members exist only with prompt embeddings
            F = np.hstack([F, emb.predict_proba(E[:, : emb.n_features_in_])[:, 1:]])
        return (m["lr"].predict_proba(F)[:, 1] + m["gb"].predict_proba(F)[:, 1]) / 2

    def _proba(self, prompts, answers, names: Sequence[str], store: bool = True) -> list[np.ndarray]:
        """Members' probabilities; ``store``: recorded pairs are kept in the embedding cache (they
        are scored again), a live answer (``score``) is not."""
        self._check_fitted()
        F, E = self._inputs(prompts, answers, store)
        if not len(F):
            return [np.zeros(0) for _ in names]
        return [self._member_proba(name, F, E) for name in names]

    def predict_proba(self, prompts: Sequence[str], answers: Sequence[Answer | str]) -> np.ndarray:
        """P(answer is right) for each (prompt, answer)."""
        return self._proba(prompts, answers, ["self"])[0]

    def _need_next(self) -> None:
        self._check_fitted()
        if not self.gain_:
            raise NotFittedError("this LearnedScorer was fitted without y_next: it has no next-stage model")

    def predict_next(self, prompts: Sequence[str], answers: Sequence[Answer | str]) -> np.ndarray:
        """P(the next stage answers right), predicted from the prompt alone (``answers`` keep the
        signature of ``predict_proba``; the next-stage member does not read them)."""
        self._need_next()
        return self._proba(prompts, answers, ["next"])[0]

    def predict_pair(self, prompts: Sequence[str], answers: Sequence[Answer | str]) -> tuple[np.ndarray, np.ndarray]:
        """``(P(this answer right), P(next stage right))`` from one pass over the inputs."""
        self._need_next()
        p_self, p_next = self._proba(prompts, answers, ["self", "next"])
        return p_self, p_next

    def score_many(self, prompts: Sequence[str], answers: Sequence[Answer | str], *, store: bool = True) -> np.ndarray:
        """Scores of recorded (prompt, answer) pairs: P(right), or with ``y_next`` the expected gain
        of not escalating, scaled to 0-1."""
        if not self.gain_:
            return self._proba(prompts, answers, ["self"], store)[0]
        self._need_next()
        p_self, p_next = self._proba(prompts, answers, ["self", "next"], store)
        return (1.0 + p_self - p_next) / 2

    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        return float(self.score_many([prompt], [answer], store=False)[0])

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the scorer to folder ``path`` (replaced atomically; ``graphroute.persist``)."""
        self._check_fitted()
        estimators = {f"{name}_{part}": m[part] for name, m in self.members_.items() for part in PARTS
                      if m[part] is not None}
        meta = {"params": self._params(), "features_kind": self.kind_, "members": list(self.members_),
                "feature_names": feature_names(self.kind_)}
        return save_folder(path, KIND, meta, arrays={f"{n}_columns": m["columns"] for n, m in self.members_.items()},
                           estimators=estimators, encoder_id=self.encoder_id_)

    @classmethod
    def load(cls, path: str | Path, encoder: Any = None) -> "LearnedScorer":
        """Load a saved scorer; the embedding encoder must be the one it was fitted with."""
        saved = read_folder(path, KIND)
        meta = saved.meta
        s = cls(**{**meta["params"], **({"encoder": encoder} if encoder is not None else {})})
        s.kind_ = meta["features_kind"]
        members = meta.get("members") or []
        if "self" not in members or not set(members) <= {"self", "next"}:
            raise PersistenceError(f"lists members {members!r}; expected 'self' and optionally 'next'", path=path)
        if meta.get("feature_names") != feature_names(s.kind_):
            raise PersistenceError("saved with other answer features than this graphroute computes: fit it again",
                                   path=path)
        s.members_ = {}
        for name in members:
            m = {part: (saved.estimator(f"{name}_{part}") if (saved.path / f"{name}_{part}.skops").is_file() else None)
                 for part in PARTS}
            if m["lr"] is None or m["gb"] is None or (s.embeddings and m["emb"] is None):
                raise PersistenceError(f"member {name!r} is incomplete", path=path)
            s.members_[name] = {**m, "columns": saved.array(f"{name}_columns")}
        if s.embeddings:
            saved.check_encoder(s.encoder_.id)
        s.encoder_id_ = saved.encoder_id
        return s
