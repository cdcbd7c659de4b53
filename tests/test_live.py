"""Against the real local LLM: Gemma 3 270M served by llama.cpp's OpenAI-compatible server on loopback.

Every request here crosses a real HTTP connection to a real model; answers are short (a few dozen
tokens at most) to keep the suite quick on 2 cores.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from langchain_openai import ChatOpenAI

from graphroute.cascade import Cascade, Stage
from graphroute.graphs import compile_file
from graphroute.collect import collect
from graphroute.costs import CostModel, Price
from graphroute.datasets import load_dataset
from graphroute.models import RoutedChatModel, chat_model
from graphroute.models.local import LocalServer
from graphroute.runtime import Gateway
from graphroute.runtime.failures import NoModelAvailableError
from graphroute.scorers import LogprobScorer, SelfConsistencyScorer
from graphroute.strategies import RoundRobinRouter, RulesRouter

pytestmark = pytest.mark.live

QUESTIONS = [
    {"id": 1, "prompt": "What is 2 + 3? Reply with just the number.", "reference": "5"},
    {"id": 2, "prompt": "What is 10 - 4? Reply with just the number.", "reference": "6"},
    {"id": 3, "prompt": "What is 3 times 3? Reply with just the number.", "reference": "9"},
]


def _models_yaml(tmp_path, base_url, *, price=1.0):
    p = tmp_path / "models.yaml"
    p.write_text(f"""models:
  gemma-short: {{model: gemma-3-270m, base_url: "{base_url}", input_price: {price}, output_price: {price},
                max_output_tokens: 4}}
  gemma: {{model: gemma-3-270m, base_url: "{base_url}", input_price: {price}, output_price: {2 * price},
          max_output_tokens: 24}}
""")
    return p


def _write_prompts(tmp_path, rows):
    p = tmp_path / "prompts.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "graphroute.cli.main", *args], capture_output=True, text=True, timeout=600)


def test_chat_model_reaches_the_server_with_usage_and_streaming(live_server):
    llm = chat_model("gemma-3-270m", base_url=live_server.base_url, max_tokens=12)
    assert isinstance(llm, ChatOpenAI)
    msg = llm.invoke("Say hello.")
    assert isinstance(msg.content, str) and msg.content.strip()
    assert msg.usage_metadata["input_tokens"] > 0 and 0 < msg.usage_metadata["output_tokens"] <= 12
    routed = RoutedChatModel(router=RulesRouter([{"model": "big", "contains": ["prove"]}], default="small"),
                             models={"small": llm, "big": llm})
    chunks = list(routed.stream("Name a colour."))
    assert len(chunks) > 1 and "".join(c.content for c in chunks).strip()


def test_collect_cli_writes_a_dataset_resumes_from_cache_and_counts_real_tokens(live_server, tmp_path):
    models = _models_yaml(tmp_path, live_server.base_url)
    prompts = _write_prompts(tmp_path, QUESTIONS)
    out = tmp_path / "data.csv"
    r = _cli("collect", "--models", str(models), "--prompts", str(prompts), "--grader", "numeric", "--out", str(out),
             "--no-progress", "--concurrency", "2")
    assert r.returncode == 0, r.stderr
    assert "6 calls (+0 from the cache)" in r.stdout
    ds = load_dataset(out)
    assert ds.models == ["gemma-short", "gemma"] and len(ds) == 3
    assert set(ds.scores.ravel()) <= {0.0, 1.0}
    rows = list(csv.DictReader(out.open()))
    for row in rows:
        tin, tout = int(row["gemma|input_tokens"]), int(row["gemma|output_tokens"])
        assert tin > 0 and 0 < tout <= 24 and int(row["gemma-short|output_tokens"]) <= 4
        assert float(row["gemma|cost"]) == pytest.approx((tin * 1.0 + tout * 2.0) / 1e6, rel=1e-4)
        assert float(row["gemma|latency_ms"]) > 0
    again = _cli("collect", "--models", str(models), "--prompts", str(prompts), "--grader", "numeric", "--out", str(out),
                 "--no-progress")
    assert again.returncode == 0 and "0 calls (+6 from the cache)" in again.stdout
    # a fit and a route on what was collected
    fitted = _cli("fit", str(out), "--router", "knn:k=2", "--out", str(tmp_path / "router"))
    assert fitted.returncode == 0, fitted.stderr
    routed = _cli("route", str(tmp_path / "router"), "What is 4 + 4?", "--json")
    assert routed.returncode == 0, routed.stderr
    assert json.loads(routed.stdout.splitlines()[0])["model"] in ("gemma-short", "gemma")


def test_collect_budget_stops_before_it_is_exceeded(live_server, tmp_path):
    models = _models_yaml(tmp_path, live_server.base_url, price=1000.0)  # $1,000 per 1M tokens
    prompts = _write_prompts(tmp_path, QUESTIONS)
    out = tmp_path / "data.csv"
    r = _cli("collect", "--models", str(models), "--prompts", str(prompts), "--grader", "numeric", "--out", str(out),
             "--no-progress", "--concurrency", "1", "--budget", "0.1")
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "stopped: the budget" in r.stdout
    spent = sum(json.loads(line)["cost"] for line in (tmp_path / "data.csv.calls.jsonl").read_text().splitlines())
    assert 0 < spent <= 0.1


def test_collect_rejects_bad_input_naming_file_and_row(live_server, tmp_path):
    from graphroute.errors import DatasetError, UnknownModelError

    llm = chat_model("gemma-3-270m", base_url=live_server.base_url, max_tokens=4)
    bad = _write_prompts(tmp_path, [{"prompt": "ok", "reference": "1"}, {"prompt": "  ", "reference": "2"}])
    with pytest.raises(DatasetError, match=r"prompts.jsonl.*row 2"):
        collect({"g": llm}, bad, "numeric", tmp_path / "out.csv", progress=False)
    no_ref = _write_prompts(tmp_path, [{"question": "2+2?"}])
    with pytest.raises(DatasetError, match="prompt column"):
        collect({"g": llm}, no_ref, "numeric", tmp_path / "out.csv", progress=False)
    with pytest.raises(UnknownModelError):
        collect({"g": llm}, bad, "judge:nobody", tmp_path / "out.csv", progress=False)
    assert not (tmp_path / "out.csv").exists()


def test_judge_grader_on_real_ratings(live_server, tmp_path):
    """The judge is the same small model: its ratings are noisy, but the protocol runs for real;
    prompts whose verdict it does not format are left out and counted."""
    judge = chat_model("gemma-3-270m", base_url=live_server.base_url, max_tokens=16)
    llm = chat_model("gemma-3-270m", base_url=live_server.base_url, max_tokens=8)
    res = collect({"g": llm}, QUESTIONS[:2], "judge:j", tmp_path / "out.csv", judges={"j": judge}, progress=False)
    assert res.rows + res.ungraded == 2 and res.calls == 4
    if res.rows:
        assert load_dataset(tmp_path / "out.csv").scores.max() <= 10


def test_logprob_and_self_consistency_scorers_on_real_outputs(live_server):
    llm = chat_model("gemma-3-270m", base_url=live_server.base_url, max_tokens=3)
    last = Stage(llm, name="last")
    first = Stage(llm, name="gemma", scorer=LogprobScorer(aggregate="geometric"), threshold=0.0,
                  options={"logprobs": True, "top_logprobs": 1})  # llama.cpp sends log-probs only with top_logprobs >= 1
    res = Cascade([first, last]).invoke("The capital of France is")
    conf = res.attempts[0].score
    assert 0.0 < conf <= 1.0 and conf != 0.5 and res.attempts[0].accepted  # 0.5 would be "no log-probs"
    sampler = chat_model("gemma-3-270m", base_url=live_server.base_url, max_tokens=4, temperature=0.9)
    sc = SelfConsistencyScorer(k=2, temperature=0.9, model=sampler)
    res = Cascade([Stage(llm, name="gemma", scorer=sc, threshold=0.0), last]).invoke("What is 2 + 2?")
    assert res.attempts[0].score in (0.0, 0.5, 1.0)
    assert sum(c.purpose == "sample" for c in res.attempts[0].calls) == 2


def test_gateway_real_timeout_dead_server_fallback_and_breaker(live_server):
    dead = LocalServer(n_threads=1).start()
    doomed = chat_model("gemma-3-270m", base_url=dead.base_url, max_tokens=4)
    alive = chat_model("gemma-3-270m", base_url=live_server.base_url, max_tokens=4)
    costs = CostModel({"doomed": Price(1.0, 1.0), "alive": Price(1.0, 1.0)})
    gw = Gateway({"doomed": doomed, "alive": alive}, RoundRobinRouter(["doomed"]), fallbacks={"doomed": ["alive"]},
                 cost_model=costs, retries=0, breaker={"failures": 2, "cooldown_s": 60}, timeout_s=30)
    first = gw.invoke("Say yes.")
    assert first.model == "doomed" and first.cost > 0  # the server's real usage priced
    dead.stop()  # a real dead server: the process is gone, the port refuses
    for _ in range(3):
        r = gw.invoke("Say yes.")
        assert r.model == "alive"
    assert gw.breakers["doomed"].state == "open" and gw.breakers["doomed"].trips == 1
    slow = chat_model("gemma-3-270m", base_url=live_server.base_url, max_tokens=400)
    only = Gateway({"slow": slow}, RoundRobinRouter(["slow"]), retries=0, timeout_s=0.05)
    with pytest.raises(NoModelAvailableError, match="timeout"):
        only.invoke("Write a long story about a dragon.")


@pytest.mark.parametrize("graph", ["qa_cascade.yaml", "rag_router.yaml", "agent_team.yaml"])
def test_shipped_yaml_graphs_run_on_the_local_model(live_server, tmp_path, graph):
    """Every shipped graph, each of its models replaced by the local server (the rest unchanged)."""
    import shutil

    import yaml

    from graphroute.graphs import run_graph

    shutil.copytree("graphs", tmp_path / "graphs")
    path = tmp_path / "graphs" / graph
    spec = yaml.safe_load(path.read_text())
    for block in spec["models"].values():
        block.update(model="gemma-3-270m", base_url=live_server.base_url, max_output_tokens=16)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    app = compile_file(path, offline=False)
    out = run_graph(app, "What is 2 + 2?")
    assert out["outcome"] == "completed", out
    assert isinstance(out["answer"], str) and out["answer"].strip()
    assert out["trace"] and out["cost"] > 0  # real token usage priced at the graph's prices


def test_a_new_model_joins_an_mf_router_from_probes_collected_live(live_server, tmp_path):
    from graphroute.routers import Router, make_router

    (tmp_path / "models.yaml").write_text(f"""models:
  gemma: {{model: gemma-3-270m, base_url: "{live_server.base_url}", input_price: 0.05, output_price: 0.1,
          max_output_tokens: 8}}
""")
    probes = QUESTIONS + [{"id": 4, "prompt": "What is 7 + 1? Reply with just the number.", "reference": "8"},
                          {"id": 5, "prompt": "What is 12 / 3? Reply with just the number.", "reference": "4"},
                          {"id": 6, "prompt": "What is 5 + 5? Reply with just the number.", "reference": "10"}]
    out = tmp_path / "probes.csv"
    r = _cli("collect", "--models", str(tmp_path / "models.yaml"), "--prompts", str(_write_prompts(tmp_path, probes)),
             "--grader", "numeric", "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    make_router("mf:dims=4").fit(load_dataset("routellm-gsm8k")).save(tmp_path / "pair")
    added = _cli("fit", str(out), "--add-model", "gemma", "--into", str(tmp_path / "pair"), "--out", str(tmp_path / "three"))
    assert added.returncode == 0, added.stderr
    assert "placed gemma among 2 models from 6 probe prompts" in added.stdout
    router = Router.load(tmp_path / "three")
    assert router.models_[-1] == "gemma" and router.costs_["gemma"] > 0  # the dollars collect recorded
    lo, hi = router.predict_interval(["What is 9 + 9?"])
    assert (hi - lo)[0, -1] > (hi - lo)[0, 0]  # less sure of the newcomer than of a model it was fitted on
    routed = _cli("route", str(tmp_path / "three"), "What is 4 + 4?", "--json")
    assert routed.returncode == 0 and json.loads(routed.stdout.splitlines()[0])["model"] in router.models_
