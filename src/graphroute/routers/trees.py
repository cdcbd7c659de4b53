"""Cheap hand-made prompt features and a gradient-boosted router on them.

The features describe a prompt's form rather than its topic — length, lines, digits and maths
symbols, code markers, multiple-choice options, negation (NOT/EXCEPT/LEAST), question marks — which
is where hard items differ from easy ones within a topic. Feature sets are named and combined with
``+``: ``form`` (these), ``options`` (a multiple-choice item's answer options,
``graphroute.tasks.multiple_choice``), ``math`` (word problems, ``graphroute.tasks.word_problems``).

The boosted trees are fitted with scikit-learn's ``HistGradientBoostingRegressor`` and read into
flat arrays (feature, threshold, children, leaf value), the router's fitted and saved state
(``forest_``): one vectorised walk covers all trees of all models at once. Two speed targets need
it: everything beyond the encoder within 1.5 ms per prompt, where scikit-learn's own ``predict``
costs several milliseconds per call on one prompt (``benchmarks/classifier_speed.py`` prints both),
and a saved router that loads within seconds, where importing ``skops.io`` alone takes longer.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.persist import Saved
from graphroute.registry import Registry
from graphroute.routers.base import ROUTERS
from graphroute.routers.embedding import PromptOnlyRouter
from graphroute.tasks.multiple_choice import NEGATION as _NEG
from graphroute.tasks.multiple_choice import option_features
from graphroute.tasks.word_problems import math_prompt_features

_MATH = re.compile(r"[=+*/^<>]|\\frac|\\sqrt|\bsqrt\b|\blog\b")
_NUM = re.compile(r"\d+(?:\.\d+)?")
_OPTION = re.compile(r"^\s*\(?[A-H][.)]\s", re.M)
_CODE = re.compile(r"```|\bdef |\breturn\b|[{};]\s*$|#include|\bprint\(", re.M)
FEATURE_NAMES = ["chars", "log_chars", "words", "lines", "stem_chars", "options_chars", "n_options", "digit_share",
                 "numbers", "math_symbols", "negation", "question_mark", "statement_pair", "code", "non_ascii_share",
                 "mean_word_len", "upper_share"]


# A regex only runs when one of its trigger substrings is in the prompt (same counts, a fraction of
# the time: most prompts hold no code and no maths).
_TRIGGERS = {_NEG: ("NOT", "EXCEPT", "LEAST", "FALSE", "INCORRECT", "never"),
             _MATH: ("=", "+", "*", "/", "^", "<", ">", "frac", "sqrt", "log"),
             _CODE: ("```", "def ", "return", "{", "}", ";", "#include", "print(")}
_DIGITS, _UPPER = b"0123456789", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _count(regex: re.Pattern, text: str) -> int:
    return len(regex.findall(text)) if any(t in text for t in _TRIGGERS[regex]) else 0


def prompt_features(prompts: Sequence[str]) -> np.ndarray:
    """(n, len(FEATURE_NAMES)) float features of each prompt's form."""
    rows = []
    for p in prompts:
        m = _OPTION.search(p)
        stem = p[: m.start()] if m else p
        words = p.split()
        n = max(len(p), 1)
        if p.isascii():  # byte deletion counts the same characters as str.isdigit / str.isupper here
            b = p.encode("ascii")
            digits, upper = len(b) - len(b.translate(None, _DIGITS)), len(b) - len(b.translate(None, _UPPER))
        else:
            digits, upper = sum(map(str.isdigit, p)), sum(map(str.isupper, p))
        rows.append([
            len(p), math.log1p(len(p)), len(words), p.count("\n") + 1, len(stem), len(p) - len(stem),
            len(_OPTION.findall(p)), digits / n, len(_NUM.findall(p)) if digits else 0, _count(_MATH, p),
            _count(_NEG, p), stem.count("?"), int("Statement 1" in p), _count(_CODE, p),
            (len(p) - len(p.encode("ascii", "ignore"))) / n, (sum(map(len, words)) / len(words)) if words else 0.0,
            upper / n,
        ])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURE_NAMES))


FEATURES = Registry("feature set")
FEATURES.add("form", prompt_features, "length, lines, digits, maths symbols, code, options, negation, questions")
FEATURES.add("options", option_features, "a multiple-choice item's answer options (tasks/multiple_choice.py)")
FEATURES.add("math", math_prompt_features, "word-problem quantities, step words, answer-format risks (tasks/word_problems.py)")


def feature_matrix(spec: str, prompts: Sequence[str]) -> np.ndarray:
    """The named feature sets (``"form+options"``), side by side."""
    return np.hstack([FEATURES.entry(name).factory(prompts) for name in spec.split("+")])


def flatten_trees(model) -> dict[str, np.ndarray]:
    """A fitted ``HistGradientBoostingRegressor`` as flat arrays (numeric features, no missing values).

    Children are stored as absolute node indices; leaves point to themselves, so walking
    ``max_depth`` steps from every root lands on each tree's leaf.
    """
    feats, thr, left, right, value, roots = [], [], [], [], [], []
    offset = 0
    depth = 0
    for (tree,) in model._predictors:
        nodes = tree.nodes
        n = len(nodes)
        idx = np.arange(n) + offset
        leaf = nodes["is_leaf"].astype(bool)
        feats.append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64))
        thr.append(nodes["num_threshold"].astype(np.float64))
        left.append(np.where(leaf, idx, nodes["left"] + offset).astype(np.int64))
        right.append(np.where(leaf, idx, nodes["right"] + offset).astype(np.int64))
        value.append(np.where(leaf, nodes["value"], 0.0).astype(np.float64))
        roots.append(offset)
        depth = max(depth, int(nodes["depth"].max()))
        offset += n
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return {"feature": cat(feats, np.int64), "threshold": cat(thr, np.float64), "left": cat(left, np.int64),
            "right": cat(right, np.int64), "value": cat(value, np.float64), "roots": np.asarray(roots, np.int64),
            "depth": np.asarray(depth), "baseline": np.asarray(float(np.ravel(model._baseline_prediction)[0]))}


def merge_forests(forests: Sequence[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Flattened forests (one per output) as one structure that ``predict_forests`` walks in a
    single pass: ``child[node, go_left]`` replaces the left/right/where triple (``slots[node]`` is
    ``child.ravel()``'s position of ``child[node, 0]``), and each output's trees are a contiguous run
    starting at ``starts[j]``."""
    offset = 0
    parts: dict[str, list[Any]] = {k: [] for k in ("feature", "threshold", "right", "left", "value", "roots")}
    starts, tree_count = [], 0
    for t in forests:
        for k in ("feature", "threshold", "value"):
            parts[k].append(t[k])
        for k in ("left", "right", "roots"):
            parts[k].append(t[k] + offset)
        starts.append(tree_count)
        tree_count += len(t["roots"])
        offset += len(t["feature"])
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    return {"feature": cat["feature"], "threshold": cat["threshold"], "value": cat["value"], "roots": cat["roots"],
            "child": np.stack([cat["right"], cat["left"]], axis=1), "slots": np.arange(0, 2 * offset, 2),
            "starts": np.asarray(starts, np.int64),
            "depth": max((int(t["depth"]) for t in forests), default=0),
            "baseline": np.asarray([float(t["baseline"]) for t in forests])}


def predict_forests(f: dict[str, np.ndarray], F: np.ndarray) -> np.ndarray:
    """(n, outputs): for each row of ``F``, each forest's sum of leaf values plus its baseline."""
    node = np.broadcast_to(f["roots"], (len(F), len(f["roots"])))
    if len(F) == 1:  # one prompt (routing latency): every node's next node at once, then the walk is one lookup a level
        step = f["child"].ravel().take(f["slots"] + (F[0].take(f["feature"]) <= f["threshold"]))
        for _ in range(f["depth"]):
            node = step.take(node)
    else:
        rows = np.arange(len(F))[:, None]
        for _ in range(f["depth"]):
            node = f["child"][node, (F[rows, f["feature"][node]] <= f["threshold"][node]).view(np.int8)]
    return np.add.reduceat(f["value"][node], f["starts"], axis=1) + f["baseline"]


@ROUTERS.register("features")
class FeatureRouter(PromptOnlyRouter):
    """Gradient-boosted trees on prompt features (``features``: feature sets joined by ``+``), one
    regressor per model. It uses no embedding itself (``encoder`` is accepted so it can share an
    ensemble's).

    Examples:
        >>> from graphroute.routers import FeatureRouter
        >>> easy = [f"What is {i} + {i}?" for i in range(30)]
        >>> hard = [f"Prove, step by step, the theorem number {i} on lattices and their duals." * 3 for i in range(30)]
        >>> r = FeatureRouter(max_iter=20).fit(easy + hard, [[1, 1]] * 30 + [[0, 1]] * 30, models=["small", "big"])
        >>> r.route(["What is 7 + 7?"], threshold=0.5)
        ['small']
    """

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.05, min_samples_leaf: int = 20,
                 seed: int = 0, encoder: Any = None, features: str = "form") -> None:
        for name in str(features).split("+"):
            FEATURES.entry(name)  # unknown feature sets fail here
        self.features = features
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed
        self.encoder = encoder

    def _fit_vectors(self, V: np.ndarray, data: RoutingDataset) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        F = feature_matrix(self.features, data.prompts)
        self._trees = [flatten_trees(HistGradientBoostingRegressor(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                                                   min_samples_leaf=self.min_samples_leaf,
                                                                   random_state=self.seed).fit(F, y))
                       for y in data.scores.T]
        self.forest_ = merge_forests(self._trees)

    def _predict_vectors(self, V: np.ndarray, prompts: Sequence[str] = ()) -> np.ndarray:
        return predict_forests(self.forest_, feature_matrix(self.features, prompts))

    def _vector_state(self) -> dict[str, np.ndarray]:
        return {f"m{j}_{k}": v for j, t in enumerate(self._trees) for k, v in t.items()}

    def _set_vector_state(self, state: dict[str, np.ndarray], saved: Saved) -> None:
        self._trees = [{k.split("_", 1)[1]: v for k, v in state.items() if k.startswith(f"m{j}_")}
                       for j in range(len(self.models_))]
        self.forest_ = merge_forests(self._trees)
