"""Adding a graphroute router to an existing LangGraph app: the marked lines.

The app below already has a "weak" and a "strong" answering node (LangChain fake chat models
stand in for the providers). A router fitted on the built-in MMLU outcomes becomes the entry node
and sends each question to one of them with ``Command(goto=...)``: to the strong model where it
predicts the strong model's recorded advantage on similar questions is large. It also knows what it
does not know: a prompt unlike the MMLU questions it learned from (a chat message, a word problem
without answer options) is *unfamiliar*, and the policy sends those to the strong model.

``logistic:encoder=layers`` (a logistic head on MiniLM's layers 1-6) keeps this example quick to
fit; ``classifier``, the recommended stack, is used the same way.

    python examples/classifier_node.py
"""

from __future__ import annotations

import numpy as np
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

# ---- graphroute ----------------------------------------------------------------------------------
from graphroute import RouterNode, load_dataset, make_router  # noqa: E402

mmlu = load_dataset("routellm-mmlu")
order = np.random.default_rng(0).permutation(len(mmlu))
router = make_router("logistic:encoder=layers").fit(mmlu.subset(order[:10_000]))  # or Router.load("my-router")
router.calibrate(mmlu.subset(order[10_000:]), strong_share=0.3)  # held out: about 30 % of questions go to "strong"
router.set_policy(unfamiliar="strong")  # prompts unlike the training data: the strong model
builder.add_node("route", RouterNode(router, goto={router.weak_: "weak", router.strong_: "strong"}),
                 destinations=("weak", "strong"))
builder.set_entry_point("route")
# --------------------------------------------------------------------------------------------------

app = builder.compile()
QUESTIONS = [
    "Which of the following is a prime number?\nA. 21\nB. 27\nC. 29\nD. 33\nAnswer:",
    "Let G be a group of order 12. Which of the following must be true about its Sylow 3-subgroups?\n"
    "A. There is exactly one\nB. There are one or four\nC. There are three\nD. There are six\nAnswer:",
    "What is 2 + 2?",
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast and bakes muffins with four. "
    "How many eggs are left?",
]

if __name__ == "__main__":
    for q in QUESTIONS:
        out = app.invoke({"messages": [("user", q)]})
        d = out["route"]  # the typed decision: model, per-model predicted quality, familiarity, reason
        print(f"{d['model']:40s} <- {q.splitlines()[0][:70]}\n    familiarity {d['familiarity']:.3f}"
              f"{' (unfamiliar)' if d['unfamiliar'] else ''}: {d['reason']}\n    {out['messages'][-1].content}")
