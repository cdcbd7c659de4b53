"""Features of maths word problems (GSM8K-style questions).

How many quantities a question holds, their size, percentages and fractions, and the words that
signal steps (each, per, less, ...) describe how hard a word problem is; the *format risks* describe
how its answer is likely to be written. Where a grader reads the last number of an answer (GSM8K as
RouteLLM scores it), prices given with cents invite "$45.00" (read as 00), and a number after the
question word of the final sentence is often restated after the result ("How many more ... in a 1
year time frame?" -> "... 30 badges in a 1 year time frame", read as 1). Used by the ``ridge`` head
(``prompt_features="math"``), the trees (``features="form+math"``) and the learned cascade scorer.

Examples:
    >>> from graphroute.tasks.word_problems import MATH_FEATURE_NAMES, math_prompt_features
    >>> f = dict(zip(MATH_FEATURE_NAMES, math_prompt_features(["A pen costs $2.50. How much do 3 pens cost?"])[0]))
    >>> float(f["prices_with_cents"]), float(f["asks_how_much"])
    (1.0, 1.0)
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

import numpy as np

from graphroute.tasks.arithmetic import numbers, question_quantities

_WORD_PROBLEM = ["less", "more", "each", "per", "times", "half", "twice", "percent", "discount", "profit", "rate", "speed",
                 "hour", "minute", "week", "month", "year", "total", "remain", "left", "average", "ratio", "fraction",
                 "cost", "price", "earn", "save", "spend", "dozen", "every", "if", "then", "after", "before", "thrice",
                 "double", "triple"]
_WORD_RE = re.compile(r"\b(" + "|".join(_WORD_PROBLEM) + r")\b")
_CENTS = re.compile(r"\$\d[\d,]*\.\d\d\b")
_HOW_MUCH = re.compile(r"\bhow much (?:money|did|does|will|do|is|was|would)\b", re.I)
_MONEY_WORDS = ("cost", "price", "paid", "pay", "spend", "spent", "earn")
_MONEY = re.compile(r"\b(?:" + "|".join(_MONEY_WORDS) + ")", re.I)
_WH = re.compile(r"\b(?:how|what|which|who)\b", re.I)
_TIME_NUMBER = re.compile(r"\d+\s*(?:year|month|week|day|hour|minute)s?\b", re.I)
FORMAT_RISK_NAMES = ["prices_with_cents", "has_cents", "whole_cents", "dollar_signs", "asks_how_much", "money_words",
                     "ask_has_number", "ask_numbers", "ask_time_number", "number_after_wh", "numbers_after_wh"]
MATH_FEATURE_NAMES = ["chars", "log_chars", "numbers", "distinct_numbers", "log_max_number", "decimals", "percent_signs",
                      "fractions", "sentences", "words", "quantities", *[f"kw_{w}" for w in _WORD_PROBLEM],
                      *FORMAT_RISK_NAMES]


def format_risk_features(prompt: str) -> list[float]:
    """Features of a question that predict how its answer will be formatted (see FORMAT_RISK_NAMES)."""
    parts = re.split(r"(?<=[.?!])\s+", prompt.strip())
    ask = parts[-1] if parts else prompt
    cents = _CENTS.findall(prompt)
    wh = _WH.search(ask)
    after = re.findall(r"\d+", (ask[wh.end():] if wh else ask).replace(",", ""))
    # the case-blind regexes are slow on long prompts; on ASCII text a substring test of the
    # lower-cased prompt decides the same wherever it finds nothing
    low = prompt.lower() if prompt.isascii() else None
    how_much = (low is None or "how much" in low) and _HOW_MUCH.search(prompt) is not None
    money = (low is None or any(w in low for w in _MONEY_WORDS)) and _MONEY.search(prompt) is not None
    return [float(len(cents)), float(bool(cents)), float(bool(re.search(r"\.00\b", prompt))), float(prompt.count("$")),
            float(how_much), float(money), float(bool(re.search(r"\d", ask))),
            float(len(re.findall(r"\d+", ask.replace(",", "")))), float(bool(_TIME_NUMBER.search(ask))),
            float(bool(after)), float(len(after))]


def math_prompt_features(prompts: Sequence[str]) -> np.ndarray:
    """(n, len(MATH_FEATURE_NAMES)) features of a word problem's question: how many quantities,
    their size, percentages and fractions, and the words that signal steps (each, per, less, ...)."""
    rows = []
    for q in prompts:
        nums = numbers(q)
        low = q.lower()
        words = Counter(_WORD_RE.findall(low))
        rows.append([len(q), np.log1p(len(q)), len(nums), len(set(nums)), np.log1p(max((float(x) for x in nums), default=0.0)),
                     sum("." in x for x in nums), q.count("%"), len(re.findall(r"\d/\d", q)),
                     len(re.findall(r"[.?!](?:\s|$)", q)), len(re.findall(r"[a-z]+", low)), len(question_quantities(q)),
                     *(words[w] for w in _WORD_PROBLEM), *format_risk_features(q)])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(MATH_FEATURE_NAMES))
