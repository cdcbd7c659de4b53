"""Every finding of the hardening review, reproduced as an attacker or a clumsy client would: saved
folders that try to run code, requests that try to spend more than their budget, feedback from
the wrong key, secrets in upstream errors, bodies that used to get a 500, files that used to be
imported to be checked. Each test failed before its fix (the commit that closed it is in the
hardening note) and passes after; markers written by payloads prove that nothing ran."""

from __future__ import annotations

import asyncio
import json
import os
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


# ---------------------------------------------------------------- graphroute serve, as an attacker and a clumsy client
SECURITY_KEYS = {"owner": {"models": ["*"]}, "other": {"models": ["*"]}, "meter": {"models": ["mixtral"]},
                 "grader": {"models": ["*"], "admin": True}, "limited": {"models": ["*"], "rate_limit": "3/minute"}}
BUDGET = 1.0


def _tools(n: int) -> list[dict]:
    """``n`` realistic tool definitions (about 900 bytes each)."""
    return [{"type": "function", "function": {
        "name": f"lookup_{i}", "description": "Look up the current weather of a city, in degrees Celsius, with wind "
                                              "speed and humidity, for the next hours. " * 6,
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"},
                                                        "unit": {"type": "string", "enum": ["c", "f"]}},
                       "required": ["city"]}}} for i in range(n)]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, serve_cache, replay_upstream, fake_provider, processes):
    """A server with a global budget, owners' keys, an admin key, a rate-limited key, a billing
    provider, a provider that echoes its key, and a graph whose python step fails."""
    import yaml

    from conftest import UPSTREAM_SECRET
    from graphroute.models.local import free_port
    from graphroute.serve import hash_key

    folder = tmp_path_factory.mktemp("guarded")
    (folder / "steps.py").write_text("def boom(state):\n    raise ValueError('a bug in a python step')\n")
    (folder / "boom.yaml").write_text(yaml.safe_dump({
        "models": {}, "state": {"question": "str", "answer": "str"},
        "nodes": {"step": {"type": "python", "call": "steps:boom"}},
        "edges": [{"from": "START", "to": "step"}, {"from": "step", "to": "END"}], "input": "question",
        "budget": {"per_run": 0.01}}))
    keys = {n: f"gr-sec-{n}-0123456789" for n in SECURITY_KEYS}
    gsm = {"gpt4": "gpt-4-1106-preview", "mixtral": "mistralai/Mixtral-8x7B-Instruct-v0.1"}
    models = {k: {"model": m, "base_url": replay_upstream, "input_price": 1.0, "output_price": 1.0} for k, m in gsm.items()}
    models["billed"] = {"model": "billed", "base_url": f"{fake_provider}/v1", "input_price": 2.5, "output_price": 10.0,
                        "max_output_tokens": 16, "api_key_env": "GR_TEST_UPSTREAM_KEY"}
    models["echo"] = {"model": "echo", "base_url": f"{fake_provider}/v1", "input_price": 1.0, "output_price": 1.0,
                      "api_key_env": "GR_TEST_UPSTREAM_KEY"}
    cfg = {"models": models,
           "routers": {"bandit": {"type": "strategy", "name": "thompson", "params": {"models": ["gpt4", "mixtral"], "seed": 0}}},
           "graphs": {"boom": "boom.yaml"},
           "serve": {"replay": ["routellm-gsm8k"], "budget": BUDGET, "max_body_bytes": 2_000_000,
                     "max_prompt_tokens": 60_000, "telemetry": "telemetry.jsonl",
                     "keys": [{"name": n, "sha256": hash_key(keys[n]), **e} for n, e in SECURITY_KEYS.items()]}}
    (folder / "serve.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    port = free_port()
    log = (folder / "server.log").open("w")
    proc = processes.start([sys.executable, "-m", "graphroute.cli.main", "serve", str(folder / "serve.yaml"), "--port",
                            str(port)], f"http://127.0.0.1:{port}/health", log=log,
                           env={"GRAPHROUTE_CACHE": str(serve_cache), "GR_TEST_UPSTREAM_KEY": UPSTREAM_SECRET,
                                "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))})
    yield {"url": f"http://127.0.0.1:{port}", "keys": keys, "folder": folder, "secret": UPSTREAM_SECRET}
    processes.stop(proc)
    log.close()


def _post(server, path, body, key="owner", **kw):
    import httpx

    headers = {"authorization": f"Bearer {server['keys'][key]}"} if key else {}
    return httpx.post(server["url"] + path, json=body, headers=headers, timeout=60, **kw)


def _ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _metric(server, name: str) -> float:
    import httpx

    text = httpx.get(server["url"] + "/metrics", timeout=30).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_every_billed_part_is_counted_at_least_as_the_provider_bills_it():
    import fake_upstream

    from graphroute.serve.billing import prompt_tokens

    bodies = [{"messages": _ask("hi"), "tools": _tools(200)},
              {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [
                  {"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": "data:,"}}]}],
               "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}},
              {"messages": _ask("x" * 50_000)}]
    for body in bodies:
        assert prompt_tokens(body) >= fake_upstream._billed(body), body["messages"][0]
    assert prompt_tokens(bodies[0]) > 40 * prompt_tokens({"messages": _ask("hi")} | {"tools": _tools(1)}) / 2


def test_tools_are_budgeted_and_concurrent_requests_cannot_overrun_the_budget(guarded):
    from concurrent.futures import ThreadPoolExecutor

    body = {"model": "billed", "messages": _ask("What is the weather in Paris?"), "tools": _tools(200)}
    assert len(json.dumps(body)) > 170_000
    with ThreadPoolExecutor(14) as pool:
        out = list(pool.map(lambda _: _post(guarded, "/v1/chat/completions", body), range(14)))
    codes = [r.status_code for r in out]
    assert 200 in codes and codes.count(429) >= 5, codes
    assert all(r.json()["error"]["code"] == "insufficient_quota" for r in out if r.status_code == 429)
    answered = [r.json() for r in out if r.status_code == 200]
    assert all(a["usage"]["prompt_tokens"] > 40_000 for a in answered)  # the provider billed the tools
    spent = _metric(guarded, "graphroute_cost_dollars_total")
    assert 0 < spent <= BUDGET + 1e-9, spent  # before: 14 admitted on tiny reservations, $1.5 spent of $1


def test_max_prompt_tokens_counts_tools(guarded):
    r = _post(guarded, "/v1/chat/completions", {"model": "mixtral", "messages": _ask("hi"), "tools": _tools(300)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    assert "60000" in r.json()["error"]["message"]


def test_feedback_only_from_the_key_that_made_the_request_once_per_metric_and_in_range(guarded, gsm8k):
    r = _post(guarded, "/v1/chat/completions", {"model": "router-bandit", "messages": _ask(gsm8k.prompts[7])})
    rid = r.headers["x-graphroute-request-id"]
    for key in ("other", "meter"):  # another key's request looks like no request at all
        stolen = _post(guarded, "/v1/feedback", {"request_id": rid, "score": 1.0}, key=key)
        assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "request_not_found"
    for score in (-1e300, 1e300, 1.5, -0.01):
        bad = _post(guarded, "/v1/feedback", {"request_id": rid, "score": score})
        assert bad.status_code == 400 and bad.json()["error"]["param"].endswith("score"), score
    ok = _post(guarded, "/v1/feedback", {"request_id": rid, "score": 1.0})
    assert ok.status_code == 200 and ok.json()["learned"] is True
    again = _post(guarded, "/v1/feedback", {"request_id": rid, "score": 0.0})
    assert again.status_code == 409 and again.json()["error"]["code"] == "feedback_already_recorded"
    graded = _post(guarded, "/v1/feedback", {"request_id": rid, "score": 0.5, "metric": "judge"}, key="grader")
    assert graded.status_code == 200 and graded.json()["learned"] is False  # an admin grades any request
    forged = _post(guarded, "/v1/feedback", {"request_id": f"{rid}#x", "score": 1.0, "metric": "judge"}, key="grader")
    assert forged.status_code == 404  # no shadow 'x' answered this request
    unknown = _post(guarded, "/v1/feedback", {"request_id": "0" * 32, "score": 1.0, "metric": "judge"}, key="grader")
    assert unknown.status_code == 404
    rows = [json.loads(x) for x in (guarded["folder"] / "telemetry.jsonl").read_text().splitlines()]
    scores = [(row.get("metric", "feedback"), row["score"]) for row in rows if row["event"] == "feedback"]
    assert sorted(scores) == [("feedback", 1.0), ("judge", 0.5)]  # nothing refused was logged


def test_feedback_and_route_count_against_the_rate_limit(guarded):
    codes = [_post(guarded, "/v1/feedback", {"request_id": f"r{i}", "score": 1.0}, key="limited").status_code
             for i in range(3)]
    assert codes == [404, 404, 404]
    assert _post(guarded, "/v1/feedback", {"request_id": "r4", "score": 1.0}, key="limited").status_code == 429
    r = _post(guarded, "/v1/route", {"model": "router-bandit", "messages": _ask("hi")}, key="limited")
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"


def test_upstream_errors_are_rebuilt_without_the_upstreams_key(guarded):
    for stream in (False, True):
        r = _post(guarded, "/v1/chat/completions", {"model": "echo", "messages": _ask("hi"), "stream": stream})
        assert r.status_code == 400 and guarded["secret"] not in r.text
        err = r.json()["error"]
        assert err["message"].startswith("The upstream of echo refused the request: bad request sent with Bearer")
        assert set(r.json()) == {"error"} and err["param"] == "tools"  # nothing else of the provider's body


def test_query_string_keys_are_refused_and_never_logged(guarded):
    import httpx

    secret = guarded["keys"]["owner"]
    r = httpx.post(f"{guarded['url']}/v1/chat/completions?api_key={secret}",
                   json={"model": "mixtral", "messages": _ask("hi")}, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "key_in_url"
    assert httpx.get(f"{guarded['url']}/v1/models?key={secret}", timeout=30).status_code == 401
    log = (guarded["folder"] / "server.log").read_text()
    assert "/v1/chat/completions?[query removed]" in log and secret not in log


def test_a_404_lists_only_the_models_the_key_may_use(guarded):
    r = _post(guarded, "/v1/chat/completions", {"model": "nope", "messages": _ask("hi")}, key="meter")
    assert r.status_code == 404
    message = r.json()["error"]["message"]
    assert "mixtral" in message and "gpt4" not in message and "billed" not in message and "graph:boom" not in message


def test_docs_and_the_schema_need_a_key_unless_opened(guarded, tmp_path):
    import httpx
    import yaml
    from fastapi.testclient import TestClient

    from graphroute.serve import create_app, hash_key

    for path in ("/docs", "/openapi.json"):
        assert httpx.get(guarded["url"] + path, timeout=30).status_code == 401
        assert httpx.get(guarded["url"] + path, headers={"authorization": f"Bearer {guarded['keys']['owner']}"},
                         timeout=30).status_code == 200
    cfg = {"models": {"m": {"model": "mixtral", "replay": "mistralai/Mixtral-8x7B-Instruct-v0.1", "input_price": 1,
                            "output_price": 1}},
           "serve": {"replay": ["routellm-gsm8k"], "open_docs": True, "keys": [{"name": "a", "sha256": hash_key("k")}]}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(cfg))
    assert TestClient(create_app(tmp_path / "s.yaml")).get("/openapi.json").status_code == 200


def test_bad_bodies_get_a_4xx_the_connection_survives_and_every_refusal_is_counted(guarded):
    import httpx

    auth = {"authorization": f"Bearer {guarded['keys']['owner']}"}
    before = {c: _metric(guarded, f'graphroute_requests_total{{code="{c}"') for c in (400, 401, 403, 404, 413, 500)}
    with httpx.Client(base_url=guarded["url"], headers=auth, timeout=60) as c:
        huge = c.post("/v1/chat/completions", json={"model": "router-bandit", "messages": _ask("7" * 1_000_000)})
        assert huge.status_code == 400, huge.text  # a ~1M-character prompt: under the body limit, over the router's
        odd = c.post("/v1/chat/completions", json={"model": "mixtral", "messages": [
            {"role": "user", "content": [{"type": "text", "text": {"an": "object"}}]}]})
        assert odd.status_code == 400 and "text" in odd.json()["error"]["param"]
        assert c.post("/v1/chat/completions", json={"model": "router-bandit-0.5\n", "messages": _ask("hi")}).status_code == 400
        boom = c.post("/v1/chat/completions", json={"model": "graph:boom", "messages": _ask("hi")})
        assert boom.status_code == 500 and boom.json()["error"]["type"] == "server_error"
        assert "a bug in a python step" not in boom.text  # an unexpected error names only its type
        after = c.post("/v1/chat/completions", json={"model": "mixtral", "messages": _ask("hi")})
        assert after.status_code == 200  # the same pooled connection still serves (it used to be reset)
        chunked = c.post("/v1/chat/completions", content=(b"x" * 100_000 for _ in range(30)),
                         headers={"content-type": "application/json"})
        assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "request_too_large"
    assert _post(guarded, "/v1/chat/completions", {"model": "mixtral", "messages": _ask("hi")}, key=None).status_code == 401
    assert _post(guarded, "/v1/chat/completions", {"model": "gpt4", "messages": _ask("hi")}, key="meter").status_code == 403
    assert _post(guarded, "/v1/chat/completions", {"model": "nope", "messages": _ask("hi")}).status_code == 404
    grown = {c: _metric(guarded, f'graphroute_requests_total{{code="{c}"') - before[c] for c in before}
    assert grown[400] >= 3 and all(grown[c] >= 1 for c in (401, 403, 404, 413, 500)), grown


# ---------------------------------------------------------------- files are checked without running them; stats read them
def test_validate_reads_python_steps_without_importing_them(tmp_path):
    import yaml

    marker = tmp_path / "ran.txt"
    (tmp_path / "evilmod.py").write_text(_marker_code(marker) + "\ndef step(state):\n    return {}\n")
    graph = {"models": {}, "state": {"question": "str"}, "nodes": {"s": {"type": "python", "call": "evilmod:step"}},
             "edges": [{"from": "START", "to": "s"}, {"from": "s", "to": "END"}]}
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(graph))
    run = [sys.executable, "-m", "graphroute.cli.main", "validate", "g.yaml"]
    out = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "valid graph" in out.stdout and not marker.exists()  # found in its source
    graph["nodes"]["s"]["call"] = "evilmod:missing"
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(graph))
    out = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "defines no 'missing'" in out.stderr and not marker.exists()
    graph["nodes"]["s"]["call"] = "evilmod:step"
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(graph))
    out = subprocess.run(run + ["--trust-code"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and marker.exists()  # only when asked to


def test_validate_knows_serve_and_models_files_and_refuses_huge_yaml_before_parsing(tmp_path):
    import time

    import yaml

    def validate(path, **env):
        return subprocess.run([sys.executable, "-m", "graphroute.cli.main", "validate", str(path)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, **env})

    out = validate(ROOT / "graphs" / "serve.yaml")
    assert out.returncode == 0 and "valid serve file: 2 models, 2 routers, 1 graphs" in out.stdout, out.stderr
    models = {"models": {"a": {"model": "gpt-4o", "base_url": "http://127.0.0.1:9/v1", "input_price": 1, "output_price": 1}}}
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(models))
    out = validate(tmp_path / "models.yaml")
    assert out.returncode == 0 and "valid models file: 1 models" in out.stdout
    (tmp_path / "other.yaml").write_text("colour: blue\n")
    out = validate(tmp_path / "other.yaml")
    assert out.returncode == 2 and "not a graph" in out.stderr
    with (tmp_path / "huge.yaml").open("w") as fh:
        fh.write("nodes:\n")
        for i in range(1_000_000):  # about 50 MB
            fh.write(f"  n{i}: {{type: python, call: 'mod:fn', output: x{i}}}\n")
    t0 = time.perf_counter()
    out = validate(tmp_path / "huge.yaml")
    assert out.returncode == 2 and "a configuration file is at most 5,000,000 bytes" in out.stderr
    assert time.perf_counter() - t0 < 30  # refused by its size (before: 82 s and 1.16 GB to parse and refuse)
    small = validate(tmp_path / "other.yaml", GRAPHROUTE_MAX_YAML_BYTES="5")
    assert small.returncode == 2 and "at most 5 bytes" in small.stderr


def test_stats_reads_the_telemetry_of_graph_cascade_and_router_requests(tmp_path):
    import yaml
    from fastapi.testclient import TestClient

    from graphroute.datasets import load_dataset
    from graphroute.serve import create_app

    cfg = yaml.safe_load((ROOT / "graphs" / "serve.yaml").read_text())
    cfg["routers"] = {"cheap": {"type": "cascade", "stages": [{"model": "mixtral", "scorer": {"name": "format", "kind": "json"}},
                                                               {"model": "gpt4"}]},
                      "bandit": {"type": "strategy", "name": "thompson", "params": {"models": ["gpt4", "mixtral"]}}}
    cfg["graphs"] = {"qa": str(ROOT / "graphs" / "qa_cascade.yaml")}
    cfg["serve"] = {"replay": ["routellm-gsm8k"], "telemetry": "telemetry.jsonl"}
    (tmp_path / "serve.yaml").write_text(yaml.safe_dump(cfg))
    q = load_dataset("routellm-gsm8k").prompts[0]
    with TestClient(create_app(tmp_path / "serve.yaml")) as client:
        for model in ("graph:qa", "router-cheap", "router-bandit", "gpt4"):
            r = client.post("/v1/chat/completions", json={"model": model, "messages": _ask(q)})
            assert r.status_code == 200, r.text
        assert r.json()["routing"]["model"] == "gpt4"
    rows = [json.loads(x) for x in (tmp_path / "telemetry.jsonl").read_text().splitlines()]
    cascade = next(row for row in rows if row["event"] == "decision" and "cascade starts" in row["reason"])
    assert cascade["served"] == "gpt4" and not cascade.get("fallback")  # the stage that answered, not an error
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "stats", str(tmp_path / "telemetry.jsonl"),
                          "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr  # before: TypeError once a graph request (model null) was logged
    mix = json.loads(out.stdout)["model_mix"]
    assert "gpt-4-1106-preview" not in mix and mix["gpt4"] >= 0.5 and sum(mix.values()) == pytest.approx(1.0)


# ---------------------------------------------------------------- a dead provider is cut off
def _dead_gateway(state=None, calls=None):
    from langchain_core.runnables import RunnableLambda

    from graphroute.runtime import Gateway
    from graphroute.strategies import RoundRobinRouter

    async def dead(_):
        calls.append(1)
        await asyncio.sleep(0.005)
        raise ConnectionError("HTTP 503 service unavailable")

    return Gateway({"dead": RunnableLambda(dead)}, RoundRobinRouter(["dead"]), retries=2, backoff_s=0.001,
                   breaker={"failures": 3, "window_s": 30, "cooldown_s": 60}, state=state)


def test_a_burst_at_a_provider_dead_from_the_start_reaches_it_three_calls_per_worker():
    from graphroute.errors import GraphRouteError
    from graphroute.state import open_state

    async def burst(gateways):
        async def one(i):
            try:
                await gateways[i % len(gateways)].ainvoke(f"question {i}")
            except GraphRouteError:
                pass
        await asyncio.gather(*[one(i) for i in range(200)])

    calls: list = []
    asyncio.run(burst([_dead_gateway(calls=calls)]))
    assert len(calls) == 3  # before: about 100 of a burst of 200 reached it
    shared: list = []

    async def two_workers():
        import uuid

        states = [open_state("redis://127.0.0.1:6379/15", prefix=f"dead{uuid.uuid4().hex[:6]}") for _ in range(2)]
        await burst([_dead_gateway(st, shared) for st in states])
        for st in states:
            await st.aclose()

    asyncio.run(two_workers())
    # three at first from each worker (none knows yet), then at most two trials while the shared breaker
    # counts the failures up to its three
    assert len(shared) <= 2 * 3 + 2
