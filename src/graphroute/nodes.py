"""LangGraph adapters: any router (quality router or semantic routes) as a node or a conditional edge.

The node reads the query from a state key (or the last human message), asks the router for a
``Decision`` and writes it to the state; with ``goto`` it returns
``Command(goto=..., update=...)`` so control flow follows the decision. A remaining budget in the
state (``budget_key``) is passed to the router, which then avoids models it cannot afford.

LangGraph keeps only the keys a graph's state declares: in a plain ``MessagesState`` app the
decision would be dropped, so build the graph on ``RoutedState`` (``MessagesState`` plus
``route``) or add ``route: dict`` to your own state.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping, Sequence

from langgraph.graph import MessagesState
from langgraph.types import Command

from graphroute.prompts import query_text
from graphroute.tracing import decision_attributes, prompt_attribute, span
from graphroute.types import Decision


class RoutedState(MessagesState, total=False):
    """``MessagesState`` plus the router's decision: a ``RouterNode`` writes ``state["route"]``
    (a ``Decision`` as a dict), which a plain ``MessagesState`` graph would drop."""

    route: dict


class RouterNode:
    """A LangGraph node (and conditional-edge function) around a router.

    Args:
        router: a fitted router, a strategy or a ``SemanticRouter`` (anything with ``decide``).
        query_key: the state key holding the text to route on; None: the last human message of
            ``messages_key``.
        messages_key: the state key of the conversation (``MessagesState``'s ``messages``).
        output_key: where the ``Decision`` (as a dict) is written; ``RoutedState`` declares ``route``.
        goto: chosen model or route name -> next node (or a function of the ``Decision``); without
            it the node only updates the state.
        default_goto: the next node for a model ``goto`` does not map.
        budget_key: a state key holding the dollars left, passed to the router as ``max_cost``.

    Examples:
        >>> from typing import TypedDict
        >>> from langgraph.graph import END, START, StateGraph
        >>> from graphroute.nodes import RouterNode
        >>> from graphroute.routers import Route, SemanticRouter
        >>> router = SemanticRouter([Route(name="maths", model="big", utterances=["solve 2x + 3 = 7"]),
        ...                          Route(name="chat", model="small", utterances=["hello, how are you?"])])
        >>> class State(TypedDict, total=False):
        ...     query: str
        ...     route: dict
        >>> g = StateGraph(State)
        >>> _ = g.add_node("route", RouterNode(router, query_key="query"))
        >>> _ = g.add_edge(START, "route"); _ = g.add_edge("route", END)
        >>> g.compile().invoke({"query": "solve 3x = 9"})["route"]["model"]
        'big'
    """

    def __init__(self, router: Any, *, query_key: str | None = None, messages_key: str = "messages",
                 output_key: str = "route", goto: Mapping[str, str] | Callable[[Decision], str] | None = None,
                 default_goto: str | None = None, budget_key: str | None = "budget_remaining") -> None:
        if not hasattr(router, "decide"):
            raise TypeError(f"{type(router).__name__} has no decide(); expected a graphroute router")
        self.router = router
        self.query_key = query_key
        self.messages_key = messages_key
        self.output_key = output_key
        self.goto = goto
        self.default_goto = default_goto
        self.budget_key = budget_key

    # ------------------------------------------------------------------ reading state
    def query(self, state: Mapping[str, Any]) -> str:
        """The query text: ``state[query_key]``, else the content of the last human message."""
        return query_text(state, query_key=self.query_key, messages_key=self.messages_key)

    def _max_cost(self, state: Mapping[str, Any]) -> float | None:
        return state.get(self.budget_key) if self.budget_key else None

    def _target(self, d: Decision) -> str | None:
        if self.goto is None:
            return None
        if callable(self.goto):
            return self.goto(d)
        key = d.route if d.route in self.goto else d.model
        return self.goto.get(key, self.default_goto) if key is not None else self.default_goto

    def _result(self, d: Decision):
        update = {self.output_key: d.to_dict()}
        if self.goto is None:
            return update
        target = self._target(d)
        if target is None:
            raise KeyError(f"no goto target for model {d.model!r} / route {d.route!r} and no default_goto")
        return Command(goto=target, update=update)

    # ------------------------------------------------------------------ node / edge
    def decide(self, state: Mapping[str, Any]) -> Decision:
        """The router's decision for this state's query (traced: a ``graphroute.route`` span)."""
        q = self.query(state)
        with span("graphroute.route", prompt_attribute(q)) as sp:
            d = self.router.decide([q], max_cost=self._max_cost(state))[0]
            sp.set_attributes(decision_attributes(d))
        return d

    def __call__(self, state: Mapping[str, Any]):
        return self._result(self.decide(state))

    async def ainvoke(self, state: Mapping[str, Any]):
        """Async node: ``graph.add_node("route", node.ainvoke)``."""
        if not hasattr(self.router, "adecide"):
            return self._result(await asyncio.to_thread(self.decide, state))
        q = self.query(state)
        with span("graphroute.route", prompt_attribute(q)) as sp:
            d = (await self.router.adecide([q], max_cost=self._max_cost(state)))[0]
            sp.set_attributes(decision_attributes(d))
        return self._result(d)

    def edge(self, state: Mapping[str, Any]) -> str:
        """Conditional-edge function: the next node's name for this state's query."""
        target = self._target(self.decide(state))
        if target is None:
            raise KeyError("edge() needs goto (a mapping or function) to name the next node")
        return target

    def batch(self, states: Sequence[Mapping[str, Any]]) -> list[Decision]:
        """Decisions for many states at once (one batched embedding call)."""
        if not states:
            return []
        budgets = {self._max_cost(s) for s in states}
        if len(budgets) == 1:
            return self.router.decide([self.query(s) for s in states], max_cost=budgets.pop())
        return [self.decide(s) for s in states]
