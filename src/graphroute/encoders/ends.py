"""Prompts longer than the encoder's window, embedded by their two ends.

MiniLM reads a prompt's first 256 tokens and drops the rest. Few-shot prompts put their examples
first and the question last, so prompts of one task that share a long prefix all embed to one
vector, and no embedding router can tell their questions apart. That happens on 5-shot ARC and
Winogrande, and a ``GraphRouteWarning`` is raised when it does.
``EndsEncoder`` gives the wrapped encoder a prompt's first ``head`` tokens and its last
``window - head`` tokens, cut at token boundaries in the original text and joined by a line with
``…``. Prompts that fit the window are unchanged. Its ``id`` adds ``/ends<head>``, so its vectors
never mix with the plain encoder's in a cache or a saved router. Opt in with
``encoder="ends"`` (e.g. ``make_router("logistic:encoder=ends")``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.encoders.base import Encoder
from graphroute.encoders.sentence_transformers import default_model_path


class EndsEncoder:
    """Wraps an encoder: texts over ``window`` tokens become their first ``head`` and last tokens.

    Examples:
        >>> from graphroute.encoders.ends import EndsEncoder
        >>> class Echo:
        ...     id = "echo"
        ...     def encode(self, texts): return texts
        >>> enc = EndsEncoder(Echo(), head=4, window=12)
        >>> enc.encode(["short question?"])[0]
        'short question?'
        >>> enc.id, enc.shorten("one two three four five six seven eight nine ten eleven twelve thirteen fourteen")
        ('echo/ends4', 'one two three four\\n…\\nseven eight nine ten eleven twelve thirteen fourteen')
    """

    def __init__(self, inner: Encoder, head: int = 64, window: int = 254, model: str | Path | None = None) -> None:
        if not 0 < head < window:
            raise ValueError(f"head must be between 0 and window ({window}), got {head}")
        self.inner, self.head, self.window, self.model = inner, head, window, model
        self.id = f"{inner.id}/ends{head}"
        self.layers = getattr(inner, "layers", None)
        self._tok: Any = None

    def _tokenizer(self) -> Any:
        if self._tok is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(Path(self.model or default_model_path()) / "tokenizer.json"))
            tok.no_truncation()
            tok.no_padding()
            self._tok = tok
        return self._tok

    def shorten(self, text: str) -> str:
        """``text`` itself if it fits the window, else its first ``head`` and last tokens."""
        if len(text) < self.window:  # fewer characters than tokens in the window: it fits
            return text
        offsets = [o for o in self._tokenizer().encode(text, add_special_tokens=False).offsets if o[1] > o[0]]
        if len(offsets) <= self.window:
            return text
        tail = self.window - self.head
        return text[:offsets[self.head - 1][1]] + "\n…\n" + text[offsets[-tail][0]:]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode([self.shorten(t) for t in texts])
