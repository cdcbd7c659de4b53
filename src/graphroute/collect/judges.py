"""Model graders: a judge model scores responses (MT-Bench's single-answer and pairwise grading).

``judge:<model>`` asks ``<model>`` (an entry of the models file) for a 1-10 rating of each
response, the rubric of MT-Bench's single-answer grading, and reads ``[[rating]]``.
``pairwise:<model>`` compares each model with the first one listed, in both orders (A/B then
B/A): a win in both orders scores 1, a loss in both 0, anything else (a tie, or verdicts that
flip with the order, i.e. position bias) 0.5; the first model scores one minus the mean of its
opponents. A verdict that cannot be read leaves the prompt without a score (the row is dropped
and counted).

Examples:
    >>> from graphroute.collect.judges import read_rating, read_verdict
    >>> read_rating("The answer is correct and concise. Rating: [[8]]"), read_verdict("... [[B]]")
    (8.0, 'B')
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

from graphroute.collect.graders import GRADERS, Grader

Call = Callable[[str, str], Awaitable[str]]  # (model id, prompt) -> text

SINGLE = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Consider helpfulness, relevance, accuracy, depth and detail. "
    "{reference_line}Be as objective as possible. After a short explanation, rate the response on a scale of 1 to 10 "
    "in exactly this format: \"[[rating]]\", for example \"Rating: [[5]]\".\n\n"
    "[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"
)
PAIR = (
    "[Instruction]\nPlease act as an impartial judge and evaluate the responses of two AI assistants to the user "
    "question below. Choose the assistant that follows the instructions and answers the question better. "
    "{reference_line}Do not let the order of the responses, their length or the assistants' names influence you. "
    "After a short explanation, output your verdict in exactly this format: \"[[A]]\" if assistant A is better, "
    "\"[[B]]\" if assistant B is better, \"[[C]]\" for a tie.\n\n[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{b}\n[The End of Assistant B's Answer]"
)
_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]|rating:?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]")


def read_rating(text: str) -> float | None:
    """The judge's 1-10 rating (``[[8]]`` or ``Rating: 8``), or ``None``."""
    m = _RATING.search(text or "")
    if m is None:
        return None
    value = float(m.group(1) or m.group(2))
    return value if 1.0 <= value <= 10.0 else None


def read_verdict(text: str) -> str | None:
    """``'A'``, ``'B'`` or ``'C'`` (tie) from ``[[A]]``-style verdicts; the last one counts."""
    found = _VERDICT.findall(text or "")
    return found[-1] if found else None


def _reference_line(reference: Any) -> str:
    return f"A reference answer is: {reference!s}. " if reference not in (None, "") else ""


class ModelGrader(Grader):
    """A grader that asks a judge model; ``grade_all`` receives the caller's ``call``."""

    needs_reference = False

    def __init__(self, model: str) -> None:
        self.model = model


class JudgeGrader(ModelGrader):
    scale = "graded"

    async def grade_all(self, prompt: str, responses: dict[str, str], reference: Any,
                        call: Any = None) -> dict[str, float] | None:
        out = {}
        for name, answer in responses.items():
            rating = read_rating(await call(self.model, SINGLE.format(
                reference_line=_reference_line(reference), question=prompt, answer=answer)))
            if rating is None:
                return None
            out[name] = rating
        return out


class PairwiseGrader(ModelGrader):
    scale = "unit"

    async def _verdict(self, prompt: str, a: str, b: str, reference: Any, call: Call) -> str | None:
        return read_verdict(await call(self.model, PAIR.format(reference_line=_reference_line(reference),
                                                                 question=prompt, a=a, b=b)))

    async def grade_all(self, prompt: str, responses: dict[str, str], reference: Any,
                        call: Any = None) -> dict[str, float] | None:
        names = list(responses)
        base, out = names[0], {}
        for name in names[1:]:
            first = await self._verdict(prompt, responses[name], responses[base], reference, call)   # name is A
            second = await self._verdict(prompt, responses[base], responses[name], reference, call)  # name is B
            if first is None or second is None:
                return None
            wins = (first == "A") + (second == "B")
            losses = (first == "B") + (second == "A")
            out[name] = 1.0 if wins == 2 else 0.0 if losses == 2 else 0.5
        out[base] = 1.0 - sum(out.values()) / max(len(out), 1) if len(names) > 1 else 0.5
        return {n: out[n] for n in names}


GRADERS.add("judge", JudgeGrader, "a judge model rates each response 1-10 (MT-Bench single-answer grading)")
GRADERS.add("pairwise", PairwiseGrader, "a judge model compares each model with the first, in both orders")
