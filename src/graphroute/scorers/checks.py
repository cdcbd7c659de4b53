"""Rule-based scorers: format/parse checks and checks of shown arithmetic. No model calls, microseconds.

Examples:
    >>> from graphroute.scorers import ArithmeticScorer, FormatScorer
    >>> from graphroute.types import Answer
    >>> FormatScorer(kind="integer").score("q", Answer(text="so the total is 12.5"))
    0.0
    >>> FormatScorer(kind="json").score("q", Answer(text='```json\\n{"a": 1}\\n```'))
    1.0
    >>> ArithmeticScorer().score("Tom has 3 bags of 4 apples. How many?", Answer(text="3 * 4 = 12\\n#### 12"))
    1.0
    >>> ArithmeticScorer().score("Tom has 3 bags of 4 apples. How many?", Answer(text="3 * 4 = 13\\n#### 13"))
    0.0
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any, Callable

from graphroute.tasks import arithmetic as mc
from graphroute.types import Answer
from graphroute.errors import CascadeError
from graphroute.persist import refuse_code
from graphroute.scorers.base import SCORERS, ScoreContext, Scorer

KINDS = ("number", "integer", "json", "choice")


def _resolve(parser: Callable | str | None) -> Callable | None:
    if parser is None or callable(parser):
        return parser
    refuse_code("parser", str(parser))  # a saved folder names no code
    module, _, attr = str(parser).partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        raise CascadeError(f"parser {parser!r}: expected 'module:function' naming an importable callable") from None


def _final_value(text: str) -> str | None:
    marked = re.findall(r"####\s*\$?(-?[\d,]*\.?\d+)", text)
    if marked:
        return marked[-1].replace(",", "")
    nums = mc.numbers(text)
    return nums[-1] if nums else None


def _json_ok(text: str) -> bool:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    body = fenced.group(1) if fenced else text
    try:
        json.loads(body.strip())
    except ValueError:
        return False
    return True


@SCORERS.register("format")
class FormatScorer(Scorer):
    """1.0 when the answer has the expected form, 0.0 when not (or when it was cut off at the token limit).

    ``kind``: ``number`` (a final number), ``integer`` (a whole final number), ``json``, ``choice``
    (one of ``choices`` on the last line). ``pattern``: a regex the answer must contain. ``parser``:
    a callable (or ``"module:function"``) that must not raise on the answer text. All given checks
    must pass.
    """

    name = "format"

    def __init__(self, kind: str | None = None, pattern: str | None = None, choices: list[str] | None = None,
                 parser: Callable | str | None = None, truncation: bool = True) -> None:
        if kind is not None and kind not in KINDS:
            raise CascadeError(f"FormatScorer kind must be one of {KINDS}, got {kind!r}")
        if kind == "choice" and not choices:
            raise CascadeError("FormatScorer(kind='choice') needs choices, e.g. ['A', 'B', 'C', 'D']")
        try:
            self._re = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise CascadeError(f"FormatScorer pattern {pattern!r} is not a valid regex: {exc}") from None
        self.kind, self.pattern, self.choices, self.truncation = kind, pattern, choices, truncation
        self.parser = parser
        self._parse = _resolve(parser)

    def _params(self) -> dict[str, Any]:
        if self.parser is not None and not isinstance(self.parser, str):
            fn = self.parser
            parser: Any = f"{fn.__module__}:{fn.__qualname__}"
        else:
            parser = self.parser
        return {"kind": self.kind, "pattern": self.pattern, "choices": self.choices, "parser": parser,
                "truncation": self.truncation}

    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        text = answer.text
        if (self.truncation and answer.truncated) or not text.strip():
            return 0.0
        if self._re is not None and not self._re.search(text):
            return 0.0
        if self._parse is not None:
            try:
                self._parse(text)
            except Exception:
                return 0.0
        if self.kind in ("number", "integer"):
            v = _final_value(text)
            if v is None or (self.kind == "integer" and "." in v and not re.fullmatch(r"-?\d+\.0*", v)):
                return 0.0
        elif self.kind == "json" and not _json_ok(text):
            return 0.0
        elif self.kind == "choice":
            last = text.strip().splitlines()[-1]
            found = re.findall(r"\b([A-Za-z0-9]+)\b", last)
            if not any(c in found for c in self.choices or []):
                return 0.0
        return 1.0


@SCORERS.register("arithmetic")
class ArithmeticScorer(Scorer):
    """Checks an answer that shows its work.

    Score = (share of worked steps whose arithmetic is right) x (share of the question's numbers that
    flow into the final answer). Truncated answers score 0; answers with no checkable step score
    ``unchecked``.
    """

    name = "arithmetic"

    def __init__(self, unchecked: float = 0.5) -> None:
        self.unchecked = unchecked

    def _params(self) -> dict[str, Any]:
        return {"unchecked": self.unchecked}

    def score(self, prompt: str, answer: Answer, context: ScoreContext | None = None) -> float:
        text = answer.text
        if answer.truncated or re.search(r"<<[^>]*$", text.rstrip()):
            return 0.0
        ok, bad = mc.check_arithmetic(text)
        if ok + bad == 0:
            return float(self.unchecked)
        return ok / (ok + bad) * mc.derivation(prompt, text)["covered"]
