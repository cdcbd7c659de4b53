"""Hypothesis fuzzing of every router's input: empty, huge, unicode, control characters, wrong
types. Each call gives a valid decision (a known model) or a typed graphroute error — never a crash
and never a silent wrong route."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphroute.errors import GraphRouteError
from graphroute.routers.base import MAX_PROMPT_CHARS

TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.text(alphabet=st.sampled_from("\x00\x01\x07\x1b\t\r\n \u200b\u202e\ufeff"), max_size=50),
    st.just(""), st.just("   \n\t "), st.just("x" * (MAX_PROMPT_CHARS + 1)), st.just("é" * 5000),
)
WRONG = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=20), st.lists(st.integers(), max_size=3),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _routers(gsm8k):
    from graphroute.routers import make_router
    from graphroute.routers.rules import RulesRouter
    from graphroute.routers.semantic import Route, SemanticRouter
    from graphroute.runtime import (ConsistentHashRouter, HybridRouter, LatencyTracker, LeastBusyRouter, PrivacyRouter,
                                    ProfileRouter, RoundRobinRouter, RuntimeRouter, ThompsonRouter, WeightedRandomRouter)

    data = gsm8k.subset(range(80))
    names = ["random", "oracle", "always-weak", "always-strong", "knn", "knn-wide", "logistic", "ridge", "mlp", "features",
             "stacked-knn-logistic", "classifier", "cascade-arithmetic"]
    out = {n: make_router(n).fit(data) for n in names}
    rules = RulesRouter([{"model": data.strong, "regex": r"prove|\d{4,}"}], default=data.weak)
    models = [data.weak, data.strong]
    out.update({
        "rules": rules,
        "hybrid": HybridRouter(rules, out["logistic"]),
        "round_robin": RoundRobinRouter(models),
        "weighted_random": WeightedRandomRouter({m: 1 for m in models}, seed=0),
        "consistent_hash": ConsistentHashRouter(models),
        "profile": ProfileRouter({models[0]: {"speed": 1.0}, models[1]: {"accuracy": 1.0}}),
        "runtime": RuntimeRouter({models[0]: 0.6, models[1]: 0.9}, LatencyTracker()),
        "least_busy": LeastBusyRouter(models, LatencyTracker()),
        "thompson": ThompsonRouter(models, cluster_of=lambda p, c: str(len(p) % 3), seed=0),
        "privacy": PrivacyRouter(RoundRobinRouter(models), tags={models[0]: ["local"]}),
    })
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


ROUTER_NAMES = ["random", "oracle", "always-weak", "always-strong", "knn", "knn-wide", "logistic", "ridge", "mlp", "features",
                "stacked-knn-logistic", "classifier", "cascade-arithmetic", "rules", "hybrid", "round_robin",
                "weighted_random", "consistent_hash", "profile", "runtime", "least_busy", "thompson", "privacy", "semantic"]


@pytest.mark.parametrize("name", ROUTER_NAMES)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=TEXT, wrong=WRONG)
def test_router_inputs_give_decisions_or_typed_errors(routers, name, text, wrong):
    r = routers[name]
    _check(r, text)
    _check(r, [text, "What is 2 + 2?"])
    _check(r, wrong)
    _check(r, [wrong])
