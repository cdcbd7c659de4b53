"""Secret redaction: API keys, bearer tokens and ``key=value`` secrets are removed from every
string graphroute logs, stores or returns in an error.

Examples:
    >>> from graphroute.redaction import redact
    >>> redact("key sk-abcdefghijklmnopqrstuvwx failed")
    'key [REDACTED] failed'
"""

from __future__ import annotations

import re

_SECRET = re.compile(r"(?:sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[baprs]-[A-Za-z0-9-]{10,}|"
                     r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|"
                     r"(?i:(?:api[_-]?key|token|secret|password|authorization)\s*[:=]\s*(?:bearer\s+)?)[^\s,;'\"]{6,})")


def redact(text: str) -> str:
    """``text`` with API keys, bearer tokens and ``key=value`` secrets replaced by ``[REDACTED]``."""
    def sub(m: re.Match) -> str:
        s = m.group(0)
        head = re.match(r"(?i)(?:api[_-]?key|token|secret|password|authorization)\s*[:=]\s*(?:bearer\s+)?", s)
        return (head.group(0) if head else "") + "[REDACTED]"

    return _SECRET.sub(sub, str(text))
