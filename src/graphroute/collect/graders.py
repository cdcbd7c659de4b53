"""Graders: a model's response to a prompt becomes a score (the outcome a router learns from).

Reference graders compare with the prompt's reference column: ``exact`` (normalised text),
``numeric`` (the response's final number, as GSM8K is graded), ``choice`` (the option letter, as
MMLU is graded), ``regex`` (the reference, or ``pattern=``, matches the response). The model
graders (``judge:<model>``, ``pairwise:<model>``) are in ``graphroute.collect.judges``.

Examples:
    >>> from graphroute.collect import make_grader
    >>> make_grader("numeric").grade("Q", "3 + 4 = 7, so she has 7 eggs.", "7")
    1.0
    >>> make_grader("choice").grade("Q", "The answer is (B).", "B"), make_grader("exact").grade("Q", " Paris. ", "paris")
    (1.0, 1.0)
"""

from __future__ import annotations

import math
import re
import string
from abc import ABC, abstractmethod
from typing import Any

from graphroute.registry import Registry

GRADERS = Registry("grader")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_LETTER = re.compile(r"(?:answer\s*(?:is|:)?\s*\(?|^\(?|\()([A-J])\b\)?", re.IGNORECASE | re.MULTILINE)


class Grader(ABC):
    """Scores every model's response to one prompt; ``needs_reference``: the reference column is required."""

    needs_reference = True
    scale = "bool"  # or "graded" (judge scores 1-10), "unit" (0-1)

    @abstractmethod
    async def grade_all(self, prompt: str, responses: dict[str, str], reference: Any,
                        call: Any = None) -> dict[str, float] | None:
        """Every model's score for one prompt (``None``: the prompt could not be graded)."""


class ReferenceGrader(Grader):
    """A grader that scores each response on its own against the reference: ``grade``."""

    @abstractmethod
    def grade(self, prompt: str, response: str, reference: Any) -> float:
        """The score of one response."""

    async def grade_all(self, prompt: str, responses: dict[str, str], reference: Any,
                        call: Any = None) -> dict[str, float] | None:
        return {name: self.grade(prompt, text, reference) for name, text in responses.items()}


def normalise_text(text: str) -> str:
    """Lower case, no punctuation, single spaces."""
    return " ".join(str(text).lower().translate(str.maketrans("", "", string.punctuation)).split())


def final_number(text: str) -> float | None:
    """The last number in ``text`` (``1,234.5`` -> 1234.5), or ``None``."""
    found = _NUMBER.findall(str(text))
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


class ExactGrader(ReferenceGrader):
    def grade(self, prompt: str, response: str, reference: Any) -> float:
        return float(normalise_text(response) == normalise_text(reference))


class NumericGrader(ReferenceGrader):
    """The response's final number equals the reference's within ``tolerance`` (relative)."""

    def __init__(self, tolerance: float = 1e-6) -> None:
        self.tolerance = tolerance

    def grade(self, prompt: str, response: str, reference: Any) -> float:
        want, got = final_number(str(reference)), final_number(response)
        if want is None or got is None:
            return 0.0
        return float(math.isclose(got, want, rel_tol=self.tolerance, abs_tol=self.tolerance))


class ChoiceGrader(ReferenceGrader):
    """The first option letter the response commits to (``answer is B``, ``(B)``, a leading ``B``)."""

    def grade(self, prompt: str, response: str, reference: Any) -> float:
        m = _LETTER.search(str(response).strip())
        return float(m is not None and m.group(1).upper() == str(reference).strip().upper()[:1])


class RegexGrader(ReferenceGrader):
    """``pattern`` (else the reference, as a regular expression) is found in the response."""

    def __init__(self, pattern: str | None = None, ignore_case: bool = True) -> None:
        self.pattern, self.ignore_case = pattern, ignore_case
        self.needs_reference = pattern is None
        if pattern is not None:
            re.compile(pattern)

    def grade(self, prompt: str, response: str, reference: Any) -> float:
        flags = re.IGNORECASE if self.ignore_case else 0
        return float(re.search(self.pattern or str(reference), str(response), flags) is not None)


GRADERS.add("exact", ExactGrader, "normalised text equals the reference")
GRADERS.add("numeric", NumericGrader, "the response's final number equals the reference's")
GRADERS.add("choice", ChoiceGrader, "the option letter the response gives equals the reference")
GRADERS.add("regex", RegexGrader, "the reference (or pattern=) as a regular expression is found")
