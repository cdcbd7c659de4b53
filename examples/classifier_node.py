"""Adding graphroute's classifier to an existing LangGraph app: the five marked lines.

The app below already has a "weak" and a "strong" answering node (LangChain fake chat models
stand in for the providers). The classifier, fitted on the built-in MMLU outcomes, becomes the
entry node and sends each question to one of them with ``Command(goto=...)``: to the strong model
where it predicts the strong model's recorded advantage on similar questions is large (not where a
question merely looks hard: where both models fail, the weak one is as good).

    python examples/classifier_node.py
"""

from __future__ import annotations

from langchain_core.language_models import FakeListChatModel
from langgraph.graph import END, MessagesState, StateGraph

weak = FakeListChatModel(responses=["(the weak model answers)"])
strong = FakeListChatModel(responses=["(the strong model answers)"])


class State(MessagesState):
    route: dict


builder = StateGraph(State)
builder.add_node("weak", lambda s: {"messages": [weak.invoke(s["messages"])]})
builder.add_node("strong", lambda s: {"messages": [strong.invoke(s["messages"])]})
builder.add_edge("weak", END)
builder.add_edge("strong", END)

# ---- graphroute: five lines --------------------------------------------------------------------
from graphroute import RouterNode, load_dataset, make_router  # noqa: E402
router = make_router("logistic").fit(load_dataset("routellm-mmlu"))  # or Router.load("my-router")
router.calibrate(load_dataset("routellm-mmlu"), strong_share=0.3)  # about 30 % of questions go to "strong"
builder.add_node("route", RouterNode(router, goto={router.weak_: "weak", router.strong_: "strong"}), destinations=("weak", "strong"))  # noqa: E501
builder.set_entry_point("route")
# -------------------------------------------------------------------------------------------------

app = builder.compile()
if __name__ == "__main__":
    for q in ["What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 6",
              "Let G be a group of order 12. Which of the following must be true about its Sylow 3-subgroups?\n"
              "A. There is exactly one\nB. There are one or four\nC. There are three\nD. There are six"]:
        out = app.invoke({"messages": [("user", q)]})
        d = out["route"]  # the typed decision: model, per-model predicted quality, threshold, reason
        print(f"{d['model']:40s} <- {q.splitlines()[0][:60]}\n    {d['reason']}\n    {out['messages'][-1].content}")
