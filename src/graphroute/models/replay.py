"""A LangChain chat model that answers from recorded outcomes, so cascades and whole graphs run and
are scored offline on the built-in data (or any dataset with responses).

Each call looks up the last human message among the dataset's prompts and returns that model's
recorded response (empty text when the dataset records only scores), with the recorded score,
token usage and the row in ``response_metadata``.

Examples:
    >>> from graphroute.datasets import load_dataset
    >>> from graphroute.models import ReplayChatModel
    >>> data = load_dataset("routellm-gsm8k")
    >>> weak = ReplayChatModel(data=data, model_name=data.weak)
    >>> msg = weak.invoke(data.prompts[0])
    >>> msg.content.strip().splitlines()[-1], msg.response_metadata["recorded_score"]
    ('#### 540', 1.0)
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr, model_validator

from graphroute.costs import count_tokens
from graphroute.errors import ReplayMissError, UnknownModelError


def _text(message: BaseMessage) -> str:
    c = message.content
    if isinstance(c, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in c)
    return str(c)


class ReplayChatModel(BaseChatModel):
    """Answers with ``model_name``'s recorded response to the prompt (see the module docstring).

    ``latency_ms`` sleeps that long per call (to replay timing); ``default`` answers prompts the
    dataset lacks instead of raising ``ReplayMissError``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    data: Any
    model_name: str
    latency_ms: float = 0.0
    default: str | None = None
    temperature: float | None = Field(default=None, description="accepted for API compatibility; replays are deterministic")
    _rows: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _index(self) -> "ReplayChatModel":
        if self.model_name not in self.data.models:
            raise UnknownModelError(self.model_name, self.data.models, f"dataset {self.data.name!r}")
        rows: dict[str, int] = {}
        for i, p in enumerate(self.data.prompts):
            rows.setdefault(p, i)
            rows.setdefault(p.strip(), i)
        self._rows = rows
        return self

    @property
    def _llm_type(self) -> str:
        return "graphroute-replay"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "dataset": self.data.name}

    def row_of(self, prompt: str) -> int | None:
        return self._rows.get(prompt, self._rows.get(prompt.strip()))

    def lookup(self, prompt: str) -> tuple[str, float | None, int | None]:
        """``(recorded response, recorded score, row)`` of ``prompt`` (``default`` and no score for a
        prompt the dataset lacks; ``ReplayMissError`` without a default)."""
        row = self.row_of(prompt)
        if row is None:
            if self.default is None:
                raise ReplayMissError(f"replay of {self.model_name!r}: prompt not in dataset {self.data.name!r}: "
                                      f"{prompt[:80]!r}")
            return self.default, None, None
        responses = (self.data.responses or {}).get(self.model_name)
        text = responses[row] if responses is not None else ""
        return text, float(self.data.scores[row, self.data.index(self.model_name)]), row

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        human = [m for m in messages if m.type == "human"]
        prompt = _text(human[-1]) if human else (_text(messages[-1]) if messages else "")
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        text, score, row = self.lookup(prompt)
        tin, tout = (int(x) for x in count_tokens([prompt, text]))
        msg = AIMessage(content=text,
                        response_metadata={"model_name": self.model_name, "finish_reason": "stop",
                                           "recorded_score": score, "row": row},
                        usage_metadata={"input_tokens": tin, "output_tokens": tout, "total_tokens": tin + tout})
        return ChatResult(generations=[ChatGeneration(message=msg)])
