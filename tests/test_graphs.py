"""YAML graphs: every shipped graph validates and runs offline; mistakes are named precisely; one
budget across steps; checkpointers; graph evaluation; the chat-model drop-in; the examples."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from graphroute.errors import ConfigError, UnknownModelError
from graphroute.graphs import GraphRunError, compile_file, load_graph, run_graph

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = sorted(p for p in (ROOT / "graphs").glob("*.yaml") if p.name != "serve.yaml")  # serve.yaml: a server config (test_serve_shipped)

BASE = """\
models:
  small: {model: "openai:gpt-4o-mini", input_price: 0.15, output_price: 0.6, offline_response: "small says 4"}
  big: {model: "openai:gpt-4o", input_price: 2.5, output_price: 10, offline_response: "big says 4"}
routers:
  pick: {type: rules, rules: [{model: big, contains: [prove]}], default: small}
state: {question: str, answer: str}
nodes:
  answer: {type: llm, router: pick, prompt: "Q: {question}", output: answer}
edges:
  - {from: START, to: answer}
  - {from: answer, to: END}
"""


def write(tmp_path, text: str, name: str = "g.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("path", GRAPHS, ids=[p.name for p in GRAPHS])
def test_every_shipped_graph_validates_and_runs_offline(path, gsm8k):
    spec = load_graph(path)
    app = compile_file(path, offline=True, data=gsm8k)
    r = run_graph(app, gsm8k.prompts[11])
    assert r["outcome"] == "completed" and r["answer"]
    assert [t["node"] for t in r["trace"]] and all(t.get("model") is None or t["model"] for t in r["trace"])
    assert spec.budget.per_run is None or r["cost"] <= spec.budget.per_run


def test_qa_cascade_graph_evaluates_between_its_models(gsm8k):
    from graphroute.graphs.crossval import evaluate_graph

    r = evaluate_graph(ROOT / "graphs" / "qa_cascade.yaml", gsm8k.subset(range(240)), cv=2)
    alone = r["model_quality"]
    assert alone["mixtral"] < r["quality"] <= alone["gpt4"] + 0.02
    assert 0.1 < r["model_mix"]["gpt4"] < 0.5 and r["outcomes"] == {"completed": 240}


def test_yaml_cascade_scorer_learns_the_next_stage_too(gsm8k):
    """A learned scorer declared in YAML is fitted with the next stage's recorded outcomes, so the
    compiled cascade escalates by expected gain (as `graphroute eval --router cascade` does)."""
    from graphroute.graphs.build import build_runtime
    from graphroute.graphs.validate import load_graph

    path = ROOT / "graphs" / "qa_cascade.yaml"
    rt = build_runtime(load_graph(path), path.parent, offline=True, data=gsm8k.subset(range(300)))
    first = rt.routers["escalate"].stages[0].scorer
    assert first.gain_
    p = first.predict_next(gsm8k.prompts[:5], gsm8k.responses[gsm8k.weak][:5])
    assert p.shape == (5,) and ((p > 0) & (p < 1)).all()


MISTAKES = [  # (replace this, with that, expected field path, expected words)
    ('answer: {type: llm, router: pick,', 'answer: {type: llm, model: huge,', "nodes.answer.model", "unknown model 'huge'"),
    ("router: pick, prompt", "router: choose, prompt", "nodes.answer.router", "missing router 'choose'"),
    ("input_price: 0.15", "input_price: cheap", "models.small.input_price", "valid number"),
    ("output: answer}", "output: answer, temperature: 0}", "nodes.answer", "Extra inputs"),
    ('prompt: "Q: {question}"', 'prompt: "Q: {questoin}"', "nodes.answer.prompt", "{questoin}"),
    ("{from: answer, to: END}", "{from: answer, to: ANSWER}", "edges.1.to", "unknown node 'ANSWER'"),
    ("{from: START, to: answer}", "{from: answer, to: answer}", "edges", "no edge from START"),
    ("{from: answer, to: END}", "{from: answer, to: answer}", "nodes.answer", "cycle without exit"),
    ("default: small}", "default: tiny}", "routers.pick.default", "unknown model 'tiny'"),
    ("{type: llm, router: pick,", "{type: llm, router: pick, model: big,", "nodes.answer", "exactly one of 'model' or 'router'"),
    ("type: rules,", "type: magic,", "routers.pick", "does not match any of the expected tags"),
    ("state: {question: str, answer: str}", "state: {question: text, answer: str}", "state.question", "Input should be"),
]


@pytest.mark.parametrize("old,new,field,words", MISTAKES, ids=[m[2] + ":" + m[3][:20] for m in MISTAKES])
def test_mistakes_are_named_with_file_line_and_field(tmp_path, old, new, field, words):
    assert old in BASE
    p = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as e:
        load_graph(p)
    msg = str(e.value)
    assert f"{p}:" in msg and field in msg and words in msg, msg
    line = msg.split(f"{p}:")[1].split(":")[0]
    assert line.isdigit() and int(line) >= 1
    assert not (tmp_path / "cache").exists()  # validation writes nothing


def test_more_mistakes_unreachable_dead_end_python_corpus_and_syntax(tmp_path):
    extra = BASE.replace("nodes:\n", "nodes:\n  lost: {type: python, call: 'no.such.module:fn'}\n"
                                      "  search: {type: retrieval, corpus: missing.jsonl, input: question, output: ctx}\n")
    extra = extra.replace("  - {from: answer, to: END}\n", "  - {from: answer, to: END}\n  - {from: answer, to: search}\n")
    with pytest.raises(ConfigError) as e:
        load_graph(write(tmp_path, extra))
    msg = str(e.value)
    for words in ["nodes.lost: unreachable from START", "nodes.lost.call", "no module 'no' on the import path",
                  "nodes.search.corpus", "corpus file 'missing.jsonl' not found", "nodes.search: no outgoing edge"]:
        assert words in msg, msg
    with pytest.raises(ConfigError, match=r"g2.yaml:3:\d+: invalid YAML"):
        load_graph(write(tmp_path, "models:\n  a: {model: x\n  b: [\n", "g2.yaml"))


def test_cli_validate_and_run(tmp_path):
    ok = write(tmp_path, BASE)
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "validate", str(ok)], capture_output=True, text=True)
    assert out.returncode == 0 and "valid graph" in out.stdout
    bad = write(tmp_path, BASE.replace("router: pick, prompt", "router: nope, prompt"), "bad.yaml")
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "validate", str(bad)], capture_output=True, text=True)
    assert out.returncode == 2 and f"{bad}:8:" in out.stderr and "nodes.answer.router" in out.stderr
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "run", str(ok), "--offline", "--json",
                          "--input", "Please prove that 2 is prime"], capture_output=True, text=True)
    r = json.loads(out.stdout)
    assert r["answer"] == "big says 4" and r["trace"][0]["model"] == "big" and r["outcome"] == "completed"


# ---------------------------------------------------------------- one budget across steps
TWO_STEPS = BASE.replace("nodes:\n  answer: {type: llm, router: pick, prompt: \"Q: {question}\", output: answer}",
                         "nodes:\n  draft: {type: llm, model: small, prompt: \"Draft: {question}\", output: draft}\n"
                         "  answer: {type: llm, router: pick, route_on: question, prompt: \"Q: {question} {draft}\", output: answer}")
TWO_STEPS = TWO_STEPS.replace("  - {from: START, to: answer}\n", "  - {from: START, to: draft}\n  - {from: draft, to: answer}\n")


def test_budget_hard_stop_and_cheaper_choice(tmp_path):
    app = compile_file(write(tmp_path, TWO_STEPS), offline=True)
    full = run_graph(app, "please prove it", budget=1.0)
    assert full["outcome"] == "completed" and full["trace"][-1]["model"] == "big"
    # big's worst case (1024 output tokens at $10/M) does not fit: the router's next best, small, answers
    cheap = run_graph(app, "please prove it", budget=0.0012)
    assert cheap["outcome"] == "completed" and cheap["trace"][-1]["model"] == "small"
    assert "over budget" in cheap["trace"][-1]["reason"] and cheap["cost"] <= 0.0012
    # not even the draft fits: hard stop with a typed outcome, nothing spent
    broke = run_graph(app, "please prove it", budget=0.0001)
    assert broke["outcome"] == "budget_exhausted" and broke["stopped_at"] == "draft" and broke["cost"] == 0.0
    # the draft fits, the answer does not: stop after the draft, within budget
    from graphroute.costs import count_tokens

    draft_worst = (count_tokens(["Draft: please prove it"])[0] * 0.15 + 1024 * 0.6) / 1e6
    mid = run_graph(app, "please prove it", budget=draft_worst + 1e-7)
    assert mid["outcome"] == "budget_exhausted" and mid["stopped_at"] == "answer"
    assert 0 < mid["cost"] <= draft_worst + 1e-7
    assert mid["state"]["budget_remaining"] >= 0


def test_checkpointers_memory_and_sqlite(tmp_path):
    p = write(tmp_path, BASE)
    for cp in ("memory", f"sqlite:{tmp_path / 'runs.sqlite'}"):
        app = compile_file(p, offline=True, checkpointer=cp)
        cfg = {"configurable": {"thread_id": "t1"}}
        run_graph(app, "what is 2 + 2", config=cfg)
        assert app.get_state(cfg).values["answer"] == "small says 4"
    assert (tmp_path / "runs.sqlite").stat().st_size > 0


def test_router_step_conditional_edges_and_python_node(tmp_path):
    text = BASE.replace("nodes:\n  answer: {type: llm, router: pick, prompt: \"Q: {question}\", output: answer}",
                        "nodes:\n  route: {type: router, router: pick, input: question, output: choice}\n"
                        "  cheap: {type: llm, model: small, prompt: \"{question}\", output: answer}\n"
                        "  shout: {type: python, call: 'graphroute_test_helpers:shout'}\n")
    text = text.replace("  - {from: START, to: answer}\n  - {from: answer, to: END}\n",
                        "  - {from: START, to: route}\n  - {from: route, condition: choice, map: {small: cheap, big: shout}}\n"
                        "  - {from: cheap, to: END}\n  - {from: shout, to: END}\n")
    (tmp_path / "graphroute_test_helpers.py").write_text("def shout(state):\n    return {'answer': state['question'].upper()}\n")
    sys.path.insert(0, str(tmp_path))
    try:
        app = compile_file(write(tmp_path, text), offline=True)
        assert run_graph(app, "hello")["answer"] == "small says 4"
        r = run_graph(app, "prove this")
        assert r["answer"] == "PROVE THIS" and [t["node"] for t in r["trace"]] == ["route", "shout"]
        broken = compile_file(write(tmp_path, text.replace("map: {small: cheap, big: shout}", "map: {small: cheap, other: shout}"), "h.yaml"),
                              offline=True)
        with pytest.raises(GraphRunError, match="choice='big' is not in its map"):
            run_graph(broken, "prove this")
    finally:
        sys.path.remove(str(tmp_path))


# ---------------------------------------------------------------- the chat-model drop-in
SEEN_TOOLS: list = []


class RecordingFake(GenericFakeChatModel):
    """A fake provider that accepts tools and remembers what it was bound with."""

    def bind_tools(self, tools, **kwargs):
        SEEN_TOOLS.append([getattr(t, "__name__", str(t)) for t in tools])
        return self.bind(tools_bound=True, **kwargs)


def test_routed_chat_model_invoke_async_batch_stream_and_tools():
    from graphroute.models import RoutedChatModel
    from graphroute.strategies.rules import RulesRouter

    router = RulesRouter([{"model": "big", "contains": ["prove"]}], default="small")
    models = {"small": RecordingFake(messages=iter([AIMessage(f"small {i}") for i in range(20)])),
              "big": RecordingFake(messages=iter([AIMessage(f"big {i}") for i in range(20)]))}
    llm = RoutedChatModel(router=router, models=models)
    r = llm.invoke("prove it")
    assert r.content == "big 0" and r.response_metadata["graphroute_decision"]["reason"] == "rule 0 matched"
    assert asyncio.run(llm.ainvoke("hello")).response_metadata["graphroute_model"] == "small"
    assert [m.response_metadata["graphroute_model"] for m in llm.batch(["hi", "prove"])] == ["small", "big"]
    chunks = list(llm.stream("hello again"))
    assert "".join(str(c.content) for c in chunks).startswith("small") and chunks[0].response_metadata["graphroute_model"] == "small"

    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    assert llm.bind_tools([add]).invoke("prove").content.startswith("big") and SEEN_TOOLS[-1] == ["add"]
    with pytest.raises(UnknownModelError):
        RoutedChatModel(router=router, models={"small": models["small"]})


def test_routed_chat_model_over_a_cascade():
    from graphroute.cascade import Cascade, Stage
    from graphroute.scorers import FormatScorer
    from graphroute.models import RoutedChatModel

    c = Cascade([Stage(FakeListChatModel(responses=["not sure"]), name="gpt-4o-mini", scorer=FormatScorer(kind="integer")),
                 Stage(FakeListChatModel(responses=["12"]), name="gpt-4o")])
    reply = RoutedChatModel(router=c).invoke("3 * 4?")
    assert reply.content == "12" and reply.response_metadata["graphroute_model"] == "gpt-4o"
    assert len(reply.response_metadata["graphroute_decision"]["attempts"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("script,expect", [("classifier_node.py", "familiarity 0.000 (unfamiliar)"), ("chat_model_dropin.py", "coder"),
                                           ("evaluate_graph.py", "quality")])
def test_examples_run(script, expect):
    args = [sys.executable, str(ROOT / "examples" / script)] + (["--n", "120", "--cv", "2"] if script == "evaluate_graph.py" else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert expect in proc.stdout


def test_the_readme_run_command_replays_a_recorded_prompt():
    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "graphroute.cli.main", "run", "graphs/qa_cascade.yaml", "--offline", "--data",
           "routellm-gsm8k"]
    out = subprocess.run(cmd + ["--row", "0", "--json"], capture_output=True, text=True, cwd=root, timeout=300)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["outcome"] == "completed" and r["answer"].strip().endswith("540")  # the recorded answer to prompt 0
    neither = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=300)
    assert neither.returncode == 2 and "--input TEXT or --row N" in neither.stderr
