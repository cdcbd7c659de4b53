"""Cost model: per-model token prices and token counts -> dollars per prompt per model.

Token counts come from the data when it has them (``<model>|input_tokens`` /
``<model>|output_tokens`` columns, or response texts), else they are counted with OpenAI's
``cl100k_base`` BPE (the GPT-4 tokenizer) through the ``bpe-openai`` package, which carries its
vocabulary offline. Without that package, counts fall back to ``ceil(chars / 4)``, OpenAI's
published rule of thumb. Output tokens unknown to the data use the dataset's
``default_output_tokens`` (1 for RouteLLM's MMLU, generated with ``max_new_tokens=1``) or the
price file's ``default_output_tokens``.

Examples:
    >>> from graphroute.costs import CostModel
    >>> cm = CostModel.default()
    >>> round(cm.cost("gpt-4-1106-preview", input_tokens=1000, output_tokens=100), 4)
    0.013
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from graphroute.errors import ConfigError, UnknownModelError

if TYPE_CHECKING:
    from graphroute.datasets import RoutingDataset

TOKENIZER = "cl100k_base"


@dataclass(frozen=True)
class Price:
    """Dollars per 1M input and output tokens."""

    input: float
    output: float
    source: str = ""


@lru_cache(maxsize=1)
def _encoding():
    try:
        import bpe_openai
    except ImportError:
        return None
    return bpe_openai.get_encoding(TOKENIZER)


#: texts are counted in pieces of at most this many characters (a piece's edge can split one token
#: in two, so the count can only grow, by at most one token per piece)
PIECE_CHARS = 16_384


def _count_one(enc, text: str) -> int:
    """One text's tokens; very long texts in pieces (the tokenizer refuses a long run without spaces)."""
    if len(text) <= PIECE_CHARS:
        try:
            return len(enc.encode_ordinary(text))
        except ValueError:  # "Input too long to encode safely": at most one token per UTF-8 byte
            return len(text.encode("utf-8", "replace"))
    return sum(_count_one(enc, text[i:i + PIECE_CHARS]) for i in range(0, len(text), PIECE_CHARS))


def count_tokens(texts: Sequence[str]) -> np.ndarray:
    """Token counts of ``texts`` with ``cl100k_base`` (or ``ceil(chars/4)`` without bpe-openai).

    Examples:
        >>> from graphroute.costs import count_tokens
        >>> count_tokens(["hello world", "x" * 1_000_000]).tolist()   # a long run: counted in pieces
        [2.0, 125000.0]
    """
    enc = _encoding()
    if enc is None:
        return np.array([math.ceil(len(t) / 4) for t in texts], dtype=np.float64)
    texts = list(texts)
    if len(texts) < 16 or any(len(t) > PIECE_CHARS for t in texts):
        # the batch API starts a thread pool: for a few texts that costs more than it saves
        return np.array([_count_one(enc, t) for t in texts], dtype=np.float64)
    return np.array([len(x) for x in enc.encode_ordinary_batch(texts)], dtype=np.float64)


class CostModel:
    """Prices per model and the arithmetic from tokens to dollars."""

    def __init__(self, prices: dict[str, Price], default_output_tokens: int = 256, source: str = "") -> None:
        self.prices = dict(prices)
        self.default_output_tokens = default_output_tokens
        self.source = source

    @classmethod
    def from_yaml(cls, path: str | Path) -> "CostModel":
        """Read a price file (see ``graphroute/costs/prices.yaml`` for the format)."""
        import yaml

        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("price file not found", path=path) from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid YAML: {exc}", path=path) from None
        if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
            raise ConfigError("expected a mapping with a 'models' mapping", path=path, field="models")
        prices = {}
        for name, p in raw["models"].items():
            if not isinstance(p, dict):
                raise ConfigError("expected a mapping with input/output", path=path, field=f"models.{name}")
            for key in ("input", "output"):
                v = p.get(key)
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise ConfigError(f"{key} price must be a non-negative number, got {v!r}", path=path, field=f"models.{name}.{key}")
            prices[str(name)] = Price(float(p["input"]), float(p["output"]), str(p.get("source", "")))
        dot = raw.get("default_output_tokens", 256)
        if not isinstance(dot, int) or dot < 0:
            raise ConfigError(f"must be a non-negative integer, got {dot!r}", path=path, field="default_output_tokens")
        return cls(prices, dot, str(path))

    @classmethod
    def default(cls) -> "CostModel":
        """The price file shipped with graphroute."""
        return cls.from_yaml(Path(str(files("graphroute.costs") / "prices.yaml")))

    def has(self, model: str) -> bool:
        return model in self.prices

    def price(self, model: str) -> Price:
        if model not in self.prices:
            raise UnknownModelError(model, sorted(self.prices), f"price file {self.source}")
        return self.prices[model]

    def cost(self, model: str, input_tokens, output_tokens):
        """Dollars for the given token counts (scalars or arrays)."""
        p = self.price(model)
        out = (np.asarray(input_tokens, dtype=np.float64) * p.input + np.asarray(output_tokens, dtype=np.float64) * p.output) / 1e6
        return float(out) if out.ndim == 0 else out

    def dataset_costs(self, data: "RoutingDataset") -> np.ndarray | None:
        """(n, m) dollars per prompt per model, or None when a model has no price and no recorded cost."""
        n, m = len(data), len(data.models)
        out = np.full((n, m), np.nan)
        if data.costs is not None:
            out[:] = data.costs
        missing = np.isnan(out).any(axis=0)
        if not missing.any():
            return out
        if any(not self.has(data.models[j]) for j in np.flatnonzero(missing)):
            return None
        prompt_tokens = None
        default_out = data.meta.get("default_output_tokens", self.default_output_tokens)
        for j in np.flatnonzero(missing):
            model = data.models[j]
            tin = data.input_tokens[:, j] if data.input_tokens is not None else np.full(n, np.nan)
            if np.isnan(tin).any():
                if prompt_tokens is None:
                    prompt_tokens = count_tokens(data.prompts)
                tin = np.where(np.isnan(tin), prompt_tokens, tin)
            tout = data.output_tokens[:, j] if data.output_tokens is not None else np.full(n, np.nan)
            if np.isnan(tout).any():
                if data.responses is not None and model in data.responses:
                    tout = np.where(np.isnan(tout), count_tokens(data.responses[model]), tout)
                else:
                    tout = np.where(np.isnan(tout), float(default_out), tout)
            col = self.cost(model, tin, tout)
            out[:, j] = np.where(np.isnan(out[:, j]), col, out[:, j])
        return out
