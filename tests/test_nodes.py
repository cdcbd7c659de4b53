"""RouterNode in real LangGraph graphs: state keys, messages, Command(goto), conditional edges, async, budgets."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, TypedDict

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from graphroute.errors import PromptError
from graphroute.nodes import RouterNode
from graphroute.routers import KNNRouter
from graphroute.routers.semantic import Route, SemanticRouter

ARITH = [f"What is {a} plus {b}?" for a, b in zip(range(10), range(20, 30))]
POEMS = [f"Write a poem about {t}." for t in ["rain", "autumn", "the sea", "love", "a cat", "snow", "fire", "the moon",
                                               "a river", "the wind"]]


@pytest.fixture(scope="module")
def router():
    return KNNRouter(k=3).fit(ARITH + POEMS, [[1, 1]] * 10 + [[0, 1]] * 10, models=["small", "big"])


class State(TypedDict, total=False):
    messages: Annotated[list, add_messages]
    route: dict
    budget_remaining: float
    calls: Annotated[list, operator.add]


def _llm_node(name: str, reply: str):
    llm = FakeListChatModel(responses=[reply] * 10)

    def node(state: State):
        return {"messages": [llm.invoke(state["messages"])], "calls": [name]}

    return node


def _graph(node: RouterNode, use_edge: bool = False):
    g = StateGraph(State)
    g.add_node("small", _llm_node("small", "cheap answer"))
    g.add_node("big", _llm_node("big", "expensive answer"))
    if use_edge:
        g.add_node("route", lambda s: {})
        g.add_conditional_edges("route", node.edge, ["small", "big"])
    else:
        g.add_node("route", node, destinations=("small", "big"))
    g.add_edge(START, "route")
    g.add_edge("small", END)
    g.add_edge("big", END)
    return g.compile()


def test_command_goto_follows_the_decision(router):
    app = _graph(RouterNode(router, goto={"small": "small", "big": "big"}))
    out = app.invoke({"messages": [HumanMessage("What is 41 plus 2?")]})
    assert out["calls"] == ["small"] and out["route"]["model"] == "small"
    out = app.invoke({"messages": [HumanMessage("Write a poem about the desert.")]})
    assert out["calls"] == ["big"] and out["messages"][-1].content == "expensive answer"
    assert "threshold" in out["route"]["reason"]


def test_conditional_edge(router):
    app = _graph(RouterNode(router, goto={"small": "small", "big": "big"}), use_edge=True)
    assert app.invoke({"messages": [HumanMessage("Write a poem about trees.")]})["calls"] == ["big"]


def test_budget_in_state_forces_the_cheap_model(router):
    from graphroute.routers import ThresholdPolicy

    router.policy_ = ThresholdPolicy(0.0, costs={"small": 0.001, "big": 0.05})
    try:
        app = _graph(RouterNode(router, goto={"small": "small", "big": "big"}))
        out = app.invoke({"messages": [HumanMessage("Write a poem about trees.")], "budget_remaining": 0.01})
        assert out["calls"] == ["small"] and "budget" in out["route"]["reason"]
    finally:
        router.policy_ = None


def test_query_key_last_human_message_and_errors(router):
    node = RouterNode(router, query_key="question")
    assert node({"question": "What is 1 plus 1?"})["route"]["model"] == "small"
    msgs = [HumanMessage("Write a poem about dawn."), AIMessage("ok"), {"role": "user", "content": "What is 3 plus 4?"}]
    assert node({"messages": msgs})["route"]["model"] == "small"
    with pytest.raises(PromptError):
        node({"messages": [AIMessage("only the assistant spoke")]})
    with pytest.raises(TypeError):
        RouterNode(object())


def test_async_and_batch(router):
    node = RouterNode(router, query_key="q")
    out = asyncio.run(node.ainvoke({"q": "Write a poem about leaves."}))
    assert out["route"]["model"] == "big"
    ds = node.batch([{"q": "What is 9 plus 9?"}, {"q": "Write a poem about hills."}])
    assert [d.model for d in ds] == ["small", "big"]


def test_semantic_routes_drive_a_graph():
    sem = SemanticRouter([Route(name="maths", model="big", utterances=["solve 2x + 3 = 7", "integrate x squared"]),
                          Route(name="chat", model="small", utterances=["hello there", "how are you today?"])],
                         fallback="small")
    app = _graph(RouterNode(sem, goto={"maths": "big", "chat": "small"}, default_goto="small"))
    assert app.invoke({"messages": [HumanMessage("please solve 3x + 1 = 10")]})["calls"] == ["big"]
    assert app.invoke({"messages": [HumanMessage("tell me about Roman history")]})["calls"] == ["small"]


def test_the_decision_reaches_a_routed_messages_state_and_is_dropped_by_a_plain_one(router):
    from langgraph.graph import MessagesState

    from graphroute import RoutedState

    def build(schema):
        g = StateGraph(schema)
        g.add_node("route", RouterNode(router))
        g.add_edge(START, "route")
        g.add_edge("route", END)
        return g.compile()

    question = {"messages": [HumanMessage("What is 12 times 3?")]}
    routed = build(RoutedState).invoke(question)
    assert routed["route"]["model"] in router.models_ and routed["messages"][0].content == "What is 12 times 3?"
    assert "route" not in build(MessagesState).invoke(question)  # why RoutedState exists: LangGraph drops unknown keys
