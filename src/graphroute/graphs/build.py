"""Building what a graph file names: chat models (live, or offline replay/fake), routers (loaded,
or fitted and cached), cascades, allocators and retrieval corpora.

Routers and learned scorers fitted from a ``fit`` block are cached under
``$GRAPHROUTE_CACHE/graphs/`` keyed by the block and the data, so compiling again is fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from langchain_core.language_models import FakeListChatModel

from graphroute import __version__
from graphroute.allocator import Allocator, Catalogue
from graphroute.cascade import Cascade, Stage
from graphroute.costs import CostModel, Price
from graphroute.datasets import BUILTINS, RoutingDataset, load_dataset
from graphroute.encoders import encode_queries, resolve_encoder
from graphroute.errors import ConfigError
from graphroute.graphs.schema import AllocatorBlock, CascadeBlock, LearnedBlock, GraphSpec, RulesBlock, StrategyBlock
from graphroute.index import VectorIndex
from graphroute.models import ReplayChatModel, chat_model
from graphroute.persist import META
from graphroute.routers import Router, fit_router
from graphroute.routers.fitting import HOLDOUT
from graphroute.scorers import SCORERS, LearnedScorer, make_scorer
from graphroute.strategies import RulesRouter, make_strategy
from graphroute.types import Calibration

log = logging.getLogger("graphroute.build")


@dataclass
class Corpus:
    """A small retrieval corpus: texts and their FAISS index."""

    texts: list[str]
    index: Any
    encoder: Any

    def search(self, query: str, k: int) -> list[str]:
        v = np.asarray(encode_queries(self.encoder, [query]), dtype=np.float32)
        _, ids = self.index.search(v, k)
        return [self.texts[int(i)] for i in ids[0] if i >= 0]


@dataclass
class Runtime:
    """Everything a compiled graph calls."""

    spec: GraphSpec
    base: Path
    models: dict[str, Any]
    costs: CostModel
    routers: dict[str, Any] = field(default_factory=dict)
    maps: dict[str, dict[str, str]] = field(default_factory=dict)  # router's model name -> graph model id
    corpora: dict[str, Corpus] = field(default_factory=dict)


def graph_costs(spec: GraphSpec) -> CostModel:
    return CostModel({k: Price(m.input_price, m.output_price) for k, m in spec.models.items()}, source="graph models")


def make_models(spec: GraphSpec, *, offline: bool, data: RoutingDataset | None = None) -> dict[str, Any]:
    """Graph model id -> chat model. Offline: a replay of ``replay`` from ``data`` when both exist,
    else a fake model answering ``offline_response``. Live: ``chat_model``
    (``base_url`` endpoints through ``ChatOpenAI``, else LangChain's ``init_chat_model``)."""
    out: dict[str, Any] = {}
    for mid, m in spec.models.items():
        if offline:
            if data is not None and m.replay is not None and m.replay in data.models:
                out[mid] = ReplayChatModel(data=data, model_name=m.replay, default=m.offline_response)
            else:
                out[mid] = FakeListChatModel(responses=[m.offline_response or f"[{mid}] offline answer"])
            continue
        out[mid] = chat_model(m.model, base_url=m.base_url, api_key_env=m.api_key_env, max_tokens=m.max_output_tokens,
                              temperature=m.temperature, field=f"models.{mid}")
    return out


ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def _cache_dir(kind: str, payload: dict[str, Any]) -> Path:
    root = os.environ.get("GRAPHROUTE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "graphroute")
    key = hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(root) / "graphs" / f"{kind}-{key}"


def shipped_artifact(name: str) -> Path:
    """Where the package keeps what a block fits ahead of time (a router, a learned scorer, a
    calibration), under its cache entry's name: ``graphs/serve.yaml``'s routers, built by
    ``scripts/build_artifacts.py`` from the built-in records, so a fresh install serves without
    fitting. Read after the cache, never written."""
    return ARTIFACTS / name


def _data_key(data: RoutingDataset) -> str:
    return hashlib.sha1("\n".join(data.prompts).encode()).hexdigest()[:16] + f"-{len(data)}-{','.join(data.models)}"


def _source_key(name: str | list[str], base: Path) -> str:
    """A cache key for a dataset named in a file, without loading it (built-ins are fixed; files by
    size and modification time)."""
    if isinstance(name, list):
        return "+".join(_source_key(n, base) for n in name)
    if name in BUILTINS:
        return f"builtin:{name}:{__version__}"
    p = base / name
    try:
        st = p.stat()
    except OSError:
        return f"missing:{p}"
    return f"file:{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def load_data(name: str | list[str], base: Path, roles: bool = False) -> RoutingDataset:
    """A dataset named in a file (a built-in name or a path relative to it); a list of them is
    concatenated (they must record the same models, or be seen as their ``roles``)."""
    if isinstance(name, list):
        return RoutingDataset.concat([load_data(n, base, roles) for n in name])
    data = load_dataset(name if name in BUILTINS else str(base / name))
    return data.roles() if roles else data


def _classifier(block: LearnedBlock, base: Path, data: RoutingDataset | None):
    if block.path:
        return Router.load(base / block.path)
    assert block.fit is not None
    folder = _cache_dir("router", {"block": block.model_dump(), "calibration_holdout": HOLDOUT,
                                   "data": _data_key(data) if data is not None else _source_key(block.fit.data, base)})
    for saved in (folder, shipped_artifact(folder.name)):
        if (saved / META).is_file():
            try:
                return Router.load(saved)
            except Exception:  # a stale or corrupt cache entry is refitted
                pass
    data = data if data is not None else load_data(block.fit.data, base, block.fit.roles)
    log.info("fitting router %r on %d prompts (once: later starts load it from %s)", block.fit.router, len(data), folder)
    t0 = time.perf_counter()
    router = fit_router(block.fit.router, data, calibrate=block.fit.calibrate, holdout=HOLDOUT)
    router.save(folder)
    log.info("fitted %r in %.0f s", block.fit.router, time.perf_counter() - t0)
    return router


def replay_view(spec: GraphSpec, data: RoutingDataset) -> RoutingDataset:
    """``data`` with its recorded models renamed to the graph's model ids (via ``replay``)."""
    mapping = {m.replay: mid for mid, m in spec.models.items() if m.replay in data.models}
    return data.select_models(list(mapping)).rename_models(mapping)


def _cascade(name: str, block: CascadeBlock, spec: GraphSpec, base: Path, models: dict[str, Any], costs: CostModel,
             data: RoutingDataset | None):
    fit_data = data
    if fit_data is None and block.fit and block.fit.get("data"):
        fit_data = load_data(str(block.fit["data"]), base)
    view = replay_view(spec, fit_data) if fit_data is not None else None
    stages: list[Stage] = []
    for i, st in enumerate(block.stages):
        cfg = st.get("scorer")
        cfg = SCORERS.canonical(cfg) if isinstance(cfg, dict) else cfg
        scorer: Any = None
        if isinstance(cfg, dict) and cfg["name"] == "learned" and "path" not in cfg:
            if view is None or st["model"] not in view.models:
                raise ConfigError(f"stage {i}: a learned scorer without 'path' needs fit: {{data: ...}} whose rows record "
                                  f"{st['model']!r} (set its 'replay')", field=f"routers.{name}.stages[{i}].scorer")
            params = {k: v for k, v in cfg.items() if k != "name"}
            fit_rows = view.subset(np.arange(len(view))[: max(1, int(0.7 * len(view)))]) if block.calibrate else view
            folder = _cache_dir("scorer", {"cfg": cfg, "model": st["model"], "data": _data_key(fit_rows), "v": 2})
            try:
                scorer = LearnedScorer.load(folder if (folder / META).is_file() else shipped_artifact(folder.name))
            except Exception:
                nxt = block.stages[i + 1]["model"] if i + 1 < len(block.stages) else None
                y_next = fit_rows.scores[:, fit_rows.index(nxt)] if nxt in fit_rows.models else None
                scorer = LearnedScorer(**params).fit(fit_rows.prompts, (fit_rows.responses or {})[st["model"]],
                                                     fit_rows.scores[:, fit_rows.index(st["model"])], y_next=y_next)
                scorer.save(folder)
        elif cfg is not None:
            scorer = make_scorer(cfg, models=models, base=base)
        stages.append(Stage(models[st["model"]], name=st["model"], scorer=scorer, threshold=float(st.get("threshold", 0.5)),
                            options=st.get("options")))
    cascade = Cascade(stages, cost_model=costs, max_cost=block.max_cost)
    if block.calibrate:
        if view is None:
            raise ConfigError("calibrate needs fit: {data: ...}", field=f"routers.{name}.calibrate")
        held = view.subset(np.arange(len(view))[int(0.7 * len(view)):]) if len(view) > 1 else view
        cached = _cache_dir("calibration", {"block": block.model_dump(), "data": _data_key(view)}).with_suffix(".json")
        try:
            saved = Calibration.from_dict(json.loads((cached if cached.is_file() else shipped_artifact(cached.name))
                                                     .read_text()))
            cascade.set_thresholds(saved.thresholds)
            cascade.calibration = saved
        except (OSError, ValueError, KeyError, TypeError):
            cal = cascade.calibrate(held.select_models([s.name or "" for s in stages]), **cast(Any, block.calibrate))
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cal.to_dict(), default=float))
            os.replace(tmp, cached)
    return cascade


def _allocator(block: AllocatorBlock, base: Path):
    alloc = Allocator(Catalogue.from_yaml(base / block.catalogue), lam=block.lam)
    if block.runs:
        alloc.fit(base / block.runs)
    return alloc


def _corpus(path: Path) -> Corpus:
    texts = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                texts.append(str(json.loads(line)["text"]))
            except (ValueError, KeyError, TypeError):
                raise ConfigError(f"line {n}: expected a JSON object with 'text'", path=path) from None
    if not texts:
        raise ConfigError("corpus is empty", path=path)
    enc = resolve_encoder(None)
    V = np.asarray(enc.encode(texts), dtype=np.float32)
    index = VectorIndex(V.shape[1])
    index.add(V)
    return Corpus(texts, index, enc)


def build_runtime(spec: GraphSpec, base: Path, *, offline: bool = False, data: RoutingDataset | None = None,
                  fit_data: RoutingDataset | None = None, models: dict[str, Any] | None = None) -> Runtime:
    """Create every model, router and corpus of ``spec``. ``data``: recorded outcomes for offline replay;
    ``fit_data``: fit routers/scorers on it instead of their blocks' data (evaluation folds); ``models``:
    chat models already made (graph model id -> model), instead of making them from the spec."""
    models = make_models(spec, offline=offline, data=data) if models is None else models
    rt = Runtime(spec, base, models, graph_costs(spec))
    for name, block in spec.routers.items():
        if isinstance(block, LearnedBlock):
            fd = None
            if fit_data is not None:
                back = {v: k for k, v in block.models.items()}  # graph id -> router's model name
                view = replay_view(spec, fit_data)
                fd = view.rename_models({mid: back.get(mid, mid) for mid in view.models})
            rt.routers[name] = _classifier(block, base, fd)
            rt.maps[name] = dict(block.models)
        elif isinstance(block, CascadeBlock):
            rt.routers[name] = _cascade(name, block, spec, base, models, rt.costs, fit_data)
        elif isinstance(block, AllocatorBlock):
            rt.routers[name] = _allocator(block, base)
            rt.maps[name] = dict(block.models)
        elif isinstance(block, RulesBlock):
            rt.routers[name] = RulesRouter([r.model_dump(exclude_none=True) for r in block.rules], block.default)
        elif isinstance(block, StrategyBlock) and block.name != "hybrid":
            rt.routers[name] = make_strategy({"name": block.name, **block.params})
    for name, block in spec.routers.items():  # hybrids refer to routers built above
        if isinstance(block, StrategyBlock) and block.name == "hybrid":
            rt.routers[name] = make_strategy({"name": block.name, **block.params}, rt.routers)
            learned = str(block.params.get("learned"))
            rt.maps[name] = dict(rt.maps.get(learned, {}))
    for node in spec.nodes.values():
        corpus = getattr(node, "corpus", None)
        if corpus and corpus not in rt.corpora:
            rt.corpora[corpus] = _corpus(base / corpus)
    return rt
