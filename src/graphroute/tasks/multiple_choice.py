"""Features of a multiple-choice question's answer options.

How hard an item is often shows in its options more than in its topic: options that share most of
their words (close distractors), one option much longer than the rest, numeric answers, "all of
the above", "Both A and B", the "True, False" pairs of two-statement items, Roman-numeral
combinations. ``option_features`` measures these from the option lines (``A. ...`` up to
``H. ...``); a prompt without options gets zeros. They are topic-free, so they carry over to
subjects a router never saw.

Examples:
    >>> from graphroute.tasks.multiple_choice import OPTION_FEATURE_NAMES, option_features
    >>> q = "What is 2 + 2?\\nA. 3\\nB. 4\\nC. 5\\nD. All of the above\\nAnswer:"
    >>> f = dict(zip(OPTION_FEATURE_NAMES, option_features([q])[0].tolist()))
    >>> f["numeric_options"], f["all_or_none_of_above"]
    (3.0, 1.0)
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import Sequence

import numpy as np

_OPTION_LINE = re.compile(r"^\s*\(?([A-H])[.)]\s?(.*)$", re.M)
_WORD = re.compile(r"\w+")
_NUMERIC = re.compile(r"[-+$€£]?\s*\(?[\d.,/%^()\s]+\)?\s*[a-zA-Z%°²³/]{0,6}")
_STATEMENT_PAIR = re.compile(r"^(true|false),")
_ROMAN_COMBO = re.compile(r"[ivx, ]+(and [ivx]+)?( only)?")
#: negation words of a question or option (shared with the prompt-form features)
NEGATION = re.compile(r"\b(NOT|EXCEPT|LEAST|FALSE|INCORRECT|never)\b")

OPTION_FEATURE_NAMES = [
    "option_chars_mean", "option_chars_std", "option_chars_max", "option_chars_min", "longest_option_ratio",
    "unique_longest_option", "option_words_mean", "option_words_std", "option_overlap_max", "option_overlap_mean",
    "stem_in_option_max", "stem_in_option_mean", "numeric_options", "all_or_none_of_above", "both_or_neither",
    "statement_pair_options", "roman_combination_options", "stem_to_options_chars", "stem_distinct_words",
    "stem_blank", "stem_lines", "negated_options",
]


def _mean_std(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, (sum((x - m) ** 2 for x in xs) / len(xs)) ** 0.5


def _one(prompt: str) -> list[float]:
    # plain Python on these few short lists: numpy's per-call overhead would triple the cost
    body = prompt.rsplit("\nAnswer:", 1)[0]
    first = _OPTION_LINE.search(body)
    if first is None:
        return [0.0] * len(OPTION_FEATURE_NAMES)
    options = [m.group(2).strip() for m in _OPTION_LINE.finditer(body)]
    stem = body[: first.start()]
    stem_words = set(_WORD.findall(stem.lower()))
    lower = [o.lower() for o in options]
    words = [set(_WORD.findall(o)) for o in lower]
    chars = [float(len(o)) for o in options]
    chars_mean, chars_std = _mean_std(chars)
    words_mean, words_std = _mean_std([float(len(w)) for w in words])
    longest = max(chars)
    overlap = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in combinations(words, 2)] or [0.0]
    in_stem = [len(w & stem_words) / max(len(w), 1) for w in words]
    return [
        chars_mean, chars_std, longest, min(chars), longest / max(chars_mean, 1.0), float(chars.count(longest) == 1),
        words_mean, words_std, max(overlap), sum(overlap) / len(overlap), max(in_stem), sum(in_stem) / len(in_stem),
        float(sum(bool(o) and _NUMERIC.fullmatch(o) is not None for o in options)),
        float(sum("all of the above" in o or "none of the above" in o for o in lower)),
        float(sum(o.startswith(("both", "neither")) for o in lower)),
        float(sum(_STATEMENT_PAIR.match(o) is not None for o in lower)),
        float(sum(_ROMAN_COMBO.fullmatch(o) is not None for o in lower)),
        len(stem) / max(sum(chars), 1.0), float(len(stem_words)), float("_" in stem), float(stem.count("\n")),
        float(sum(NEGATION.search(o) is not None for o in options)),
    ]


def option_features(prompts: Sequence[str]) -> np.ndarray:
    """(n, len(OPTION_FEATURE_NAMES)) features of each prompt's answer options (zeros without options)."""
    return np.asarray([_one(p) for p in prompts], dtype=np.float64).reshape(len(prompts), len(OPTION_FEATURE_NAMES))
