"""Shared by the tests and the doctests under src/: a temporary cache, so neither ever reads or writes
the user's, the simulated worlds of benchmarks/ on the path, small real data, and the real local LLM server."""

from __future__ import annotations

import contextlib
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


ONE_STEP = """\
models:
  {weak}: {{model: "x:{weak}", input_price: 0.1, output_price: 0.1, offline_response: "{weak}"}}
  {strong}: {{model: "x:{strong}", input_price: 5, output_price: 5, offline_response: "{strong}"}}
routers:
  pick:
    type: learned
    fit: {fit}
    models: {mapping}
state: {{question: str, answer: str}}
nodes:
  answer: {{type: llm, router: pick, prompt: "{{question}}", output: answer}}
edges:
  - {{from: START, to: answer}}
  - {{from: answer, to: END}}
"""


@pytest.fixture(scope="session")
def one_step_graph():
    """A YAML graph of one routed step between two offline models: ``one_step_graph(fit=..., mapping=...)``
    (the router block's ``fit`` and ``models`` as YAML flow text)."""
    def make(*, fit: str, mapping: str, weak: str = "cheap", strong: str = "big") -> str:
        return ONE_STEP.format(weak=weak, strong=strong, fit=fit, mapping=mapping)

    return make


@pytest.fixture(scope="session")
def live_server():
    """The real local LLM (Gemma 3 270M under llama.cpp's server) on a free loopback port, for the
    session; tests using it are marked ``live``."""
    from graphroute.models.local import LocalServer

    server = LocalServer(n_threads=2).start()
    yield server
    server.stop()


# ---------------------------------------------------------------- graphroute serve over real HTTP
def start_process(cmd: list[str], url: str, *, env: dict | None = None, timeout_s: float = 240.0, log=None):
    """Start ``cmd`` and wait until ``url`` answers (any HTTP status); the process is returned."""
    import subprocess
    import time
    import urllib.error
    import urllib.request

    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=log or subprocess.DEVNULL,
                            stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd} did not answer {url} within {timeout_s} s")


def stop_process(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except Exception:
        proc.kill()


@pytest.fixture(scope="session")
def serve_cache(tmp_path_factory):
    """One router/scorer cache for every server the tests start (each fit happens once)."""
    return tmp_path_factory.mktemp("serve-cache")


@pytest.fixture(scope="session")
def replay_upstream():
    """``graphroute replay-server routellm-gsm8k``: recorded GPT-4 and Mixtral answers over real HTTP."""
    from graphroute.models.local import free_port

    port = free_port()
    proc = start_process([sys.executable, "-m", "graphroute.cli.main", "replay-server", "routellm-gsm8k", "--port", str(port)],
                         f"http://127.0.0.1:{port}/v1/models")
    yield f"http://127.0.0.1:{port}/v1"
    stop_process(proc)


@pytest.fixture(scope="session")
def fake_provider():
    """benchmarks/fake_upstream.py: stands in for a remote paid provider (failures, tools, slow streams)."""
    from graphroute.models.local import free_port

    port = free_port()
    proc = start_process([sys.executable, str(ROOT / "benchmarks" / "fake_upstream.py"), "--port", str(port),
                          "--latency-ms", "0"], f"http://127.0.0.1:{port}/stats")
    yield f"http://127.0.0.1:{port}"
    stop_process(proc)


#: API keys of the test server: name -> (key, serve.keys entry without the digest)
SERVE_KEYS = {
    "full": ("gr-test-full-0123456789", {"models": ["*"]}),
    "narrow": ("gr-test-narrow-0123456789", {"models": ["mixtral", "router-*"]}),
    "poor": ("gr-test-poor-0123456789", {"models": ["*"], "budget": 0.0001}),
    "limited": ("gr-test-limited-0123456789", {"models": ["*"], "rate_limit": "2/minute"}),
}
UPSTREAM_SECRET = "sk-upstreamsecret0123456789abcdef"


def serve_config(folder: Path, replay_url: str, fake_url: str, extra_models: dict | None = None) -> Path:
    """A serve config over the replay upstream and the fake provider (keys of SERVE_KEYS)."""
    import yaml

    from graphroute.serve import hash_key

    gsm = {"gpt4": ("gpt-4-1106-preview", 10.0, 30.0), "mixtral": ("mistralai/Mixtral-8x7B-Instruct-v0.1", 0.6, 0.6)}
    models = {k: {"model": m, "base_url": replay_url, "input_price": i, "output_price": o} for k, (m, i, o) in gsm.items()}
    for name in ("dead", "midstream", "slow", "tools", "ok"):
        models[name] = {"model": name, "base_url": f"{fake_url}/v1", "input_price": 1.0, "output_price": 2.0,
                        "api_key_env": "GR_TEST_UPSTREAM_KEY"}
    models.update(extra_models or {})
    cfg = {
        "models": models,
        "routers": {
            "pick": {"type": "classifier", "fit": {"data": "routellm-gsm8k", "router": "logistic"},
                     "models": {"gpt-4-1106-preview": "gpt4", "mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral"}},
            "bandit": {"type": "strategy", "name": "thompson", "params": {"models": ["gpt4", "mixtral"], "seed": 0}},
        },
        "graphs": {"qa": str(ROOT / "graphs" / "qa_cascade.yaml")},
        "serve": {
            "replay": ["routellm-gsm8k"],
            "aliases": {"auto": "router-pick", "cheap-first": "router-bandit"},
            "fallbacks": {"dead": ["mixtral"], "midstream": ["mixtral"], "gpt4": ["mixtral"]},
            "keys": [{"name": n, "sha256": hash_key(k), **e} for n, (k, e) in SERVE_KEYS.items()],
            "max_body_bytes": 20000,
            "breaker": {"failures": 3, "window_s": 30, "cooldown_s": 60},
            "retries": 1,
            "timeout_s": 30,
            "telemetry": "telemetry.jsonl",
        },
    }
    path = folder / "serve.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def start_serve(path: Path, cache: Path, *, log=None, env: dict | None = None):
    """``graphroute serve path`` on a free loopback port, with the tests' cache and upstream key: (process, URL)."""
    from graphroute.models.local import free_port

    port = free_port()
    proc = start_process([sys.executable, "-m", "graphroute.cli.main", "serve", str(path), "--port", str(port)],
                         f"http://127.0.0.1:{port}/health", log=log,
                         env={"GRAPHROUTE_CACHE": str(cache), "GR_TEST_UPSTREAM_KEY": UPSTREAM_SECRET, **(env or {})})
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def serve_server(tmp_path_factory, serve_cache, replay_upstream, fake_provider):
    """``graphroute serve`` (a real process on a loopback port) over the replay upstream and the fake provider."""
    folder = tmp_path_factory.mktemp("serve")
    path = serve_config(folder, replay_upstream, fake_provider)
    log = (folder / "server.log").open("w")
    proc, url = start_serve(path, serve_cache, log=log)
    yield {"url": url, "folder": folder, "log": folder / "server.log", "fake": fake_provider,
           "keys": {n: k for n, (k, _) in SERVE_KEYS.items()}, "secret": UPSTREAM_SECRET}
    stop_process(proc)
    log.close()


@contextlib.contextmanager
def new_database():
    """A fresh PostgreSQL database on 127.0.0.1:5432 (its URL), dropped after."""
    import uuid

    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"gr_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def databases():
    """``new_database()``: a context manager making a fresh PostgreSQL database (for wider scopes)."""
    return new_database


@pytest.fixture
def postgres_db():
    """A database of its own for one test."""
    with new_database() as url:
        yield url


@pytest.fixture(scope="session")
def processes():
    """The helpers that start a server process and wait for it (``start``), and stop it (``stop``)."""
    from types import SimpleNamespace

    return SimpleNamespace(start=start_process, stop=stop_process)


# ---------------------------------------------------------------- every strategy, configured
def strategy_params(data, learned):
    """Parameters for every registered strategy kind (the test fails when a new kind has none)."""
    models = [data.weak, data.strong]
    rules = [{"model": data.strong, "regex": r"prove|\d{4,}"}]
    return {
        "rules": {"rules": rules, "default": data.weak},
        "hybrid": {"rules": rules, "default": data.weak, "learned": learned},
        "round_robin": {"models": models},
        "weighted_random": {"weights": {m: 1 for m in models}, "seed": 0},
        "consistent_hash": {"models": models},
        "profile": {"profiles": {models[0]: {"speed": 1.0}, models[1]: {"accuracy": 1.0}}},
        "runtime": {"quality": {models[0]: 0.6, models[1]: 0.9}},
        "least_busy": {"models": models},
        "thompson": {"models": models, "cluster_of": lambda p, c: str(len(p) % 3), "seed": 0},
        "privacy": {"inner": {"name": "round_robin", "models": models}, "tags": {models[0]: ["local"]}},
    }
