"""Every finding of the hardening review, reproduced as an attacker or a clumsy client would: saved
folders that try to run code, requests that try to spend more than their budget, feedback from
the wrong key, secrets in upstream errors, bodies that used to get a 500, files that used to be
imported to be checked. Each test failed before its fix (the commit that closed it is in the
hardening note) and passes after; markers written by payloads prove that nothing ran."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from graphroute.errors import PersistenceError

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- saved folders never run code
def _skops_payload(path: Path, module: str, name: str, args: list) -> None:
    """A ``.skops`` file whose root is a reduce node calling ``module.name(*args)`` on load."""
    def json_node(v):
        return {"__class__": type(v).__name__, "__module__": "builtins", "__loader__": "JsonNode",
                "content": json.dumps(v), "is_json": True, "__id__": id(v)}

    def arg(v):
        if isinstance(v, dict):
            return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
                    "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": [],
                                  "__id__": 2}, "__id__": 3}
        return json_node(v)

    schema = {"__class__": name, "__module__": module, "__loader__": "LossNode",
              "__reduce__": {"args": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                                      "content": [arg(a) for a in args], "__id__": 4}},
              "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
                          "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode",
                                        "content": [], "__id__": 5}, "__id__": 6},
              "__id__": 1, "protocol": 2, "_skops_version": "0.16.0"}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", json.dumps(schema))


@pytest.fixture(scope="module")
def mlp_folder(tmp_path_factory, gsm8k):
    """A real saved router with a ``.skops`` member (the MLP head), fitted on 80 prompts."""
    from graphroute.routers import make_router

    folder = tmp_path_factory.mktemp("mlp") / "router"
    make_router("mlp:max_iter=30").fit(gsm8k.subset(np.arange(80))).save(folder)
    assert (folder / "mlp.skops").is_file()
    return folder


def _tampered(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _marker_code(marker: Path) -> str:
    return f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"


@pytest.mark.parametrize("module,name,extra", [("builtins", "exec", []),
                                               ("numpy.testing._private.utils", "runstring", [{}])])
def test_a_skops_payload_is_refused_before_it_runs(mlp_folder, tmp_path, module, name, extra):
    from graphroute.routers import Router

    folder = _tampered(mlp_folder, tmp_path / "router")
    marker = tmp_path / "ran.txt"
    _skops_payload(folder / "mlp.skops", module, name, [_marker_code(marker), *extra])
    with pytest.raises(PersistenceError, match=rf"mlp\.skops names types graphroute never writes: {module}\.{name}"):
        Router.load(folder)
    assert not marker.exists()
    # graphroute route DIR: a one-line typed error, exit 2, nothing ran
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "route", str(folder), "What is 2 + 2?"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and f"{module}.{name}" in out.stderr and "Traceback" not in out.stderr
    assert not marker.exists()


def test_graphroute_serve_refuses_a_tampered_router_at_start(mlp_folder, tmp_path):
    import yaml

    folder = _tampered(mlp_folder, tmp_path / "router")
    marker = tmp_path / "ran.txt"
    _skops_payload(folder / "mlp.skops", "builtins", "exec", [_marker_code(marker)])
    price = {"input_price": 1.0, "output_price": 1.0}
    cfg = {"models": {"a": {"model": "gpt-4-1106-preview", "replay": "gpt-4-1106-preview", **price},
                      "b": {"model": "mixtral", "replay": "mistralai/Mixtral-8x7B-Instruct-v0.1", **price}},
           "routers": {"pick": {"type": "classifier", "path": "router",
                                "models": {"gpt-4-1106-preview": "a", "mistralai/Mixtral-8x7B-Instruct-v0.1": "b"}}},
           "serve": {"replay": ["routellm-gsm8k"]}}
    (tmp_path / "serve.yaml").write_text(yaml.safe_dump(cfg))
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "serve", str(tmp_path / "serve.yaml"), "--port", "9"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "builtins.exec" in out.stderr
    assert not marker.exists()


def test_a_pickle_in_place_of_arrays_or_an_estimator_is_refused(mlp_folder, tmp_path):
    import pickle

    from graphroute.routers import Router

    marker = tmp_path / "ran.txt"

    class Payload:
        def __reduce__(self):
            return (exec, (_marker_code(marker),))

    blob = pickle.dumps(Payload())
    folder = _tampered(mlp_folder, tmp_path / "a")
    (folder / "mlp.skops").write_bytes(blob)
    with pytest.raises(PersistenceError, match="mlp.skops is corrupt: not a skops file"):
        Router.load(folder)
    folder = _tampered(mlp_folder, tmp_path / "b")
    np.savez(folder / "arrays.npz", range=np.array([Payload()], dtype=object))
    with pytest.raises(PersistenceError, match="arrays.npz is missing or corrupt"):
        Router.load(folder)
    assert not marker.exists()


def test_a_class_path_to_any_module_is_refused_without_importing_it(mlp_folder, tmp_path, monkeypatch):
    from graphroute.routers import Router

    marker = tmp_path / "ran.txt"
    (tmp_path / "evilmod.py").write_text(_marker_code(marker) + "\nclass Router: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = _tampered(mlp_folder, tmp_path / "router")
    meta = json.loads((folder / "graphroute.json").read_text())
    for name in ("evilmod.Router", "os.system", "subprocess.Popen"):
        (folder / "graphroute.json").write_text(json.dumps({**meta, "class": name}))
        with pytest.raises(PersistenceError, match=f"class '{name}' is not a router class this process defines"):
            Router.load(folder)
    assert not marker.exists() and "evilmod" not in sys.modules


def test_a_saved_scorer_naming_a_parser_module_is_refused(tmp_path, monkeypatch):
    from langchain_core.language_models import FakeListChatModel

    from graphroute.cascade import Cascade, Stage
    from graphroute.scorers import FormatScorer

    marker = tmp_path / "ran.txt"
    (tmp_path / "evilparse.py").write_text(_marker_code(marker) + "\ndef parse(text): return text\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    models = {"a": FakeListChatModel(responses=["1"]), "b": FakeListChatModel(responses=["2"])}
    folder = Cascade([Stage(models["a"], name="a", scorer=FormatScorer(kind="integer")),
                      Stage(models["b"], name="b")]).save(tmp_path / "cascade")
    meta = json.loads((folder / "graphroute.json").read_text())
    meta["config"]["stages"][0]["scorer"]["parser"] = "evilparse:parse"
    (folder / "graphroute.json").write_text(json.dumps(meta))
    with pytest.raises(PersistenceError, match="names code to import \\(parser 'evilparse:parse'\\)"):
        Cascade.load(folder, models)
    assert not marker.exists() and "evilparse" not in sys.modules


def test_the_skops_allow_list_covers_every_estimator_graphroute_writes(tmp_path):
    """Exact types, no prefixes: a scikit-learn release that renames an internal type fails here,
    not in a user's load."""
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from graphroute.persist import SKOPS_TYPES, skops_types

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(400, 6)), rng.random((400, 2))
    y = (X[:, 0] > 0).astype(int)
    fitted = [MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, early_stopping=True, random_state=0).fit(X, Y),
              make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), LogisticRegression().fit(X, y),
              HistGradientBoostingClassifier(max_iter=5).fit(X, y), Ridge().fit(X, Y)]
    for i, est in enumerate(fitted):
        sio.dump(est, tmp_path / f"{i}.skops")
        assert skops_types(tmp_path / f"{i}.skops") <= SKOPS_TYPES, type(est).__name__
    assert not {"builtins.exec", "builtins.eval", "builtins.compile", "builtins.open", "builtins.getattr"} & SKOPS_TYPES
