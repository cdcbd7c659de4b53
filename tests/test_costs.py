"""Cost model: prices, token counting, per-prompt dollars from data."""

from __future__ import annotations

import numpy as np
import pytest

from graphroute.costs import CostModel, Price, count_tokens
from graphroute.datasets import RoutingDataset
from graphroute.errors import ConfigError, UnknownModelError


def test_default_prices_cite_sources():
    cm = CostModel.default()
    p = cm.price("gpt-4-1106-preview")
    assert (p.input, p.output) == (10.0, 30.0) and "OpenAI" in p.source
    assert cm.cost("gpt-4-1106-preview", 1_000_000, 0) == pytest.approx(10.0)
    with pytest.raises(UnknownModelError):
        cm.price("no-such-model")


def test_count_tokens_uses_cl100k():
    # "hello world" is two tokens in cl100k_base
    assert count_tokens(["hello world", "a"]).tolist() == [2.0, 1.0]


def test_dataset_costs_from_tokens_responses_and_default():
    cm = CostModel({"a": Price(1.0, 2.0), "b": Price(10.0, 20.0)}, default_output_tokens=100)
    d = RoutingDataset("t", ["hello world", "hello world"], ["a", "b"], np.ones((2, 2)),
                       responses={"b": ["one two three", "x"]},
                       costs=np.array([[0.5, np.nan], [np.nan, np.nan]]))
    c = cm.dataset_costs(d)
    assert c[0, 0] == 0.5  # recorded cost wins
    assert c[1, 0] == pytest.approx((2 * 1.0 + 100 * 2.0) / 1e6)  # default output tokens
    assert c[0, 1] == pytest.approx((2 * 10.0 + 3 * 20.0) / 1e6)  # response tokens
    d.meta["default_output_tokens"] = 1
    assert cm.dataset_costs(d)[1, 0] == pytest.approx((2 + 2) / 1e6)


def test_unpriced_model_gives_no_costs():
    d = RoutingDataset("t", ["q"], ["a", "zz"], np.ones((1, 2)))
    assert CostModel({"a": Price(1, 1)}).dataset_costs(d) is None


def test_builtin_mmlu_costs(mmlu):
    c = CostModel.default().dataset_costs(mmlu)
    assert c.shape == (12323, 2) and np.isfinite(c).all()
    assert (c[:, 1] > c[:, 0]).all()


@pytest.mark.parametrize(
    "text, field",
    [
        ("models: [1, 2]", "models"),
        ("models:\n  a: {input: -1, output: 1}", "models.a.input"),
        ("models:\n  a: {input: 1}", "models.a.output"),
        ("models:\n  a: {input: 1, output: 1}\ndefault_output_tokens: lots", "default_output_tokens"),
    ],
)
def test_bad_price_files_name_the_field(tmp_path, text, field):
    p = tmp_path / "prices.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        CostModel.from_yaml(p)
    assert err.value.field == field and str(p) in str(err.value)


def test_invalid_yaml(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("models: {a: [")
    with pytest.raises(ConfigError, match="invalid YAML"):
        CostModel.from_yaml(p)
