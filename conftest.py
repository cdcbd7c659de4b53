"""Shared by the tests and the doctests under src/: a temporary cache, so neither ever reads or writes
the user's, the simulated worlds of benchmarks/ on the path, small real data, and the real local LLM server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # allocator_world.py: the allocator's simulated world
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    # one ONNX export per test session, never the user's folder
    os.environ["GRAPHROUTE_MODEL_CACHE"] = str(tmp_path_factory.mktemp("models"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHROUTE_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def gsm8k():
    from graphroute.datasets import load_dataset

    return load_dataset("routellm-gsm8k")


@pytest.fixture(scope="session")
def mmlu():
    from graphroute.datasets import load_dataset

    return load_dataset("routellm-mmlu")


@pytest.fixture(scope="session")
def live_server():
    """The real local LLM (Gemma 3 270M under llama.cpp's server) on a free loopback port, for the
    session; tests using it are marked ``live``."""
    from graphroute.models.local import LocalServer

    server = LocalServer(n_threads=2).start()
    yield server
    server.stop()
