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


_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]+(?::[^/\s@]*)?@")


def redact(text: str) -> str:
    """``text`` with API keys, bearer tokens, ``key=value`` secrets and URL credentials replaced by
    ``[REDACTED]``.

    Examples:
        >>> redact('{"Authorization": "Bearer abc123def456"} from https://user:pw@api.example.com/v1')
        '{"Authorization": "Bearer [REDACTED]"} from https://[REDACTED]@api.example.com/v1'
    """
    def sub(m: re.Match) -> str:
        s = m.group(0)
        head = re.match(r"(?i)(?:api[_-]?key|token|secret|password|authorization)\s*[:=]\s*(?:bearer\s+)?", s)
        return (head.group(0) if head else "") + "[REDACTED]"

    out = _SECRET.sub(sub, str(text))
    out = _BEARER.sub(lambda m: m.group(1) + "[REDACTED]", out)
    return _URL_CREDENTIALS.sub(lambda m: m.group(1) + "[REDACTED]@", out)
