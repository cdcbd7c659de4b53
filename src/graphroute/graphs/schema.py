"""The YAML schema of a graphroute graph (pydantic; every block rejects unknown fields).

.. code-block:: yaml

    name: qa
    models:                      # id -> provider:model (or base_url + served name), prices per 1M tokens
      small: {model: "openai:gpt-4o-mini", api_key_env: OPENAI_API_KEY, input_price: 0.15, output_price: 0.6,
              replay: <recorded model>}
      local: {model: gemma-3-270m, base_url: "http://127.0.0.1:8080/v1", input_price: 0, output_price: 0}
    routers:                     # named routing blocks: learned | cascade | allocator | rules | strategy
      pick: {type: learned, fit: {data: routellm-mmlu, router: logistic}, models: {<router model>: small}}
    state: {question: str, answer: str}
    nodes:                       # llm | retrieval | router | cascade | allocator | python
      answer: {type: llm, router: pick, prompt: "{question}", output: answer}
    edges:
      - {from: START, to: answer}
      - {from: answer, to: END}
    budget: {per_run: 0.01}      # dollars; one budget across all steps
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from graphroute.routers.calibration import check_target


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelBlock(_Strict):
    """A chat model the graph may call."""

    model: str = Field(description="provider:model for LangChain's init_chat_model, or the model name served at base_url")
    base_url: str | None = Field(None, description="an OpenAI-compatible endpoint (e.g. http://127.0.0.1:8080/v1)")
    api_key_env: str | None = Field(None, description="name of the environment variable holding the key (never the key)")
    temperature: float | None = Field(0.0, ge=0)
    input_price: float = Field(ge=0, description="dollars per 1M input tokens")
    output_price: float = Field(ge=0, description="dollars per 1M output tokens")
    context_window: int = Field(128_000, gt=0)
    max_output_tokens: int = Field(1024, gt=0, description="bound to the model; the budget check assumes it")
    tags: list[str] = Field(default_factory=list)
    replay: str | None = Field(None, description="offline: answer with this recorded model of the dataset")
    offline_response: str | None = Field(None, description="offline without data: this fixed answer")


class FitBlock(_Strict):
    """Fit a router on a dataset at compile time (cached): ``data`` is a built-in name or a path, or
    a list of them recording the same models (concatenated)."""

    data: str | list[str] = Field(min_length=1)
    roles: bool = Field(False, description="fit on each dataset's (weak, strong) pair renamed weak/strong, so datasets "
                                           "of different pairs pool; map weak and strong in the block's models")
    router: str | dict[str, Any] = "classifier"
    calibrate: dict[str, float | str] | None = None  # e.g. {strong_share: 0.3}, {cost_per_query: 0.0001, rule: tolerance}

    @field_validator("calibrate")
    @classmethod
    def _one_target(cls, value: dict[str, float | str] | None) -> dict[str, float | str] | None:
        return None if value is None else check_target(value)


def _renamed(block: str, old: str, new: str, value: Any) -> None:
    warnings.warn(f"a {block} block's {old} is deprecated: write {new}: {value}", DeprecationWarning, stacklevel=2)


class LearnedBlock(_Strict):
    """A learned router (any registered router: ``fit.router`` names it, or ``path`` a saved one).
    ``type: classifier`` (1.0) is read as ``learned``, with a ``DeprecationWarning``."""

    type: Literal["learned", "classifier"]
    path: str | None = Field(None, description="a saved router folder (relative to the YAML file)")
    fit: FitBlock | None = None
    models: dict[str, str] = Field(default_factory=dict, description="router's model name -> graph model id")


    @field_validator("type")
    @classmethod
    def _learned(cls, value: str) -> str:
        if value == "classifier":
            _renamed("router", "type: classifier", "type", "learned")
        return "learned"


ClassifierBlock = LearnedBlock  # the 1.0 name


class CascadeBlock(_Strict):
    type: Literal["cascade"]
    stages: list[dict[str, Any]]
    max_cost: float | None = None
    fit: dict[str, Any] | None = Field(None, description="{data: D}: fit learned scorers on D's recorded responses")
    calibrate: dict[str, float] | None = Field(None, description="{quality|strong_share|budget: x} on the fit data")


class AllocatorBlock(_Strict):
    type: Literal["allocator"]
    catalogue: str
    runs: str | None = None
    lam: float = Field(0.0, ge=0)
    models: dict[str, str] = Field(default_factory=dict, description="catalogue model id -> graph model id")


class Rule(_Strict):
    model: str
    contains: list[str] = Field(default_factory=list)
    regex: str | None = None
    min_chars: int | None = None
    max_chars: int | None = None


class RulesBlock(_Strict):
    type: Literal["rules"]
    rules: list[Rule]
    default: str


class StrategyBlock(_Strict):
    """A runtime strategy (round_robin, weighted_random, consistent_hash, profile, runtime, least_busy,
    thompson, privacy) over graph model ids; ``params`` are its constructor's arguments."""

    type: Literal["strategy"]
    name: str = Field(description="the registered strategy (graphroute.strategies.STRATEGIES)")
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _kind_is_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kind" in data and "name" not in data:
            _renamed("strategy", "kind", "name", data["kind"])
            data = {("name" if k == "kind" else k): v for k, v in data.items()}
        return data


RouterBlock = Annotated[Union[LearnedBlock, CascadeBlock, AllocatorBlock, RulesBlock, StrategyBlock],
                        Field(discriminator="type")]


class LLMNode(_Strict):
    type: Literal["llm"]
    prompt: str = Field(description="template over state keys, e.g. 'Answer: {question}'")
    output: str
    model: str | None = None
    router: str | None = None
    route_on: str | None = Field(None, description="state key the router decides on (default: the formatted prompt)")
    system: str | None = None


class RetrievalNode(_Strict):
    type: Literal["retrieval"]
    corpus: str = Field(description="JSONL file ({'text': ...} per line), relative to the YAML file")
    input: str
    output: str
    k: int = Field(3, ge=1)


class RouterStep(_Strict):
    type: Literal["router"]
    router: str
    input: str
    output: str = "route"


class CascadeNodeSpec(_Strict):
    type: Literal["cascade"]
    router: str
    input: str
    output: str


class AllocatorNodeSpec(_Strict):
    type: Literal["allocator"]
    router: str
    input: str
    output: str


class PythonNode(_Strict):
    type: Literal["python"]
    call: str = Field(description="module:function taking the state, returning an update dict")


NodeSpec = Annotated[Union[LLMNode, RetrievalNode, RouterStep, CascadeNodeSpec, AllocatorNodeSpec, PythonNode],
                     Field(discriminator="type")]


class Edge(_Strict):
    """``from`` -> ``to``; or ``from`` -> ``map[state[condition]]`` (a conditional edge)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    to: str | None = None
    condition: str | None = None
    map: dict[str, str] | None = None


class Budget(_Strict):
    per_run: float | None = Field(None, ge=0)


class GraphSpec(_Strict):
    """A whole graph file. Validate YAML with ``graphroute.graphs.load_graph`` (file:line errors);
    build one in Python with ``GraphSpec.model_validate``.

    Examples:
        >>> from graphroute.graphs import GraphSpec
        >>> spec = GraphSpec.model_validate({
        ...     "models": {"small": {"model": "openai:gpt-4o-mini", "input_price": 0.15, "output_price": 0.6}},
        ...     "state": {"question": "str", "answer": "str"},
        ...     "nodes": {"answer": {"type": "llm", "model": "small", "prompt": "{question}", "output": "answer"}},
        ...     "edges": [{"from": "START", "to": "answer"}, {"from": "answer", "to": "END"}]})
        >>> spec.nodes["answer"].type, spec.edges[0].source
        ('llm', 'START')
    """

    name: str = "graph"
    description: str = ""
    models: dict[str, ModelBlock]
    routers: dict[str, RouterBlock] = Field(default_factory=dict)
    state: dict[str, Literal["str", "int", "float", "list", "dict"]] = Field(default_factory=dict)
    nodes: dict[str, NodeSpec]
    edges: list[Edge]
    budget: Budget = Field(default_factory=Budget)
    checkpointer: str | None = Field(None, description="where runs are checkpointed: memory, sqlite:PATH or "
                                                       "postgresql://... (LangGraph's PostgresSaver)")
    input: str | None = Field(None, description="state key the run's input goes to (default: first state key)")
    output: str | None = Field(None, description="state key holding the answer (default: last node's output)")
