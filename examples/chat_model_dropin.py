"""Adopting graphroute in an existing LangChain/LangGraph app by swapping one chat model.

The app is a small tool-calling agent loop written against a chat model ``llm``. Replacing
``llm`` with a ``RoutedChatModel`` routes every call — here by rules (questions mentioning code go
to the coder model) — and keeps ``invoke``, ``stream``, ``batch`` and ``bind_tools`` working. The
chosen model and the decision come back in ``response_metadata``. Fake chat models stand in for
the providers, so this runs offline.

    python examples/chat_model_dropin.py
"""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph

from graphroute import RoutedChatModel
from graphroute.strategies import RulesRouter


class ToolFakeChatModel(GenericFakeChatModel):
    """A fake provider that accepts bind_tools (as real chat models do)."""

    def bind_tools(self, tools, **kwargs):
        return self.bind(tools=[t.name for t in tools], **kwargs)


@tool
def word_count(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


def replies(name: str):
    return iter([AIMessage(f"[{name}] answer {i}") for i in range(100)])


# before: llm = ChatOpenAI(model="gpt-4o")
llm = RoutedChatModel(
    router=RulesRouter([{"model": "coder", "contains": ["python", "code", "function"]},
                        {"model": "big", "min_chars": 300}], default="small"),
    models={"small": ToolFakeChatModel(messages=replies("small")), "coder": ToolFakeChatModel(messages=replies("coder")),
            "big": ToolFakeChatModel(messages=replies("big"))},
).bind_tools([word_count])


def agent(state: MessagesState) -> dict:
    return {"messages": [llm.invoke(state["messages"])]}


graph = StateGraph(MessagesState)
graph.add_node("agent", agent)
graph.add_edge(START, "agent")
graph.add_edge("agent", END)
app = graph.compile()

if __name__ == "__main__":
    for q in ["What's a good name for a cat?", "Write a Python function that reverses a list."]:
        msg = app.invoke({"messages": [("user", q)]})["messages"][-1]
        print(f"{msg.response_metadata['graphroute_model']:6s} {msg.content:22s} <- {q} "
              f"({msg.response_metadata['graphroute_decision']['reason']})")
    streamed = "".join(str(c.content) for c in llm.stream("Explain this code please"))
    print("stream:", streamed)
    print("batch: ", [m.content for m in llm.batch(["hi", "some python code?"])])
