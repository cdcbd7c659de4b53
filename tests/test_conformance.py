"""One conformance suite over every registered router and strategy (scikit-learn's
``parametrize_with_checks``): a new router is one file plus its docs entry, and nothing here lists
names by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import strategy_params
from graphroute.routers import ROUTERS, make_router
from graphroute.strategies import STRATEGIES, make_strategy
from graphroute.testing import check_router, check_strategy

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def small(gsm8k):
    return gsm8k.subset(range(80))


@pytest.mark.parametrize("name", ROUTERS.names())
def test_every_registered_router_conforms(name, small, tmp_path):
    assert check_router(name, small, folder=tmp_path).endswith("checks passed")


@pytest.mark.parametrize("kind", STRATEGIES.names())
def test_every_registered_strategy_conforms(kind, small):
    params = strategy_params(small, make_router("logistic").fit(small))
    assert set(params) == set(STRATEGIES.names()), "give the new strategy parameters in conftest.strategy_params"
    strategy = make_strategy({"kind": kind, **params[kind]})
    assert check_strategy(strategy, small.prompts[:10], {"user": "u1", "key": "k"}).endswith("checks passed")


def test_every_registered_router_and_strategy_is_documented():
    routers = (DOCS / "routers.md").read_text()
    listed = set(re.findall(r"^\| `([a-z_]+)`", routers, flags=re.M)) | set(re.findall(r"`([a-z_]+)`", routers))
    assert set(ROUTERS.names()) <= listed, sorted(set(ROUTERS.names()) - listed)
    text = "".join(p.read_text() for p in DOCS.glob("*.md"))
    assert all(f"`{k}`" in text for k in STRATEGIES.names()), [k for k in STRATEGIES.names() if f"`{k}`" not in text]


def test_a_router_that_breaks_the_protocol_is_named_with_its_fault(small):
    from graphroute.routers import KNNRouter

    class Eager(KNNRouter):
        def __init__(self, k: int = 5) -> None:
            super().__init__(k=k)
            self.fitted_ = True  # state in __init__: not allowed

    with pytest.raises(AssertionError, match=r"Eager: __init__ sets .*'fitted_'"):
        check_router(Eager(), small)
