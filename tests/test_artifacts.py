"""The routers graphs/serve.yaml serves ship fitted (src/graphroute/artifacts, built by
scripts/build_artifacts.py): a fresh install loads them instead of fitting, and they are what
fitting the same blocks on the same built-in records gives."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT
from graphroute.datasets import load_dataset
from graphroute.graphs.build import ARTIFACTS, HOLDOUT, load_data
from graphroute.graphs.schema import LearnedBlock
from graphroute.routers import fit_router
from graphroute.serve.compose import config_routers
from graphroute.serve.settings import load_serve_config

SERVE = "graphs/serve.yaml"


def _serve_file(root):
    return load_serve_config(root / SERVE)


def test_a_fresh_install_loads_the_shipped_routers_and_fits_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHROUTE_CACHE", str(tmp_path / "empty-cache"))
    routers, _ = config_routers(_serve_file(ROOT))
    assert {"classifier", "cascade"} <= set(routers)
    # nothing was fitted, so nothing was written: every router, scorer and calibration came from the package
    assert not (tmp_path / "empty-cache" / "graphs").exists() or not any((tmp_path / "empty-cache" / "graphs").iterdir())
    assert any(p.name.startswith("router-") for p in ARTIFACTS.iterdir())


@pytest.mark.slow
def test_the_shipped_auto_router_is_what_refitting_its_block_gives(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHROUTE_CACHE", str(tmp_path / "empty-cache"))
    cfg = _serve_file(ROOT)
    shipped, _ = config_routers(cfg)
    block = cfg.routers["classifier"]
    assert isinstance(block, LearnedBlock) and block.fit is not None
    refit = fit_router(block.fit.router, load_data(block.fit.data, cfg.base, block.fit.roles),
                       calibrate=block.fit.calibrate, holdout=HOLDOUT)
    prompts = [p for name in ("routellm-mmlu", "routellm-gsm8k", "llmrouter-9-test")
               for p in load_dataset(name).prompts[-150:]]
    prompts += ["Tell me a joke about cats.", "Write a haiku about autumn.", "def fib(n): fix this function"]
    a, b = shipped["classifier"].decide(prompts), refit.decide(prompts)
    assert [d.model for d in a] == [d.model for d in b]
    assert np.allclose([d.scores[m] for d in a for m in d.scores], [d.scores[m] for d in b for m in d.scores], atol=1e-6)
