"""The cascade in LangGraph: as one node of a larger graph (``cascade.node()``, a ``CascadeNode``),
or as a subgraph with one node per stage whose control flow is data (``cascade.as_graph()``,
``Command(goto=...)``).

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade import Cascade, Stage
    >>> from graphroute.scorers import FormatScorer
    >>> cascade = Cascade([
    ...     Stage(FakeListChatModel(responses=["no idea"]), name="gpt-4o-mini", scorer=FormatScorer(kind="number")),
    ...     Stage(FakeListChatModel(responses=["#### 12"]), name="gpt-4o")])
    >>> out = cascade.as_graph().invoke({"question": "3 * 4?"})
    >>> out["answer"], out["model"], [a["model"] for a in out["attempts"]]
    ('#### 12', 'gpt-4o', ['gpt-4o-mini', 'gpt-4o'])

In a ``MessagesState`` app the subgraph reads the last human message and appends its answer as an
``AIMessage`` (no ``question`` key needed).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Optional, TypedDict

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command

from graphroute.errors import CascadeError
from graphroute.prompts import check_prompts, query_text
from graphroute.types import Answer


class CascadeState(TypedDict, total=False):
    """State of ``cascade_graph``: the question in (``question``, else the last human message of
    ``messages``), the answer, model, stage and attempts out (and the answer as an ``AIMessage`` when
    the question came from ``messages``)."""

    question: str
    messages: Annotated[list, add_messages]
    answer: str
    model: str
    stage: int
    cost: float
    attempts: Annotated[list[dict], operator.add]
    budget_remaining: float


def _message(answer: Answer, result_model: str, trace: dict) -> Any:
    meta = dict(getattr(answer.message, "response_metadata", None) or {})
    meta.update({"graphroute_model": result_model, "graphroute_cascade": trace})
    return AIMessage(content=answer.text, response_metadata=meta)


class CascadeNode:
    """A plain-callable LangGraph node running a ``Cascade``.

    Reads the question from ``state[query_key]`` or else the last human message of
    ``state[messages_key]``; writes ``output_key`` (answer text), ``trace_key`` (the result with
    every attempt), appends the answer to ``messages_key`` when the state has messages, and spends
    ``state[budget_key]`` (dollars) when present: the cascade never escalates past it.

    Examples:
        >>> from langgraph.graph import START, END, StateGraph, MessagesState
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from graphroute.cascade import Cascade, Stage
        >>> from graphroute.scorers import FormatScorer
        >>> c = Cascade([Stage(FakeListChatModel(responses=["7"]), name="gpt-4o-mini", scorer=FormatScorer(kind="integer")),
        ...              Stage(FakeListChatModel(responses=["7"]), name="gpt-4o")])
        >>> g = StateGraph(MessagesState); _ = g.add_node("answer", c.node()); _ = g.add_edge(START, "answer")
        >>> out = g.compile().invoke({"messages": [("user", "3 + 4?")]})
        >>> out["messages"][-1].content, out["messages"][-1].response_metadata["graphroute_model"]
        ('7', 'gpt-4o-mini')
    """

    def __init__(self, cascade: Any, *, query_key: str = "question", messages_key: str = "messages",
                 output_key: str = "answer", trace_key: str = "cascade", budget_key: str = "budget_remaining") -> None:
        self.cascade = cascade
        self.query_key, self.messages_key, self.output_key = query_key, messages_key, output_key
        self.trace_key, self.budget_key = trace_key, budget_key

    def _prompt(self, state: dict) -> Any:
        if state.get(self.query_key):
            return state[self.query_key]
        msgs = state.get(self.messages_key)
        if msgs:
            return list(msgs)
        raise CascadeError(f"cascade node: the state has neither {self.query_key!r} nor {self.messages_key!r}")

    def _update(self, state: dict, result) -> dict:
        trace = result.to_dict()
        out: dict[str, Any] = {self.output_key: result.answer.text, self.trace_key: trace}
        if self.messages_key in state and not state.get(self.query_key):
            out[self.messages_key] = [_message(result.answer, result.model, trace)]
        if state.get(self.budget_key) is not None:
            out[self.budget_key] = float(state[self.budget_key]) - result.cost
        return out

    def _budget(self, state: dict) -> float | None:
        b = state.get(self.budget_key)
        return None if b is None else max(0.0, float(b))

    def __call__(self, state: dict, config: Optional[RunnableConfig] = None) -> dict:
        result = self.cascade.invoke(self._prompt(state), config, max_cost=self._budget(state))
        return self._update(state, result)

    async def acall(self, state: dict, config: Optional[RunnableConfig] = None) -> dict:
        """Async node (``graph.add_node("x", node.acall)``)."""
        result = await self.cascade.ainvoke(self._prompt(state), config, max_cost=self._budget(state))
        return self._update(state, result)


def cascade_graph(cascade: Any, *, checkpointer: Any = None):
    """A compiled ``StateGraph(CascadeState)``: node ``stage_i`` per stage; each returns
    ``Command(goto=next stage or END)``. A ``budget_remaining`` in the state is spent and respected:
    the next stage runs only while its worst case fits (what ``cascade.as_graph()`` returns)."""
    n = len(cascade.stages)

    def make(i: int):
        def stage(state: CascadeState, config: Optional[RunnableConfig] = None) -> Command:
            from_messages = not state.get("question")
            question = check_prompts([query_text(state, query_key="question")])[0]
            attempt, answer = cascade.run_stage(i, question, question, config)
            update: dict[str, Any] = {"attempts": [attempt.to_dict()], "cost": state.get("cost", 0.0) + attempt.cost}
            budget = state.get("budget_remaining")
            if budget is not None:
                update["budget_remaining"] = budget - attempt.cost
            # stop when the next stage's worst case no longer fits what is left (never overspend)
            out_of_budget = budget is not None and i < n - 1 and \
                budget - attempt.cost < cascade.worst_cost(i + 1, question)
            if answer is not None and (attempt.accepted or out_of_budget or i == n - 1):
                update.update(answer=answer.text, model=attempt.model, stage=i)
                if from_messages:
                    update["messages"] = [_message(answer, attempt.model, {"stage": i})]
                return Command(goto=END, update=update)
            if i == n - 1:  # last stage failed: keep the best earlier answer, if any
                prior = [a for a in state.get("attempts", []) if not a.get("error")]
                if not prior:
                    raise CascadeError(f"every stage failed; last error: {attempt.error}")
                best = max(prior, key=lambda a: a["score"] if a["score"] is not None else -1.0)
                update.update(answer=best["answer"], model=best["model"], stage=best["stage"])
                if from_messages:
                    update["messages"] = [AIMessage(content=best["answer"], response_metadata={
                        "graphroute_model": best["model"], "graphroute_cascade": {"stage": best["stage"]}})]
                return Command(goto=END, update=update)
            return Command(goto=f"stage_{i + 1}", update=update)

        return stage

    g = StateGraph(CascadeState)
    for i in range(n):
        g.add_node(f"stage_{i}", make(i), destinations=tuple([f"stage_{i + 1}"] if i < n - 1 else []) + (END,))
    g.add_edge(START, "stage_0")
    return g.compile(checkpointer=checkpointer)
