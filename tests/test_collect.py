"""graphroute collect without a server: graders, judges' protocols, the call cache, budgets, bad input.

The chat models here are LangChain fakes standing in for paid remote providers; tests against the
real local LLM are in test_live.py.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from langchain_core.language_models import FakeListChatModel

from graphroute.collect import GRADERS, collect, load_models, make_grader, read_rating, read_verdict
from graphroute.costs import CostModel, Price
from graphroute.datasets import load_dataset
from graphroute.errors import ConfigError, DatasetError, UnknownNameError


def test_reference_graders():
    num, choice, exact = make_grader("numeric"), make_grader("choice"), make_grader("exact")
    assert num.grade("", "so the total is $1,234.50.", "1234.5") == 1.0
    assert num.grade("", "I think 12, no wait, 13", "12") == 0.0  # the final number counts
    assert num.grade("", "no number here", "3") == 0.0
    assert make_grader("numeric:tolerance=0.01").grade("", "about 3.14", "3.1416") == 1.0
    assert choice.grade("", "The answer is C", "C") == 1.0 and choice.grade("", "(d) is right", "D") == 1.0
    assert choice.grade("", "I cannot tell", "A") == 0.0
    assert exact.grade("", "Paris!", "paris") == 1.0 and exact.grade("", "Paris, France", "paris") == 0.0
    assert make_grader("regex:pattern=^yes").grade("", "Yes, it is", None) == 1.0
    assert make_grader("regex").grade("", "the code is 4711", r"\b47\d\d\b") == 1.0
    assert not make_grader("regex:pattern=x").needs_reference and make_grader("regex").needs_reference
    with pytest.raises(UnknownNameError):
        make_grader("fuzzy")
    assert set(GRADERS.names()) == {"exact", "numeric", "choice", "regex", "judge", "pairwise"}


def test_judge_and_pairwise_protocols():
    assert read_rating("Good answer. Rating: [[7]]") == 7.0 and read_rating("[[11]]") is None
    assert read_rating("no verdict") is None and read_verdict("A is better [[A]]") == "A"
    assert make_grader("judge:big").model == "big" and make_grader("pairwise:model=big").model == "big"

    def judge(verdicts):
        async def call(model, prompt):
            a = prompt.split("[The Start of Assistant A's Answer]\n")[1].split("\n")[0]
            return f"[[{verdicts(a)}]]"
        return call

    pw = make_grader("pairwise:j")
    responses = {"base": "base answer", "other": "other answer"}
    # other wins in both orders
    wins = asyncio.run(pw.grade_all("q", responses, None, judge(lambda a: "A" if a == "other answer" else "B")))
    assert wins == {"base": 0.0, "other": 1.0}
    # position bias: the judge always prefers A -> verdicts flip with the order -> a tie
    biased = asyncio.run(pw.grade_all("q", responses, None, judge(lambda a: "A")))
    assert biased == {"base": 0.5, "other": 0.5}
    assert asyncio.run(pw.grade_all("q", responses, None, judge(lambda a: "C"))) == {"base": 0.5, "other": 0.5}


def test_collect_caches_calls_and_reruns_make_none(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"{i} + 1?", "reference": str(i + 1)}) + "\n" for i in range(4)))
    models = {"small": FakeListChatModel(responses=["1", "2", "3", "4"]), "big": FakeListChatModel(responses=["5"])}
    first = collect(models, prompts, "numeric", tmp_path / "out.csv", progress=False, concurrency=1)
    assert (first.rows, first.calls, first.cached) == (4, 8, 0)
    ds = load_dataset(tmp_path / "out.csv")
    assert ds.models == ["small", "big"] and ds.scores.shape == (4, 2)
    again = collect(models, prompts, "numeric", tmp_path / "out.csv", progress=False)
    assert (again.rows, again.calls, again.cached) == (4, 0, 8)
    with (tmp_path / "out.csv.calls.jsonl").open("a") as fh:
        fh.write('{"key": "torn')  # a crash mid-write: the torn line is ignored
    assert collect(models, prompts, "numeric", tmp_path / "out.csv", progress=False).calls == 0


def test_budget_stops_before_it_is_exceeded_and_keeps_complete_rows(tmp_path):
    rows = [{"prompt": f"question number {i}", "reference": "1"} for i in range(20)]
    costs = CostModel({"m": Price(1000.0, 1000.0)})  # $1,000 per 1M tokens
    res = collect({"m": FakeListChatModel(responses=["1"])}, rows, "numeric", tmp_path / "o.csv", budget=0.02,
                  cost_model=costs, max_output_tokens=4, concurrency=1, progress=False)
    assert res.stopped == "budget" and 0 < res.rows < 20 and res.cost <= 0.02
    assert len(load_dataset(tmp_path / "o.csv")) == res.rows


def test_models_file_errors_name_the_file_and_never_the_key(tmp_path, monkeypatch):
    p = tmp_path / "models.yaml"
    p.write_text("models:\n  a: {model: x, base_url: 'http://127.0.0.1:9/v1', api_key_env: MY_KEY, input_price: 0,"
                 " output_price: 0}\n")
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"models.yaml.*MY_KEY.*not set"):
        load_models(p)
    monkeypatch.setenv("MY_KEY", "sk-secret-value")
    spec = load_models(p)
    assert "sk-secret-value" not in repr(spec.models["a"]) and spec.cost_model.has("a")
    p.write_text("models:\n  a: {model: x, input_price: -1, output_price: 0, colour: red}\n")
    with pytest.raises(ConfigError, match=r"models.yaml:2"):
        load_models(p)


def test_bad_prompt_files_write_nothing(tmp_path):
    out = tmp_path / "o.csv"
    m = {"m": FakeListChatModel(responses=["1"])}
    (tmp_path / "bad.jsonl").write_text('{"prompt": "fine", "reference": "1"}\n{"prompt": "x", "reference": ""}\n')
    with pytest.raises(DatasetError, match="row 2"):
        collect(m, tmp_path / "bad.jsonl", "numeric", out, progress=False)
    (tmp_path / "broken.jsonl").write_text('{"prompt": "fine"\n')
    with pytest.raises(DatasetError, match="line 1"):
        collect(m, tmp_path / "broken.jsonl", "exact", out, progress=False)
    with pytest.raises(DatasetError, match="not found"):
        collect(m, tmp_path / "missing.csv", "exact", out, progress=False)
    assert not out.exists()
