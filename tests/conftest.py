"""Shared fixtures: small real data, a temporary cache so tests never touch the user's."""

from __future__ import annotations

import os

import pytest

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
