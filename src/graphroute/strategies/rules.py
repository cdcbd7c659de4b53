"""Rule-based routing: the first matching rule picks the model (keywords, regex, length), else a
default. It implements the router protocol, so it is a node, a YAML block and a fallback like any
other router.

Examples:
    >>> from graphroute.strategies.rules import RulesRouter
    >>> r = RulesRouter([{"model": "coder", "contains": ["python", "sql"]}, {"model": "big", "min_chars": 2000}],
    ...                 default="small")
    >>> r.choose(["Write a Python function", "Hello!"])
    ['coder', 'small']
"""

from __future__ import annotations

import re
from typing import Any


from graphroute.errors import ConfigError
from graphroute.strategies.base import STRATEGIES, StrategyRouter


@STRATEGIES.register("rules")
class RulesRouter(StrategyRouter):
    """``rules``: dicts with ``model`` and any of ``contains`` (case-insensitive substrings, any),
    ``regex``, ``min_chars``, ``max_chars`` (all given conditions must hold)."""

    name = "rules"

    def __init__(self, rules: list[dict[str, Any]], default: str) -> None:
        self.rules, self.default = rules, default
        self._compiled = []
        for i, r in enumerate(rules):
            if not isinstance(r, dict) or "model" not in r:
                raise ConfigError(f"rule {i} needs a 'model'", field=f"rules[{i}]")
            unknown = set(r) - {"model", "contains", "regex", "min_chars", "max_chars"}
            if unknown:
                raise ConfigError(f"rule {i}: unknown field(s) {sorted(unknown)}", field=f"rules[{i}]")
            try:
                rx = re.compile(r["regex"]) if r.get("regex") else None
            except re.error as exc:
                raise ConfigError(f"rule {i}: invalid regex: {exc}", field=f"rules[{i}].regex") from None
            self._compiled.append((r, rx, [s.lower() for s in r.get("contains") or []]))
        super().__init__(list(dict.fromkeys([r["model"] for r in rules] + [default])))
        self.weak_, self.strong_ = default, next((r["model"] for r in rules if r["model"] != default), default)

    def match(self, prompt: str) -> tuple[str, str]:
        """(model, reason) for one prompt."""
        low = prompt.lower()
        for i, (r, rx, words) in enumerate(self._compiled):
            if words and not any(w in low for w in words):
                continue
            if rx is not None and not rx.search(prompt):
                continue
            if r.get("min_chars") is not None and len(prompt) < r["min_chars"]:
                continue
            if r.get("max_chars") is not None and len(prompt) > r["max_chars"]:
                continue
            return r["model"], f"rule {i} matched"
        return self.default, "no rule matched: default"

    def pick(self, prompt: str, context: dict[str, Any]) -> tuple[str, str]:
        return self.match(prompt)
