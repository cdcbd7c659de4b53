"""The configuration ``graphroute serve`` reads: the graph schema's ``models`` and ``routers``, the
YAML graphs it serves, and a ``serve`` block (virtual models, fallbacks, API keys and limits).

.. code-block:: yaml

    models:                      # as in a graph file; served over the OpenAI API at base_url,
      small: {model: gemma-3-270m, base_url: "http://127.0.0.1:8080/v1", input_price: 0, output_price: 0}
      big: {model: gpt-4o, base_url: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY,
            input_price: 2.5, output_price: 10}
      # ... or, without base_url, answered from recorded outcomes (replay: <recorded model>)
    routers: {pick: {type: learned, fit: {data: routellm-mmlu}, models: {<recorded>: small, ...}}}
    graphs: {qa: qa_cascade.yaml}          # graph:<name> runs this file (relative to this one)
    serve:
      aliases: {auto: router-pick-0.1, cheap-first: router-escalate}
      fallbacks: {big: [small]}
      replay: [routellm-mmlu, routellm-gsm8k]
      keys:                                # none: no authentication (loopback only unless open: true)
        - {name: team-a, sha256: "<graphroute keys new>", models: ["auto", "router-*"], budget: 5.0,
           rate_limit: "600/minute"}
        - {name: ci, key_env: GRAPHROUTE_CI_KEY}
      budget: 100.0                        # dollars across every key
      max_body_bytes: 1048576
      experiments: {clf-vs-knn: {arms: {control: {target: router-pick}, knn: {target: router-knn}}}}
                                           # see graphroute.experiments.design

Examples:
    >>> import pathlib
    >>> from graphroute.serve import load_serve_config
    >>> cfg = load_serve_config(pathlib.Path("graphs/serve.yaml"))
    >>> sorted(cfg.serve.aliases), sorted(cfg.graphs)
    (['auto', 'cheap-first'], ['qa_cascade'])
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from graphroute.errors import ConfigError
from graphroute.extras import require
from graphroute.experiments.design import ExperimentBlock
from graphroute.graphs.schema import ModelBlock, RouterBlock
from graphroute.graphs.validate import check_routers
from graphroute.serve.targets import parse_router_name
from graphroute.yamlconf import load_checked


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def hash_key(key: str) -> str:
    """The stored form of an API key: its SHA-256 hex digest (keys are random 256-bit tokens, so a
    fast unsalted digest is as safe as a slow one and costs microseconds per request).

    Examples:
        >>> hash_key("gr-test")[:16]
        '527e467ae34b2c42'
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyBlock(_Strict):
    """One API key: stored as its ``sha256`` digest, or read from ``key_env`` at start and hashed."""

    name: str
    sha256: str | None = Field(None, description="hex SHA-256 of the key (graphroute keys new prints it)")
    key_env: str | None = Field(None, description="environment variable holding the key (never the key)")
    models: list[str] = Field(default_factory=lambda: ["*"], description="virtual models it may use (fnmatch patterns)")
    budget: float | None = Field(None, ge=0, description="dollars this key may spend")
    rate_limit: str | None = Field(None, description="requests per window, e.g. '600/minute' or '10/second' (chat, "
                                                     "route and feedback calls all count)")
    admin: bool = Field(False, description="may send feedback on any key's requests (a grading pipeline)")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9a-f]{64}", v):
            raise ValueError("sha256 must be 64 lowercase hex digits (graphroute keys new prints it)")
        return v

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                require("limits", "serve keys' rate limits").parse_many(v)
            except ValueError:
                raise ValueError(f"rate_limit {v!r} is not like '600/minute' or '10/second'") from None
        return v

    def digest(self, path: Any = None, index: int = 0) -> str:
        if (self.sha256 is None) == (self.key_env is None):
            raise ConfigError("a key needs exactly one of sha256 or key_env", path=path, field=f"serve.keys[{index}]")
        if self.sha256 is not None:
            return self.sha256
        value = os.environ.get(str(self.key_env))
        if not value:
            raise ConfigError(f"environment variable {self.key_env} (key_env) is not set", path=path,
                              field=f"serve.keys[{index}].key_env")
        return hash_key(value)


class BreakerBlock(_Strict):
    failures: int = Field(3, ge=1)
    window_s: float = Field(30.0, gt=0)
    cooldown_s: float = Field(10.0, gt=0)


class BatchBlock(_Strict):
    """How a learned router's concurrent decisions are batched (``graphroute.routers.batched_decisions``)."""

    max_batch: int = Field(64, ge=1, description="the most prompts one encoder forward takes")
    max_wait_ms: float = Field(0.0, ge=0, le=50, description="under load, how long a batch waits for more "
                                                             "prompts (a lone request never waits)")


class OtelBlock(_Strict):
    """OpenTelemetry traces of served requests (the ``otel`` extra; ``graphroute.tracing``)."""

    endpoint: str | None = Field(None, description="OTLP/HTTP traces URL (default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "
                                                   "OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318/v1/traces)")
    service_name: str | None = Field(None, description="service.name (default: OTEL_SERVICE_NAME or graphroute)")
    headers_env: str | None = Field(None, description="environment variable holding the export headers "
                                                      "(k1=v1,k2=v2: a LangSmith or Langfuse key); never logged")
    record_prompts: bool = Field(False, description="put each routed prompt, redacted, on its decision span")


class ServeBlock(_Strict):
    """What the server exposes and enforces."""

    aliases: dict[str, str] = Field(default_factory=dict, description="virtual model name -> what it serves")
    fallbacks: dict[str, list[str]] = Field(default_factory=dict, description="model id -> alternatives, in order")
    replay: list[str] = Field(default_factory=list, description="datasets that models without base_url replay")
    replay_latency_ms: float = Field(0.0, ge=0)
    keys: list[KeyBlock] | None = None
    keys_file: str | None = Field(None, description="a YAML list of keys (relative to this file)")
    open: bool = Field(False, description="serve without keys on a non-loopback address")
    budget: float | None = Field(None, ge=0, description="dollars across every key")
    max_body_bytes: int = Field(1_048_576, gt=0)
    max_prompt_tokens: int | None = Field(None, gt=0, description="refuse requests billed more prompt tokens (every "
                                                                  "message, tool and schema; default: the model's window)")
    token_margin: float = Field(1.1, ge=1.0, description="budgets reserve the counted prompt tokens times this (a "
                                                         "provider's tokenizer may count more than graphroute's)")
    feedback_metrics: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"feedback": (0.0, 1.0), "judge": (0.0, 1.0)},
        description="metrics /v1/feedback accepts and the [low, high] range of each one's scores")
    open_docs: bool | None = Field(None, description="serve /docs and /openapi.json without a key (default: only "
                                                     "when no keys are configured)")
    retries: int = Field(2, ge=0)
    timeout_s: float = Field(60.0, gt=0)
    breaker: BreakerBlock = Field(default_factory=BreakerBlock)
    batch: BatchBlock = Field(default_factory=BatchBlock)
    query_encoder: Literal["auto", "fitted", "onnx-int8", "torch-bf16"] = Field(
        "auto", description="what learned routers embed requests with: auto (PyTorch bf16 on a CPU with bf16 units, "
                            "else the fitted encoder), fitted, onnx-int8 or torch-bf16 (graphroute.encoders.query)")
    telemetry: str | None = Field(None, description="JSONL file (relative to this file) or postgresql:// URL for "
                                                    "decisions and feedback")
    state: str | None = Field(None, description="where breakers, budgets, rate limits, bandit statistics and feedback "
                                                "records live: memory:// (this process, the default) or "
                                                "redis://host:port/db (shared by every worker)")
    state_policy: Literal["fail_closed", "fail_open"] = Field(
        "fail_closed", description="when Redis is unreachable: refuse budgeted calls, or spend under local limits")
    feedback_ttl_s: float = Field(3600.0, gt=0, description="how long an answered request awaits /v1/feedback")
    state_prefix: str = Field("gr", pattern=r"^[A-Za-z0-9_.-]+$", description="prefix of every Redis key")
    max_connections: int = Field(512, gt=0, description="connections to each upstream")
    otel: OtelBlock | None = Field(None, description="send OpenTelemetry traces (a span per request, decision and "
                                                     "upstream try) to an OTLP/HTTP endpoint")
    ui: bool = Field(True, description="serve the dashboard page at /ui (admin keys only when keys are configured)")
    experiments: dict[str, ExperimentBlock] = Field(default_factory=dict, description="name (the model clients ask "
                                                    "for) -> arms, split, shadows, metrics")


class ServeFile(_Strict):
    """A whole ``graphroute serve`` configuration."""

    name: str = "serve"
    description: str = ""
    models: dict[str, ModelBlock]
    routers: dict[str, RouterBlock] = Field(default_factory=dict)
    graphs: dict[str, str] = Field(default_factory=dict, description="name -> graph YAML file (relative to this file)")
    serve: ServeBlock = Field(default_factory=ServeBlock)
    base: Path = Field(Path("."), exclude=True, description="the folder the file is in (set when loaded)")


def _check(cfg: ServeFile) -> list[tuple[tuple, str]]:
    issues = check_routers(cfg.models, cfg.routers, cfg.base)
    s = cfg.serve
    for name, path in cfg.graphs.items():
        if not (cfg.base / path).is_file():
            issues.append((("graphs", name), f"graph file {path!r} not found"))
    for model, alts in s.fallbacks.items():
        for m in [model, *alts]:
            if m not in cfg.models:
                issues.append((("serve", "fallbacks", model), f"unknown model {m!r}; models: {', '.join(cfg.models)}"))
    for name, target in s.aliases.items():
        if name in cfg.models or name.startswith(("graph:", "router-")):
            issues.append((("serve", "aliases", name), f"alias {name!r} hides a model or a virtual model name"))
        if target in s.aliases:
            issues.append((("serve", "aliases", name), f"alias {name!r} names another alias ({target!r})"))
    for mid, mb in cfg.models.items():
        if mb.base_url is None and mb.replay is None:
            issues.append((("models", mid), "graphroute serve calls models over the OpenAI API: give base_url "
                                            "(e.g. https://api.openai.com/v1), or replay: <recorded model> with serve.replay"))
        if mb.base_url is None and mb.replay is not None and not s.replay:
            issues.append((("models", mid, "replay"), "replay needs serve.replay: [<dataset>, ...]"))
    if s.state is not None and not s.state.startswith(("memory://", "redis://", "rediss://", "unix://", "redis-cluster://")):
        issues.append((("serve", "state"), f"state {s.state!r} is not memory://, redis://host:port/db or "
                                           f"redis-cluster://host:port"))
    if s.telemetry is not None and s.telemetry.startswith("postgres") and not s.telemetry.startswith(
            ("postgresql://", "postgres://")):
        issues.append((("serve", "telemetry"), "a PostgreSQL telemetry URL starts with postgresql://"))
    issues += _check_experiments(cfg)
    if s.experiments and s.telemetry is None:
        issues.append((("serve", "experiments"), "experiments log every assignment: give serve.telemetry (a JSONL file "
                                                 "or a postgresql:// URL)"))
    for metric, (lo, hi) in s.feedback_metrics.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", metric):
            issues.append((("serve", "feedback_metrics", metric), "a metric name is lowercase letters, digits and _"))
        if not lo < hi:
            issues.append((("serve", "feedback_metrics", metric), f"the range [{lo:g}, {hi:g}] is empty"))
    if s.keys is not None and s.keys_file is not None:
        issues.append((("serve", "keys_file"), "give keys or keys_file, not both"))
    if s.keys_file is not None and not (cfg.base / s.keys_file).is_file():
        issues.append((("serve", "keys_file"), f"keys file {s.keys_file!r} not found"))
    return issues


def _servable(cfg: ServeFile, target: str) -> bool:
    """Is ``target`` a name the server resolves (a model, an alias, router-..., graph:...)?"""
    if target in cfg.models or target in cfg.serve.aliases:
        return True
    if target.startswith("graph:"):
        return target[len("graph:"):] in cfg.graphs
    return parse_router_name(target, list(cfg.routers)) is not None


def _check_experiments(cfg: ServeFile) -> list[tuple[tuple, str]]:
    issues: list[tuple[tuple, str]] = []
    s = cfg.serve
    for name, e in s.experiments.items():
        if name in cfg.models or name in s.aliases or name.startswith(("graph:", "router-")):
            issues.append((("serve", "experiments", name), f"experiment {name!r} hides a model, an alias or a virtual "
                                                           f"model name"))
        for group, arms in (("arms", e.arms), ("shadow", e.shadow)):
            for arm, block in arms.items():
                if not _servable(cfg, block.target):
                    issues.append((("serve", "experiments", name, group, arm, "target"),
                                   f"{block.target!r} is not a model, alias, router-<router> or graph:<graph> of this "
                                   f"file"))
    for alias, target in s.aliases.items():
        if target in s.experiments:
            issues.append((("serve", "aliases", alias), f"alias {alias!r} names experiment {target!r}; clients ask for "
                                                        f"the experiment by its name"))
    return issues


def load_serve_config(path: str | Path) -> ServeFile:
    """Parse and validate a serve configuration; every problem raises ``ConfigError`` as
    ``file:line:column: field.path: message``."""
    path = Path(path)

    def checked(cfg: ServeFile) -> list[tuple[tuple, str]]:
        cfg.base = path.parent
        return _check(cfg)

    return load_checked(path, ServeFile, checked)


def load_keys(cfg: ServeFile, path: Any = None) -> list[tuple[str, KeyBlock]] | None:
    """``(digest, key)`` for every configured key; None when no keys are configured."""
    blocks = cfg.serve.keys
    where = path
    if cfg.serve.keys_file is not None:
        where = cfg.base / cfg.serve.keys_file
        try:
            raw = yaml.safe_load(where.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read keys: {exc}", path=where) from None
        raw = raw.get("keys") if isinstance(raw, dict) else raw
        if not isinstance(raw, list):
            raise ConfigError("a keys file is a list of keys (or {keys: [...]})", path=where)
        try:
            blocks = [KeyBlock.model_validate(k) for k in raw]
        except ValidationError as exc:
            e = exc.errors()[0]
            raise ConfigError(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}", path=where) from None
    if blocks is None:
        return None
    out = [(k.digest(where, i), k) for i, k in enumerate(blocks)]
    names = [k.name for _, k in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"duplicate key names: {names}", path=where, field="serve.keys")
    return out
