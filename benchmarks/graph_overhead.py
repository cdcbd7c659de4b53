"""Graph files: compile time, and graphroute's per-step overhead beyond LangGraph's own and the models'.

* compile: each file in graphs/ compiled offline (median of 5, after a first compile that fills
  the caches of fitted routers and embeddings);
* overhead: a 6-step chain of LLM nodes on zero-latency fake chat models, run from YAML, against the
  same chain written directly in LangGraph calling the same models; the difference per step is
  graphroute's (prompt templating, budget checks with token counting, accounting, trace).

    python benchmarks/graph_overhead.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TypedDict

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
STEPS = 6


def chain_yaml() -> str:
    nodes = "\n".join(f"  s{i}: {{type: llm, model: m, prompt: 'Step {i}: {{question}}', output: a{i}}}" for i in range(STEPS))
    edges = "\n".join(["  - {from: START, to: s0}"] + [f"  - {{from: s{i}, to: s{i + 1}}}" for i in range(STEPS - 1)]
                      + [f"  - {{from: s{STEPS - 1}, to: END}}"])
    return (f"models:\n  m: {{model: 'x:m', input_price: 1, output_price: 1, offline_response: ok}}\n"
            f"state: {{question: str}}\nnodes:\n{nodes}\nedges:\n{edges}\nbudget: {{per_run: 10.0}}\n")


def main() -> None:
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.messages import HumanMessage
    from langgraph.graph import END, START, StateGraph

    from graphroute.datasets import load_dataset
    from graphroute.graphs import compile_file, run_graph

    data = load_dataset("routellm-gsm8k")
    for f in sorted((ROOT / "graphs").glob("*.yaml")):
        compile_file(f, offline=True, data=data)
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            compile_file(f, offline=True, data=data)
            ts.append((time.perf_counter() - t0) * 1000)
        print(f"compile {f.name:18s} median {np.median(ts):7.1f} ms")

    path = Path(tempfile.mkdtemp()) / "chain.yaml"
    path.write_text(chain_yaml())
    app = compile_file(path, offline=True)
    model = FakeListChatModel(responses=["ok"])

    class S(TypedDict, total=False):
        question: str

    g = StateGraph(S)
    for i in range(STEPS):
        g.add_node(f"s{i}", lambda s, i=i: (model.invoke([HumanMessage(f"Step {i}: {s['question']}")]), {})[1])
        g.add_edge(START if i == 0 else f"s{i - 1}", f"s{i}")
    g.add_edge(f"s{STEPS - 1}", END)
    plain = g.compile()
    q = data.prompts[0]
    for _ in range(20):
        run_graph(app, q)
        plain.invoke({"question": q})
    ours, base = [], []
    for _ in range(300):
        t0 = time.perf_counter()
        run_graph(app, q)
        ours.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        plain.invoke({"question": q})
        base.append((time.perf_counter() - t0) * 1000)
    per_step = (np.median(ours) - np.median(base)) / STEPS
    print(f"{STEPS}-step chain: graphroute {np.median(ours):.2f} ms, plain LangGraph + same models {np.median(base):.2f} ms "
          f"-> graphroute overhead per step p50 {per_step:.3f} ms")
    print(f"per_step_overhead_p50_ms={per_step:.3f}")


if __name__ == "__main__":
    main()
