"""A Mixtral -> GPT-4 cascade on GSM8K, end to end and offline.

1. fit a learned confidence scorer on recorded Mixtral answers (rows 0-799);
2. calibrate the escalation threshold for a target quality on held-out rows (800-1049);
3. run the cascade live, as a LangGraph node, with replay chat models standing in for the two
   providers (they answer with the recorded responses) on the remaining rows;
4. compare what happened with what calibration predicted.

    python examples/cascade_gsm8k.py
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langgraph.graph import END, START, StateGraph  # noqa: E402

from graphroute.cascade import Cascade, CascadeState, Stage  # noqa: E402
from graphroute.cascade.offline import recorded_matrices  # noqa: E402
from graphroute.cascade.thresholds import simulate  # noqa: E402
from graphroute.datasets import load_dataset  # noqa: E402
from graphroute.models import ReplayChatModel  # noqa: E402
from graphroute.scorers import LearnedScorer  # noqa: E402


def main() -> None:
    data = load_dataset("routellm-gsm8k")
    train, calib, test = data.subset(range(800)), data.subset(range(800, 1050)), data.subset(range(1050, len(data)))
    weak, strong = data.weak, data.strong

    # y_next: the strong model's outcomes too, so the cascade escalates where escalating pays
    scorer = LearnedScorer().fit(train.prompts, train.responses[weak], train.scores[:, train.index(weak)],
                                 y_next=train.scores[:, train.index(strong)])
    cascade = Cascade([
        Stage(ReplayChatModel(data=data, model_name=weak), name=weak, scorer=scorer),
        Stage(ReplayChatModel(data=data, model_name=strong), name=strong),
    ])
    target = 0.80
    cal = cascade.calibrate(calib, quality=target)
    print(cal.explanation)

    graph = StateGraph(CascadeState)
    graph.add_node("cascade", cascade.as_graph())
    graph.add_edge(START, "cascade")
    graph.add_edge("cascade", END)
    app = graph.compile()

    right = escalated = 0
    cost = 0.0
    for q in test.prompts:
        out = app.invoke({"question": q})
        accepted = [a for a in out["attempts"] if a["accepted"]][0]
        row = data.prompts.index(q)
        right += data.scores[row, data.index(out["model"])]
        escalated += out["model"] == strong
        cost += out["cost"]
        assert accepted["model"] == out["model"]
    n = len(test)
    S, Q, C = recorded_matrices(cascade, test)
    predicted = simulate(S, Q, C, cascade.thresholds)
    print(f"live on {n} held-out questions: accuracy {right / n:.3f}, escalated {escalated / n:.1%}, "
          f"${cost / n:.6f} per query (weak alone {test.scores[:, 0].mean():.3f}, strong alone {test.scores[:, 1].mean():.3f})")
    print(f"offline replay of the same rows:    accuracy {predicted.quality:.3f}, escalated {predicted.last_share:.1%}, "
          f"${predicted.cost:.6f} per query")


if __name__ == "__main__":
    main()
