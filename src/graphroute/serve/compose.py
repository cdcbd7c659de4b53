"""The routers and models a serve file defines, built without the server: ``graphroute serve``
builds them at start, and ``graphroute experiment ope`` and the benchmarks build them offline
(no ``serve`` extra needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphroute.datasets import RoutingDataset, load_dataset
from graphroute.errors import ConfigError, GraphRouteError
from graphroute.graphs.build import build_runtime
from graphroute.graphs.schema import Budget, GraphSpec, ModelBlock
from graphroute.models import ReplayChatModel, chat_model
from graphroute.serve.settings import ServeFile


def replay_data(names: list[str], base: Path) -> RoutingDataset | None:
    """The recorded outcomes ``serve.replay`` names (built-in names or paths beside the config), concatenated."""
    if not names:
        return None
    try:
        parts = [load_dataset(n if "/" not in n and not n.endswith((".csv", ".jsonl")) else str(base / n)) for n in names]
        return parts[0] if len(parts) == 1 else RoutingDataset.concat(parts)
    except GraphRouteError as exc:
        raise ConfigError(str(exc), field="serve.replay") from None


def chat_models(blocks: dict[str, ModelBlock], data: RoutingDataset | None) -> dict[str, Any]:
    """LangChain chat models for cascades and graphs: live at ``base_url``, else a replay of
    ``replay`` when the data records it, else LangChain's provider."""
    out: dict[str, Any] = {}
    for mid, m in blocks.items():
        if m.base_url is None and m.replay is not None and data is not None and m.replay in data.models:
            out[mid] = ReplayChatModel(data=data, model_name=m.replay,
                                       default=m.offline_response or f"(no recorded answer of {m.replay} for this prompt)")
        else:
            out[mid] = chat_model(m.model, base_url=m.base_url, api_key_env=m.api_key_env, max_tokens=m.max_output_tokens,
                                  temperature=m.temperature, field=f"models.{mid}")
    return out


def config_runtime(cfg: ServeFile, data: RoutingDataset | None, calls: bool = True) -> tuple[GraphSpec, Any]:
    """The routers of a serve file built as a graph's runtime (fitted, or loaded from the cache)."""
    spec = GraphSpec.model_construct(name=cfg.name, description="", models=cfg.models, routers=cfg.routers, state={},
                                     nodes={}, edges=[], budget=Budget(), input=None, output=None)
    return spec, build_runtime(spec, cfg.base, models=chat_models(cfg.models, data) if cfg.routers and calls else {})


def config_routers(cfg: ServeFile) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The routers of a serve config, fitted (or loaded from the cache), and each one's mapping of
    its model names to the config's model ids. Models are called only when a cascade needs them, so
    evaluating a router offline needs no upstream key."""
    cascades = any(getattr(r, "type", None) == "cascade" for r in cfg.routers.values())
    rt = config_runtime(cfg, replay_data(cfg.serve.replay, cfg.base), calls=cascades)[1]
    return rt.routers, rt.maps
