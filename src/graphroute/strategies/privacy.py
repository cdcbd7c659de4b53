"""Privacy routing: prompts holding personal or secret data go only to models carrying an allowed
tag (``local`` by default, or a region tag) — never to others, fallbacks included.

The detector finds e-mail addresses, phone numbers, payment card numbers (Luhn-checked), US SSNs,
IBANs, IPv4 addresses and API keys/tokens; it is regex-based, fast (tens of microseconds) and
extensible with your own patterns.

Examples:
    >>> from graphroute.strategies import PrivacyRouter, RoundRobinRouter
    >>> r = PrivacyRouter(RoundRobinRouter(["gpt-4o", "llama-local"]), tags={"llama-local": ["local"]})
    >>> r.decide(["Email jane.doe@example.com her results"])[0].model
    'llama-local'
    >>> r.allowed_models("my card is 4111 1111 1111 1111")
    ['llama-local']
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from graphroute.errors import ConfigError
from graphroute.prompts import check_prompts
from graphroute.types import Decision
from graphroute.strategies.base import STRATEGIES, StrategyRouter

PATTERNS = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "phone": r"(?<!\w)(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{3,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?(?!\w)",
    "card": r"(?<!\d)(?:\d[ -]?){13,19}(?!\d)",
    "ssn": r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)",
    "iban": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b",
    "ipv4": r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])",
    "secret": r"\b(?:sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[baprs]-[A-Za-z0-9-]{10,}|"
              r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})\b",
}


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class PIIDetector:
    """Finds sensitive spans: ``detect(text) -> [(kind, span text)]``; ``extra`` adds patterns."""

    def __init__(self, kinds: Sequence[str] | None = None, extra: dict[str, str] | None = None) -> None:
        kinds = list(kinds) if kinds is not None else list(PATTERNS)
        unknown = [k for k in kinds if k not in PATTERNS]
        if unknown:
            raise ConfigError(f"unknown PII kinds {unknown}; known: {sorted(PATTERNS)}", field="kinds")
        try:
            self._res = {k: re.compile(PATTERNS[k]) for k in kinds} | {k: re.compile(p) for k, p in (extra or {}).items()}
        except re.error as exc:
            raise ConfigError(f"invalid PII pattern: {exc}", field="extra") from None

    def detect(self, text: str) -> list[tuple[str, str]]:
        found = []
        for kind, rx in self._res.items():
            for m in rx.finditer(text):
                span = m.group(0)
                if kind == "card":
                    digits = re.sub(r"\D", "", span)
                    if not (13 <= len(digits) <= 19 and _luhn(digits)):
                        continue
                found.append((kind, span))
        return found

    def sensitive(self, text: str) -> bool:
        return bool(self.detect(text))

    def redact(self, text: str) -> str:
        """``text`` with every detected span replaced by ``[KIND]``."""
        for kind, span in sorted(self.detect(text), key=lambda x: -len(x[1])):
            text = text.replace(span, f"[{kind.upper()}]")
        return text


@STRATEGIES.register("privacy")
class PrivacyRouter(StrategyRouter):
    """Wraps any router (``inner``: a router, or a strategy spec such as ``{"name": "round_robin",
    "models": [...]}``): sensitive prompts (or ``context["private"]``) may only use models with one of
    ``allowed_tags``; the inner router's choice stands when it is allowed, else the allowed model it
    scores highest. If no model is allowed, the decision's model is ``None`` (never a leak)."""

    name = "privacy"

    def __init__(self, inner: Any, tags: dict[str, Sequence[str]], allowed_tags: Sequence[str] = ("local",),
                 detector: PIIDetector | None = None) -> None:
        inner = STRATEGIES.make(inner)
        super().__init__(list(inner.models_))
        self.inner, self.tags, self.allowed_tags = inner, {m: list(t) for m, t in tags.items()}, list(allowed_tags)
        self.detector = detector or PIIDetector()

    def allowed_models(self, prompt: str, context: dict[str, Any] | None = None) -> list[str]:
        """Models this prompt may go to (all, unless it is sensitive)."""
        if not ((context or {}).get("private") or self.detector.sensitive(prompt)):
            return list(self.models_)
        return [m for m in self.models_ if set(self.tags.get(m, ())) & set(self.allowed_tags)]

    def decide(self, X: Sequence[str] | str, *, max_cost: float | None = None,
               context: dict[str, Any] | None = None) -> list[Decision]:
        out = []
        for p in check_prompts(X):
            inner = self.inner.decide([p], max_cost=max_cost)[0]
            allowed = self.allowed_models(p, context)
            if inner.model in allowed:
                out.append(inner)
                continue
            if not allowed:
                out.append(Decision(model=None, scores=inner.scores, reason="sensitive prompt and no model tagged "
                                    f"{'/'.join(self.allowed_tags)}: refused", policy=self.name))
                continue
            best = max(allowed, key=lambda m: inner.scores.get(m, 0.0))
            out.append(Decision(model=best, scores=inner.scores, policy=self.name,
                                reason=f"sensitive prompt: {inner.model} not allowed, {best} is tagged "
                                       f"{'/'.join(self.allowed_tags)}"))
        return out

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        d = self.decide([prompt], context=context)[0]
        return d.model, d.reason  # type: ignore[return-value]
