"""``RoutedChatModel``: a LangChain chat model that routes every call through a graphroute router or
cascade, so an existing LangChain/LangGraph app adopts routing by swapping one chat model.

``invoke``/``ainvoke``/``batch``/``stream`` work as on any chat model; ``bind_tools`` binds the
tools to whichever model is chosen; the chosen model and the decision are in the reply's
``response_metadata`` (``graphroute_model``, ``graphroute_decision``).

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.models import RoutedChatModel
    >>> from graphroute.strategies import RulesRouter
    >>> router = RulesRouter([{"model": "big", "contains": ["prove"]}], default="small")
    >>> llm = RoutedChatModel(router=router, models={"small": FakeListChatModel(responses=["hi"]),
    ...                                              "big": FakeListChatModel(responses=["QED"])})
    >>> reply = llm.invoke("Prove that 2 is prime")
    >>> reply.content, reply.response_metadata["graphroute_model"]
    ('QED', 'big')
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, model_validator

from graphroute.cascade import Cascade
from graphroute.errors import UnknownModelError
from graphroute.prompts import last_human, message_text


def _query(messages: Sequence[BaseMessage]) -> str:
    """What a routed call decides on: the last human message (else the last message)."""
    found = last_human(messages)
    return found if found is not None else (message_text(messages[-1].content) if messages else "")


class RoutedChatModel(BaseChatModel):
    """Routes each call: ``router`` is a fitted ``Router`` (its decision
    picks one of ``models``, keyed by the router's model names) or a
    ``Cascade`` (which calls its own stages)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    router: Any
    models: dict[str, Any] = {}
    model_name: str = "graphroute-routed"
    tools: list[Any] | None = None
    tool_kwargs: dict[str, Any] = {}

    @model_validator(mode="after")
    def _check(self) -> "RoutedChatModel":
        if not isinstance(self.router, Cascade):
            known = getattr(self.router, "models_", None)
            if known is None:
                raise ValueError("router must be a fitted graphroute Router or a Cascade")
            missing = [m for m in known if m not in self.models]
            if missing:
                raise UnknownModelError(missing[0], list(self.models), "RoutedChatModel(models=...)")
        return self

    @property
    def _llm_type(self) -> str:
        return "graphroute-routed"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "RoutedChatModel":
        """Tools are bound to the chosen model at each call."""
        return self.model_copy(update={"tools": list(tools), "tool_kwargs": kwargs})

    def _choose(self, messages: list[BaseMessage]) -> tuple[str, Any, dict[str, Any]]:
        d = self.router.decide([_query(messages)])[0]
        model = self.models[d.model]
        if self.tools:
            model = model.bind_tools(self.tools, **self.tool_kwargs)
        return d.model, model, d.to_dict()

    @staticmethod
    def _tag(msg: BaseMessage, chosen: str, decision: dict[str, Any]) -> AIMessage:
        meta = {**(msg.response_metadata or {}), "graphroute_model": chosen, "graphroute_decision": decision}
        if isinstance(msg, AIMessage):
            return msg.model_copy(update={"response_metadata": meta})
        return AIMessage(content=msg.content, response_metadata=meta)

    def _cascade_result(self, result) -> ChatResult:
        base = result.answer.message if isinstance(result.answer.message, BaseMessage) else AIMessage(result.answer.text)
        msg = self._tag(base, result.model, {"model": result.model, "stage": result.stage, "cost": result.cost,
                                             "attempts": [a.to_dict() for a in result.attempts]})
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        if isinstance(self.router, Cascade):
            return self._cascade_result(self.router.invoke(messages))
        chosen, model, decision = self._choose(messages)
        msg = model.invoke(messages, stop=stop, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=self._tag(msg, chosen, decision))])

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                         **kwargs: Any) -> ChatResult:
        if isinstance(self.router, Cascade):
            return self._cascade_result(await self.router.ainvoke(messages))
        chosen, model, decision = self._choose(messages)
        msg = await model.ainvoke(messages, stop=stop, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=self._tag(msg, chosen, decision))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        if isinstance(self.router, Cascade):  # a cascade must see the whole answer before accepting it
            gen = self._cascade_result(self.router.invoke(messages)).generations[0]
            yield ChatGenerationChunk(message=AIMessageChunk(content=gen.message.content,
                                                             response_metadata=gen.message.response_metadata))
            return
        chosen, model, decision = self._choose(messages)
        first = True
        for chunk in model.stream(messages, stop=stop, **kwargs):
            meta = {"graphroute_model": chosen, "graphroute_decision": decision} if first else {}
            first = False
            out = AIMessageChunk(content=chunk.content, response_metadata={**(chunk.response_metadata or {}), **meta},
                                 tool_call_chunks=getattr(chunk, "tool_call_chunks", None) or [])
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.content), chunk=ChatGenerationChunk(message=out))
            yield ChatGenerationChunk(message=out)
