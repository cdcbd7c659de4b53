"""Cascade: stages, accounting, failures, budget, LangGraph node/subgraph, persistence. Fake chat
models stand in for providers only."""

from __future__ import annotations

import asyncio
import math

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

from graphroute.cascade import Cascade, Stage
from graphroute.errors import CascadeError
from graphroute.types import Answer
from graphroute.scorers import (ArithmeticScorer, CombinedScorer, FormatScorer, LogprobScorer,
                                        SelfConsistencyScorer, VerifierScorer)
from graphroute.costs import CostModel, count_tokens
from graphroute.errors import PromptError, UnknownModelError


def fake(*responses: str) -> FakeListChatModel:
    return FakeListChatModel(responses=list(responses))


def failing(exc: Exception) -> RunnableLambda:
    def boom(_):
        raise exc

    return RunnableLambda(boom)


def with_logprob(text: str, p: float) -> AIMessage:
    return AIMessage(text, response_metadata={"finish_reason": "stop",
                                              "logprobs": {"content": [{"token": text, "logprob": math.log(p)}]}})


def three_stage(small: str, mid: str, big: str) -> Cascade:
    return Cascade([
        Stage(fake(small), name="gpt-4o-mini", scorer=FormatScorer(kind="integer"), threshold=0.5),
        Stage(fake(mid), name="mistralai/Mixtral-8x7B-Instruct-v0.1", scorer=ArithmeticScorer(), threshold=0.9),
        Stage(fake(big), name="gpt-4o"),
    ])


def test_first_confident_stage_answers_and_calls_stop_there():
    r = three_stage("#### 12", "never called", "never called").invoke("What is 3 * 4?")
    assert (r.model, r.stage, r.answer.text) == ("gpt-4o-mini", 0, "#### 12")
    assert len(r.attempts) == 1 and r.attempts[0].accepted and r.attempts[0].score == 1.0


def test_escalation_accounts_for_every_call():
    c = three_stage("not sure", "3 * 4 = 13\n#### 13", "3 * 4 = 12\n#### 12")
    r = c.invoke("Tom has 3 bags of 4 apples. How many apples?")
    assert r.model == "gpt-4o" and r.stage == 2
    assert [a.accepted for a in r.attempts] == [False, False, True]
    assert r.attempts[0].score == 0.0 and r.attempts[1].score == 0.0 and r.attempts[2].score is None
    cm = CostModel.default()
    q_tokens = count_tokens(["Tom has 3 bags of 4 apples. How many apples?"])[0]
    expected = [cm.cost(m, q_tokens, count_tokens([t])[0]) for m, t in
                [("gpt-4o-mini", "not sure"), ("mistralai/Mixtral-8x7B-Instruct-v0.1", "3 * 4 = 13\n#### 13"),
                 ("gpt-4o", "3 * 4 = 12\n#### 12")]]
    assert [a.cost for a in r.attempts] == pytest.approx(expected)
    assert r.cost == pytest.approx(sum(expected)) and r.escalated
    assert all(a.latency_ms >= 0 for a in r.attempts)


def test_provider_failure_escalates_and_total_failure_is_typed():
    c = Cascade([Stage(failing(TimeoutError("read timed out")), name="gpt-4o-mini", scorer=FormatScorer()),
                 Stage(fake("fine"), name="gpt-4o")])
    r = c.invoke("hello?")
    assert r.model == "gpt-4o" and "TimeoutError" in r.attempts[0].error
    dead = Cascade([Stage(failing(TimeoutError("t1")), name="a", scorer=FormatScorer()),
                    Stage(failing(ConnectionError("t2")), name="b")])
    with pytest.raises(CascadeError, match="every stage failed"):
        dead.invoke("hello?")


def test_last_stage_failure_falls_back_to_best_earlier_answer():
    c = Cascade([Stage(fake("maybe 7"), name="a", scorer=FormatScorer(kind="integer"), threshold=2.0),
                 Stage(failing(RuntimeError("HTTP 500")), name="b")])
    r = c.invoke("3 + 4?")
    assert r.model == "a" and r.answer.text == "maybe 7" and r.attempts[0].accepted


def test_budget_stops_escalation():
    c = three_stage("no", "no", "12")
    r = c.invoke("3 * 4?", max_cost=1e-12)
    assert len(r.attempts) == 1 and r.model == "gpt-4o-mini"


def test_bad_prompts_and_bad_configuration_are_typed():
    c = three_stage("1", "1", "1")
    for bad in ["", "   ", "x" * 1_000_001]:
        with pytest.raises(PromptError):
            c.invoke(bad)
    with pytest.raises(CascadeError, match="at least two"):
        Cascade([Stage(fake("a"), name="a")])
    with pytest.raises(CascadeError, match="needs a scorer"):
        Cascade([Stage(fake("a"), name="a"), Stage(fake("b"), name="b")])
    with pytest.raises(CascadeError, match="unique"):
        Cascade([Stage(fake("a"), name="a", scorer=FormatScorer()), Stage(fake("b"), name="a")])
    with pytest.raises(CascadeError, match="chat model"):
        Stage("gpt-4o", name="x")


def test_logprob_scorer_end_to_end():
    def cascade(p):
        return Cascade([Stage(GenericFakeChatModel(messages=iter([with_logprob("Paris", p)])), name="gpt-4o-mini",
                              scorer=LogprobScorer(), threshold=0.8),
                        Stage(fake("Paris, France"), name="gpt-4o")])
    assert cascade(0.95).invoke("Capital of France?").model == "gpt-4o-mini"
    low = cascade(0.3).invoke("Capital of France?")
    assert low.model == "gpt-4o" and low.attempts[0].score == pytest.approx(0.3)
    assert LogprobScorer(missing=0.25).score("q", Answer(text="x")) == 0.25


def test_self_consistency_scorer_samples_the_stage_model_and_counts_their_cost():
    # first response is the answer, the next four are samples (3 agree on 12)
    small = fake("#### 12", "so 12", "it is 12", "maybe 11", "12 apples")
    c = Cascade([Stage(small, name="gpt-4o-mini", scorer=SelfConsistencyScorer(k=4), threshold=0.7),
                 Stage(fake("12"), name="gpt-4o")])
    r = c.invoke("3 * 4?")
    a = r.attempts[0]
    assert a.score == pytest.approx(0.75) and r.model == "gpt-4o-mini"
    assert [call.purpose for call in a.calls] == ["answer"] + ["sample"] * 4
    assert a.cost == pytest.approx(sum(call.cost for call in a.calls)) and a.cost > a.calls[0].cost


def test_self_consistency_async_and_disagreement_escalates():
    small = fake("#### 12", "13", "14", "15")
    c = Cascade([Stage(small, name="gpt-4o-mini", scorer=SelfConsistencyScorer(k=3), threshold=0.5),
                 Stage(fake("12"), name="gpt-4o")])
    r = asyncio.run(c.ainvoke("3 * 4?"))
    assert r.model == "gpt-4o" and r.attempts[0].score == 0.0


def test_verifier_scorer_end_to_end_with_configurable_prompt():
    verifier = fake("8", "no")
    vs = VerifierScorer(verifier, prompt="Q: {question}\nA: {answer}\nGrade 0-10:", label="gpt-4o")
    c = Cascade([Stage(fake("Paris", "Lyon"), name="gpt-4o-mini", scorer=vs, threshold=0.5),
                 Stage(fake("Paris"), name="gpt-4o")])
    first, second = c.invoke("Capital of France?"), c.invoke("Capital of France?")
    assert first.model == "gpt-4o-mini" and first.attempts[0].score == 0.8
    assert second.model == "gpt-4o" and second.attempts[0].score == 0.0
    assert first.attempts[0].calls[-1].purpose == "verify" and first.attempts[0].calls[-1].model == "gpt-4o"
    with pytest.raises(CascadeError, match="question"):
        VerifierScorer(verifier, prompt="no placeholders")


def test_format_scorer_kinds_parser_and_truncation():
    assert FormatScorer(kind="number").score("q", Answer(text="#### 1,234")) == 1.0
    assert FormatScorer(kind="integer").score("q", Answer(text="#### 12.50")) == 0.0
    assert FormatScorer(kind="choice", choices=["A", "B"]).score("q", Answer(text="The answer is\nB")) == 1.0
    assert FormatScorer(kind="json").score("q", Answer(text="{oops")) == 0.0
    assert FormatScorer(pattern=r"^Answer:").score("q", Answer(text="Answer: yes")) == 1.0
    assert FormatScorer(parser="json:loads").score("q", Answer(text="[1, 2]")) == 1.0
    assert FormatScorer(parser=int).score("q", Answer(text="x")) == 0.0
    assert FormatScorer().score("q", Answer(text="42", finish_reason="length")) == 0.0
    with pytest.raises(CascadeError):
        FormatScorer(kind="nope")
    with pytest.raises(CascadeError):
        FormatScorer(pattern="(")
    with pytest.raises(CascadeError):
        FormatScorer(parser="no_such_module:f")


def test_combined_scorer():
    s = CombinedScorer([FormatScorer(kind="integer"), ArithmeticScorer(unchecked=0.4)], weights=[1, 3])
    assert s.score("q?", Answer(text="#### 5")) == pytest.approx((1 + 3 * 0.4) / 4)
    assert CombinedScorer([FormatScorer(kind="integer"), ArithmeticScorer(unchecked=0.4)], how="min").score(
        "q?", Answer(text="#### 5")) == pytest.approx(0.4)


def test_batch_and_abatch_keep_order():
    c = Cascade([Stage(fake("1", "2", "3"), name="gpt-4o-mini", scorer=FormatScorer(kind="integer")),
                 Stage(fake("x"), name="gpt-4o")])
    assert sorted(r.answer.text for r in c.batch(["a?", "b?", "c?"], max_concurrency=1)) == ["1", "2", "3"]
    c2 = Cascade([Stage(fake("1", "2"), name="gpt-4o-mini", scorer=FormatScorer(kind="integer")),
                  Stage(fake("x"), name="gpt-4o")])
    out = asyncio.run(c2.abatch(["a?", "b?"], max_concurrency=1))
    assert [r.answer.text for r in out] == ["1", "2"]


def test_config_round_trip_and_errors(tmp_path):
    models = {"small": fake("1"), "big": fake("2"), "judge": fake("9")}
    cfg = {"stages": [{"model": "small", "threshold": 0.6,
                       "scorer": {"name": "combined", "how": "min",
                                  "scorers": [{"name": "format", "kind": "integer"},
                                              {"name": "verifier", "model": "judge"}]}},
                      {"model": "big"}], "max_cost": 0.5}
    c = Cascade.from_config(cfg, models)
    assert c.invoke("1?").model == "small"
    folder = c.save(tmp_path / "c")
    back = Cascade.load(folder, models)
    assert back.thresholds == [0.6] and back.max_cost == 0.5
    with pytest.raises(UnknownModelError, match="cascade.stages\\[1\\]"):
        Cascade.from_config({"stages": [cfg["stages"][0], {"model": "gpt-9"}]}, models)
    with pytest.raises(CascadeError, match="stages\\[0\\].scorer"):
        Cascade.from_config({"stages": [{"model": "small", "scorer": {"type": "magic"}}, {"model": "big"}]}, models)
    with pytest.raises(CascadeError, match="threshold"):
        Cascade.from_config({"stages": [{"model": "small", "scorer": {"name": "format"}, "threshold": "high"},
                                        {"model": "big"}]}, models)
    (folder / "graphroute.json").write_text("{not json")
    with pytest.raises(Exception, match="corrupt"):
        Cascade.load(folder, models)
