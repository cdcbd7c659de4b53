"""The models file of ``graphroute collect``: the candidate models (and judges), with prices.

.. code-block:: yaml

    models:
      gemma: {model: gemma-3-270m, base_url: "http://127.0.0.1:8080/v1", input_price: 0, output_price: 0,
              max_output_tokens: 256}
      gpt-4o: {model: "openai:gpt-4o", api_key_env: OPENAI_API_KEY, input_price: 2.5, output_price: 10}
    judges:                      # optional: models that only grade
      judge: {model: "openai:gpt-4o", api_key_env: OPENAI_API_KEY, input_price: 2.5, output_price: 10}

Entries are the model blocks of the YAML graphs (``ModelBlock``);
unknown fields and bad values are errors naming the file, line and field.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from graphroute.collect import load_models
    >>> p = Path(tempfile.mkdtemp()) / "models.yaml"
    >>> _ = p.write_text("models:\\n  local: {model: gemma, base_url: 'http://127.0.0.1:8080/v1', "
    ...                  "input_price: 0, output_price: 0}\\n")
    >>> spec = load_models(p)
    >>> list(spec.models), type(spec.models["local"]).__name__, spec.cost_model.has("local")
    (['local'], 'ChatOpenAI', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from graphroute.costs import CostModel, Price
from graphroute.graphs.schema import ModelBlock, _Strict
from graphroute.models import chat_model
from graphroute.yamlconf import load_yaml_model


class ModelsFile(_Strict):
    models: dict[str, ModelBlock] = Field(min_length=1)
    judges: dict[str, ModelBlock] = Field(default_factory=dict)


@dataclass
class Models:
    """Chat models by id (candidates and judges), their prices and the largest output bound."""

    models: dict[str, Any]
    judges: dict[str, Any]
    cost_model: CostModel
    max_output_tokens: int
    blocks: dict[str, ModelBlock]


def load_models(path: str | Path) -> Models:
    """Read a models file and make its chat models (no call is made)."""
    spec = load_yaml_model(path, ModelsFile)
    blocks = {**spec.judges, **spec.models}

    def make(section: str, mid: str, m: ModelBlock) -> Any:
        return chat_model(m.model, base_url=m.base_url, api_key_env=m.api_key_env, max_tokens=m.max_output_tokens,
                          temperature=m.temperature, field=f"{section}.{mid}", path=path)

    return Models({k: make("models", k, m) for k, m in spec.models.items()},
                  {k: make("judges", k, m) for k, m in {**spec.models, **spec.judges}.items()},
                  CostModel({k: Price(m.input_price, m.output_price, source=str(path)) for k, m in blocks.items()},
                            source=str(path)),
                  max(m.max_output_tokens for m in blocks.values()), blocks)
