"""The core works without the optional extras, and each extra's feature without it raises a typed
error naming the pip command. The extras' modules are hidden from a fresh interpreter (``None`` in
``sys.modules``), as in an environment where they were never installed."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = ["fastapi", "starlette", "uvicorn", "aiohttp", "prometheus_client", "limits", "statsmodels", "redis", "psycopg",
          "psycopg_pool", "langgraph.checkpoint.postgres", "matplotlib"]

PROBE = """
import json, sys
for m in HIDDEN:
    sys.modules[m] = None
out = {}
def hint(name, call):
    try:
        call()
        out[name] = None
    except Exception as exc:
        out[name] = [type(exc).__name__, str(exc)]
import graphroute
from graphroute.serve import load_serve_config
cfg = load_serve_config("graphs/serve.yaml")  # reading a serve file needs no extra
import graphroute.serve as serving
from graphroute.state import open_state
from graphroute.storage import connect_pool
from graphroute.experiments.stats import holm
from graphroute.extras import pyplot
hint("serve", lambda: serving.create_app)
hint("redis", lambda: open_state("redis://127.0.0.1:6379/0"))
hint("memory", lambda: open_state(None))
hint("postgres", lambda: connect_pool("postgresql://127.0.0.1/test"))
hint("stats", lambda: holm([0.01, 0.2]))
hint("plots", pyplot)
print(json.dumps(out))
"""


def test_each_extra_is_named_when_its_feature_is_used_without_it():
    run = subprocess.run([sys.executable, "-c", f"HIDDEN = {HIDDEN!r}\n" + PROBE], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out.pop("memory") is None
    for feature, extra in {"serve": "serve", "redis": "redis", "postgres": "postgres", "stats": "serve",
                           "plots": "plots"}.items():
        kind, message = out[feature]
        assert kind == "MissingExtraError" and f"pip install 'graphroute[{extra}]'" in message, (feature, message)


def test_the_command_line_evaluates_and_refuses_to_serve_without_the_extras(tmp_path):
    cli = f"import sys\nfor m in {HIDDEN!r}: sys.modules[m] = None\nfrom graphroute.cli.main import main\nmain()"
    ev = subprocess.run([sys.executable, "-c", cli, "eval", "--data", "routellm-gsm8k", "--router", "random,oracle",
                         "--json", str(tmp_path / "e.json"), "--plot", str(tmp_path / "p.png")],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ev.returncode == 0, ev.stderr
    assert json.loads((tmp_path / "e.json").read_text()) and not (tmp_path / "p.png").exists()
    assert "no plot" in ev.stdout and "graphroute[plots]" in ev.stdout
    serve = subprocess.run([sys.executable, "-c", cli, "serve", "graphs/serve.yaml"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert serve.returncode != 0 and "pip install 'graphroute[serve]'" in serve.stdout + serve.stderr


def test_the_core_dependencies_hold_none_of_the_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    for package in ("fastapi", "uvicorn", "aiohttp", "prometheus", "limits", "statsmodels", "redis", "psycopg", "matplotlib"):
        assert package not in core, package
    extras = project["optional-dependencies"]
    assert {"serve", "redis", "postgres", "plots", "all", "test"} <= set(extras) and "graphroute[all]" in extras["test"]
