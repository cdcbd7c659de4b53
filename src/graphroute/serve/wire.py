"""The OpenAI chat-completions wire format: request schema (for validation and the OpenAPI document),
completions and stream chunks built from an answer text, usage with cost, and OpenAI's error body.

Examples:
    >>> from graphroute.serve.wire import completion, error_body, last_user_text
    >>> c = completion("4", model="mixtral", request_id="r1", prompt_tokens=5, completion_tokens=1)
    >>> c["object"], c["choices"][0]["message"], c["usage"]["total_tokens"]
    ('chat.completion', {'role': 'assistant', 'content': '4'}, 6)
    >>> error_body("no such model", "invalid_request_error", code="model_not_found", param="model")["error"]["code"]
    'model_not_found'
    >>> last_user_text([{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    'hi'
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from graphroute.prompts import message_text


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Part):
    type: Literal["text"]
    text: str


class ImageURL(_Part):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Part):
    type: Literal["image_url"]
    image_url: ImageURL


class AudioPart(_Part):
    type: Literal["input_audio"]
    input_audio: dict[str, Any]


class FilePart(_Part):
    type: Literal["file"]
    file: dict[str, Any]


class RefusalPart(_Part):
    type: Literal["refusal"]
    refusal: str


#: a content part, as OpenAI's API takes them (its ``type`` picks the shape)
ContentPart = Annotated[Union[TextPart, ImagePart, AudioPart, FilePart, RefusalPart], Field(discriminator="type")]


class Message(BaseModel):
    """A chat message; fields the server does not read are kept and passed on."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(None, max_length=256)


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``: OpenAI's request; unknown fields are passed to the upstream."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256, pattern=r"^[^\s\x00-\x1f\x7f]+$",
                       description="a real model id, router-<router>-<threshold>, an alias or graph:<name> (no spaces "
                                   "or control characters)")
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    n: int = Field(1, ge=1, le=16)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    stream_options: dict[str, Any] | None = None
    user: str | None = None


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``: the outcome of an answered request (the server's own schema names
    its metrics and each one's range: ``feedback_request``)."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=128)
    score: float = Field(description="quality of the answer, in the metric's range (feedback: 0 bad to 1 good)",
                         allow_inf_nan=False)
    metric: str = Field("feedback", pattern=r"^[a-z][a-z0-9_]{0,31}$",
                        description="what the score measures: feedback (a user's; bandits learn from it) or another "
                                    "name, e.g. judge (an experiment's judge; recorded only)")


def feedback_request(ranges: dict[str, tuple[float, float]]) -> Any:
    """The body ``/v1/feedback`` takes on a server whose metrics have these score ranges: one shape
    per metric (``metric`` picks it), so the schema itself says which scores are valid.

    Examples:
        >>> from pydantic import TypeAdapter, ValidationError
        >>> body = TypeAdapter(feedback_request({"feedback": (0.0, 1.0), "stars": (1.0, 5.0)}))
        >>> body.validate_python({"request_id": "r1", "score": 4, "metric": "stars"}).score
        4.0
        >>> try:
        ...     body.validate_python({"request_id": "r1", "score": 4})
        ... except ValidationError as exc:
        ...     print(exc.errors()[0]["loc"], exc.errors()[0]["type"])
        ('feedback', 'score') less_than_equal
    """
    shapes = []
    for metric, (lo, hi) in ranges.items():
        shapes.append((metric, create_model(
            f"Feedback_{metric}", __config__=ConfigDict(extra="forbid"),
            request_id=(str, Field(min_length=1, max_length=128)),
            score=(float, Field(ge=lo, le=hi, allow_inf_nan=False, description=f"a {metric} score, {lo:g} to {hi:g}")),
            metric=(Literal[metric], Field(metric) if metric == "feedback" else ...))))  # type: ignore[arg-type, valid-type, unused-ignore]
    if len(shapes) == 1:
        return shapes[0][1]
    return Annotated[Union[tuple(Annotated[shape, Tag(m)] for m, shape in shapes)], Discriminator(_metric_of)]


def _metric_of(v: Any) -> Any:
    return v.get("metric", "feedback") if isinstance(v, dict) else getattr(v, "metric", None)


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error body."""

    error: ErrorDetail


class Routing(BaseModel):
    model_config = ConfigDict(extra="allow")

    virtual_model: str
    model: str | None
    reason: str
    request_id: str


class Completion(BaseModel):
    """A chat completion (OpenAI's object, plus ``routing``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: dict[str, Any] | None = None
    routing: Routing | None = None


class RouteResponse(BaseModel):
    """``POST /v1/route``: the decision only, nothing called."""

    model_config = ConfigDict(extra="allow")

    request_id: str
    virtual_model: str
    model: str | None
    reason: str
    scores: dict[str, float] = Field(default_factory=dict)


def error_body(message: str, type: str, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def last_user_text(messages: list[Any]) -> str:
    """What routing decides on: the last user message's text (else the last message's)."""
    for m in reversed(messages):
        role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
        if role == "user":
            return message_text(m.get("content") if isinstance(m, dict) else m.content)
    last = messages[-1] if messages else {}
    return message_text((last.get("content") if isinstance(last, dict) else getattr(last, "content", "")) or "")


def usage(prompt_tokens: int, completion_tokens: int, cost: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"prompt_tokens": int(prompt_tokens), "completion_tokens": int(completion_tokens),
                           "total_tokens": int(prompt_tokens) + int(completion_tokens)}
    if cost is not None:
        out["cost"] = float(cost)
    return out


def completion(text: str, *, model: str, request_id: str, prompt_tokens: int = 0, completion_tokens: int = 0,
               n: int = 1, texts: list[str] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``chat.completion`` answering ``text`` (or one choice per entry of ``texts``)."""
    answers = texts if texts is not None else [text] * n
    return {"id": f"chatcmpl-{request_id}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": i, "message": {"role": "assistant", "content": t}, "logprobs": None,
                         "finish_reason": "stop"} for i, t in enumerate(answers)],
            "usage": usage(prompt_tokens, completion_tokens), **(extra or {})}


def relayed(payload: dict[str, Any], *, model: str, request_id: str, cost: float,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An upstream's ``chat.completion`` as the server returns it: its id and model replaced by the
    request's, its usage kept (counted if it sent none) with the request's ``cost`` added."""
    u = payload.get("usage") if isinstance(payload.get("usage"), dict) else None
    return {**payload, "id": f"chatcmpl-{request_id}", "model": model,
            "usage": {**(u or usage(0, 0)), "cost": float(cost)}, **(extra or {})}


def first_text(payload: dict[str, Any]) -> str | None:
    """The first choice's message text of a ``chat.completion`` (None if it has none)."""
    choices = payload.get("choices") or [{}]
    msg = choices[0].get("message") if isinstance(choices[0], dict) else None
    return msg.get("content") if isinstance(msg, dict) else None


def usage_chunk(*, model: str, request_id: str, created: int, usage: dict[str, Any]) -> dict[str, Any]:
    """The usage-only last chunk of a stream (``stream_options.include_usage``)."""
    return {"id": f"chatcmpl-{request_id}", "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [], "usage": usage}


def chunk(*, model: str, request_id: str, delta: dict[str, Any] | None = None, finish: str | None = None,
          index: int = 0, created: int | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk``."""
    return {"id": f"chatcmpl-{request_id}", "object": "chat.completion.chunk", "created": created or int(time.time()),
            "model": model, "choices": [{"index": index, "delta": delta or {}, "logprobs": None, "finish_reason": finish}]}


def text_chunks(texts: list[str], *, model: str, request_id: str) -> list[dict[str, Any]]:
    """A whole answer (one per choice) as stream chunks: role, content, finish."""
    created = int(time.time())
    out = []
    for i, t in enumerate(texts):
        out.append(chunk(model=model, request_id=request_id, delta={"role": "assistant", "content": ""}, index=i, created=created))
        out.append(chunk(model=model, request_id=request_id, delta={"content": t}, index=i, created=created))
        out.append(chunk(model=model, request_id=request_id, finish="stop", index=i, created=created))
    return out
