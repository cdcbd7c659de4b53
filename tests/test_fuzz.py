"""Hypothesis fuzzing of every router's input: empty, huge, unicode, control characters, wrong
types. Each call gives a valid decision (a known model) or a typed graphroute error — never a crash
and never a silent wrong route."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import strategy_params
from graphroute.errors import GraphRouteError
from graphroute.prompts import MAX_PROMPT_CHARS

TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.text(alphabet=st.sampled_from("\x00\x01\x07\x1b\t\r\n \u200b\u202e\ufeff"), max_size=50),
    st.just(""), st.just("   \n\t "), st.just("x" * (MAX_PROMPT_CHARS + 1)), st.just("é" * 5000),
)
WRONG = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=20), st.lists(st.integers(), max_size=3),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _routers(gsm8k):
    from graphroute.routers import ROUTERS, Route, SemanticRouter, make_router
    from graphroute.strategies import STRATEGIES, make_strategy

    data = gsm8k.subset(range(80))
    out = {name: make_router(name).fit(data) for name in ROUTERS.names()}
    out["always-weak"] = make_router("always-weak").fit(data)
    params = strategy_params(data, out["logistic"])
    assert set(params) == set(STRATEGIES.names()), "give the new strategy parameters here"
    out.update({f"strategy:{kind}": make_strategy({"kind": kind, **p}) for kind, p in params.items()})
    out["semantic"] = SemanticRouter([Route(name="maths", utterances=["add two numbers", "solve the equation"]),
                                      Route(name="poetry", utterances=["write a poem", "compose a sonnet"])])
    return out


@pytest.fixture(scope="module")
def routers(gsm8k):
    return _routers(gsm8k)


def _check(router, x):
    try:
        decisions = router.decide(x) if not isinstance(x, str) else router.decide([x])
    except GraphRouteError:
        return
    allowed = set(getattr(router, "models_", [])) | {None} if hasattr(router, "models_") else None
    for d in decisions:
        if allowed is not None:
            assert d.model in allowed, (d.model, allowed)
        else:  # semantic routes: a route name or no route
            assert d.route in {"maths", "poetry", None}


def _names():
    from graphroute.routers import ROUTERS
    from graphroute.strategies import STRATEGIES

    return ROUTERS.names() + ["always-weak"] + [f"strategy:{k}" for k in STRATEGIES.names()] + ["semantic"]


ROUTER_NAMES = _names()


@pytest.mark.parametrize("name", ROUTER_NAMES)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=TEXT, wrong=WRONG)
def test_router_inputs_give_decisions_or_typed_errors(routers, name, text, wrong):
    r = routers[name]
    _check(r, text)
    _check(r, [text, "What is 2 + 2?"])
    _check(r, wrong)
    _check(r, [wrong])
