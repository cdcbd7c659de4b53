"""Cheap hand-made features of a (prompt, answer) pair, for learned confidence scorers.

``generic`` features suit any task: length, truncation, hedging and refusal words, repetition,
how much of the prompt the answer echoes. ``math`` adds checks for answers that show their work
(``graphroute.tasks.arithmetic``): is the final answer a clean integer, is it the result of a
step, are the steps' sums right, does it use every quantity in the question — and how the question
invites its answer to be written (prices with cents, a number in the final sentence), which predicts
grading failures of *any* model answering it.

Examples:
    >>> from graphroute.scorers.answer_features import answer_features, feature_names
    >>> F = answer_features(["What is 2 + 3?"], ["2 + 3 = 5\\n#### 5"], kind="math")
    >>> F.shape == (1, len(feature_names("math")))
    True
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np

from graphroute.tasks import arithmetic as mc
from graphroute.tasks.word_problems import FORMAT_RISK_NAMES, format_risk_features

_HEDGE = re.compile(r"approximately|round|≈|cannot|can't|not possible|assum|however|not enough|incorrect|"
                    r"mistake|\bwait\b|\bbut\b|unclear|ambiguous|impossible|not sure|I think|might be", re.I)
_REFUSAL = re.compile(r"I can(?:not|'t) (?:help|assist|answer)|as an AI|I'm sorry|I am sorry|I don't know", re.I)
_APPROX = re.compile(r"approximately|round|≈|\babout\b", re.I)
_IMPOSSIBLE = re.compile(r"cannot|can't|not possible|not enough|impossible|unclear|ambiguous", re.I)
_ALGEBRA = re.compile(r"\b[a-zA-Z]\s*=\s*\d|let'?s (denote|say|call)|\\\(", re.I)
_Q_KEYWORDS = {
    "q_less": r"\bless\b|\bfewer\b|\bleft\b|\bremain|\bspent\b|\bgave\b|\bgive\b|\blost\b|\bsold\b|\bdifference\b|\bmore than\b",
    "q_each": r"\beach\b|\bper\b|\btimes\b|\bevery\b",
    "q_percent": r"%|\bpercent",
    "q_fraction": r"\bhalf\b|\bthird|\bquarter|\d/\d",
    "q_units": r"\bcents\b|\bminutes\b|\bin a year\b|\bfeet\b|\binches\b",
}

GENERIC = ["log_chars", "log_prompt_chars", "lines", "ends_cleanly", "truncated", "hedge", "refusal", "approx",
           "impossible", "repetition", "prompt_overlap", "n_numbers", "prompt_sentences"]
MATH = ["decimal_final", "zero_decimal", "has_final_marker", "clean_final_marker", "text_after_marker",
        "marker_is_last", "final_in_question", "steps_ok", "steps_wrong", "any_step_wrong", "n_steps",
        "nonint_results", "algebra", "log_final", "final_vs_question_max", "covered", "missing", "words_missing",
        "any_covered", "dangling", "chain", "is_result", "op_add", "op_sub", "op_mul", "op_div", "annotations",
        *_Q_KEYWORDS, *FORMAT_RISK_NAMES]


#: Features of the prompt alone (the rest describe the answer): what a next stage's outcome is fitted on.
PROMPT_ONLY = {"log_prompt_chars", "prompt_sentences", *_Q_KEYWORDS, *FORMAT_RISK_NAMES}


def prompt_columns(kind: str = "math") -> list[int]:
    """Indices of ``answer_features`` columns that depend on the prompt only."""
    return [i for i, name in enumerate(feature_names(kind)) if name in PROMPT_ONLY]


def feature_names(kind: str = "math") -> list[str]:
    """Column names of ``answer_features`` for ``kind`` ("generic" or "math")."""
    if kind not in ("generic", "math"):
        raise ValueError(f"kind must be 'generic' or 'math', got {kind!r}")
    return GENERIC + (MATH if kind == "math" else [])


def _generic(prompt: str, answer: str, finish_reason: str | None) -> list[float]:
    s = answer.rstrip()
    words = re.findall(r"\w+", answer.lower())
    pwords = set(re.findall(r"\w+", prompt.lower()))
    distinct = len(set(words)) / len(words) if words else 1.0
    ends = bool(s) and (s[-1] in ".!?)]}\"'`*" or bool(re.search(r"####\s*\S+$", s)) or s[-1].isdigit())
    truncated = finish_reason == "length" or bool(re.search(r"<<[^>]*$", s)) or s.endswith((":", ",", "="))
    return [
        math.log1p(len(answer)), math.log1p(len(prompt)), float(answer.count("\n")), float(ends), float(truncated),
        float(bool(_HEDGE.search(answer))), float(bool(_REFUSAL.search(answer))), float(bool(_APPROX.search(answer))),
        float(bool(_IMPOSSIBLE.search(answer))), 1.0 - distinct,
        (sum(1 for w in set(words) if w in pwords) / len(set(words))) if words else 0.0,
        float(len(mc.numbers(answer))), float(len(re.findall(r"[.?!](?:\s|$)", prompt))),
    ]


def _math(prompt: str, answer: str) -> list[float]:
    nums = mc.numbers(answer)
    last = nums[-1] if nums else ""
    markers = re.findall(r"####\s*([^\n]*)", answer)
    after = markers[-1].strip() if markers else ""
    ok, bad = mc.check_arithmetic(answer)
    steps = mc.equations(answer)
    results = {rhs.strip() for _, rhs, _ in steps}
    qnums = {x for x in mc.numbers(prompt)}
    qmax = max((float(x) for x in qnums), default=0.0)
    lastf = float(last) if last else 0.0
    ops = "".join(lhs for lhs, _, _ in steps).replace("×", "*")
    ops = re.sub(r"(?<=[\d)\s])[xX](?=[\s\d(])", "*", ops)
    d = mc.derivation(prompt, answer)
    return [
        float("." in last and not re.fullmatch(r"\d+\.0+", last)), float(bool(re.fullmatch(r"\d+\.0+", last))),
        float(bool(markers)), float(bool(re.fullmatch(r"\$?-?\d+(\.\d+)?\s*\w{0,12}\.?", after))),
        float(bool(markers) and len(after) > 15), float(bool(markers) and after.replace("$", "").rstrip(".").strip() == last),
        float(last in qnums), float(ok), float(bad), float(bad > 0), float(len(steps)),
        float(sum(1 for r in results if re.fullmatch(r"-?\d+\.\d*[1-9]\d*", r))), float(bool(_ALGEBRA.search(answer))),
        math.log1p(lastf), math.log1p(lastf) - math.log1p(qmax),
        d["covered"], d["missing"], d["words_missing"], d["any_covered"], d["dangling"], d["chain"], d["is_result"],
        float(ops.count("+")), float(ops.count("-")), float(ops.count("*")), float(ops.count("/")),
        float(answer.count("<<")),
        *(float(bool(re.search(p, prompt, re.I))) for p in _Q_KEYWORDS.values()),
        *format_risk_features(prompt),
    ]


def answer_features(prompts: Sequence[str], answers: Sequence[str], finish_reasons: Sequence[str | None] | None = None,
                    *, kind: str = "math") -> np.ndarray:
    """(n, len(feature_names(kind))) features of each (prompt, answer) pair."""
    names = feature_names(kind)
    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answers")
    reasons = list(finish_reasons) if finish_reasons is not None else [None] * len(answers)
    rows = []
    for p, a, r in zip(prompts, answers, reasons):
        row = _generic(p, a, r)
        if kind == "math":
            row += _math(p, a)
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names))
