"""Experiments in a real ``graphroute serve`` process over real HTTP: sticky arms, every arm's decision
and the propensity logged, decision-only and called shadows (budget cap, private prompts never sent),
judge scores, an experiment that has not started, and ``graphroute experiment report|ope`` on the logs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import openai
import pytest
import yaml

from conftest import SERVE_KEYS, serve_config, start_serve, stop_process
from graphroute.experiments import assign

SHADOW_BUDGET = 0.08


@pytest.fixture(scope="module")
def exp_server(tmp_path_factory, serve_cache, replay_upstream, fake_provider):

    folder = tmp_path_factory.mktemp("serve-exp")
    path = serve_config(folder, replay_upstream, fake_provider)
    cfg = yaml.safe_load(path.read_text())
    cfg["serve"]["experiments"] = {
        "split": {"arms": {"control": {"target": "mixtral"}, "pick": {"target": "router-pick"}}, "unit": "user",
                  "shadow": {"look": {"target": "router-pick-0.2"},
                             "big": {"target": "gpt4", "sample": 1.0, "budget": SHADOW_BUDGET, "max_concurrency": 4}},
                  "metrics": ["feedback", "judge", "cost", "latency"], "min_effect": {"feedback": 0.1}},
        "later": {"arms": {"control": {"target": "mixtral"}, "other": {"target": "gpt4"}},
                  "start": "2099-01-01T00:00:00Z"},
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    log = (folder / "server.log").open("w")
    proc, url = start_serve(path, serve_cache, log=log)
    yield {"url": url, "config": path, "telemetry": folder / "telemetry.jsonl",
           "key": SERVE_KEYS["full"][0], "cache": serve_cache}
    stop_process(proc)
    log.close()


def records(server, event: str | None = None) -> list[dict]:
    lines = server["telemetry"].read_text().splitlines() if server["telemetry"].exists() else []
    return [r for r in map(json.loads, lines) if event is None or r["event"] == event]


def wait_for(fn, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = fn()
        if out:
            return out
        time.sleep(0.1)
    pytest.fail("timed out")


def test_experiment_serves_sticky_arms_logs_decisions_and_calls_shadows(exp_server, gsm8k):
    c = openai.OpenAI(base_url=exp_server["url"] + "/v1", api_key=exp_server["key"], max_retries=0, timeout=60)
    assert {"split", "later"} <= {m.id for m in c.models.list().data}
    ids, arms = {}, {}
    for i, user in enumerate([f"user-{j}" for j in range(8)] * 2):
        raw = c.chat.completions.with_raw_response.create(model="split", messages=[{"role": "user", "content": gsm8k.prompts[i]}],
                                                          user=user)
        assert raw.status_code == 200
        ids[raw.headers["x-graphroute-request-id"]] = user
        arms.setdefault(user, set()).add(raw.parse().model_dump()["routing"]["virtual_model"])
    private = c.chat.completions.with_raw_response.create(
        model="split", user="user-0", messages=[{"role": "user", "content": "Email jane.doe@example.com: " + gsm8k.prompts[20]}])
    pid = private.headers["x-graphroute-request-id"]
    exps = wait_for(lambda: [r for r in records(exp_server, "experiment") if r["run_id"] in {*ids, pid}]
                    if len([r for r in records(exp_server, "experiment") if r["run_id"] in {*ids, pid}]) == 17 else None)
    by_id = {r["run_id"]: r for r in exps}
    for rid, user in ids.items():
        r = by_id[rid]
        assert r["arm"] == assign(user, {"control": 0.5, "pick": 0.5}, "split") and r["unit"] == user  # sticky, salted
        assert set(r["decisions"]) == {"control", "pick"} and set(r["shadows"]) == {"look", "big"}
        assert r["decisions"]["control"]["model"] == "mixtral"
        expected = 0.5 * (r["model"] == "mixtral") + 0.5 * (r["decisions"]["pick"]["model"] == r["model"])
        assert r["propensity"] == pytest.approx(expected) and r["cost"] > 0 and r["latency_ms"] > 0
    assert {a for s in arms.values() for a in s} == {"mixtral", "router-pick"} and all(len(s) == 1 for s in arms.values())
    # shadow calls: after the answer, never for the private prompt, never beyond the shadow's budget
    shadows = wait_for(lambda: (s := [r for r in records(exp_server, "shadow") if r["run_id"] in ids]) and len(s) == 16 and s)
    assert not [r for r in records(exp_server, "shadow") if r["run_id"] == pid]
    answered = [r for r in shadows if r["error"] is None]
    assert answered and all(r["model"] == "gpt4" and r["output"] and r["served_output"] for r in answered)
    assert sum(r["cost"] for r in shadows) <= SHADOW_BUDGET
    assert any("Budget" in (r["error"] or "") for r in shadows)  # the cap bound; the requests were all answered
    # scores: users' feedback (a bandit would learn) and a judge's on paired answers
    h = {"authorization": f"Bearer {exp_server['key']}"}
    for k, rid in enumerate(ids):
        assert httpx.post(exp_server["url"] + "/v1/feedback", json={"request_id": rid, "score": float(k % 2)}, headers=h).status_code == 200
    for r in answered:
        out = httpx.post(exp_server["url"] + "/v1/feedback", headers=h,
                         json={"request_id": f"{r['run_id']}#big", "score": 1.0, "metric": "judge"}).json()
        assert out == {"request_id": f"{r['run_id']}#big", "recorded": True, "learned": False}
    run = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "experiment", "report", str(exp_server["telemetry"]),
                          "--config", str(exp_server["config"]), "-e", "split", "--json", "--png",
                          str(exp_server["telemetry"].with_suffix(".png"))], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rep = json.loads(run.stdout)
    assert rep["verdict"] == "not enough data" and rep["control"] == "control"
    names = {(a["name"], a["shadow"]) for a in rep["arms"]}
    assert names == {("control", False), ("pick", False), ("big", True)}
    assert sum(a["units"] for a in rep["arms"] if not a["shadow"]) == 8 and rep["srm_by"] == "units"
    big = next(a for a in rep["arms"] if a["name"] == "big")
    assert big["metrics"]["judge"]["n"] == len(answered) and big["metrics"]["judge"]["mean"] == 1.0
    assert exp_server["telemetry"].with_suffix(".png").stat().st_size > 1000
    table = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "experiment", "report", str(exp_server["telemetry"]),
                            "-e", "split", "--min-effect", "feedback=0.1"], capture_output=True, text=True, timeout=300)
    assert table.returncode == 0 and "not enough data" in table.stdout and "two-proportion z" in table.stdout
    # off-policy: the router "pick" estimated on what the split served (propensities of the mixture)
    ope = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "experiment", "ope", str(exp_server["telemetry"]),
                          "--candidate", "pick", "--config", str(exp_server["config"]), "--json"], capture_output=True,
                         text=True, timeout=300, env={**__import__("os").environ, "GRAPHROUTE_CACHE": str(exp_server["cache"])})
    assert ope.returncode == 0, ope.stderr
    est = json.loads(ope.stdout)
    assert est["n"] == 16 and set(est["quality"]) == {"ips", "snips", "dr"}
    assert all(e["low"] <= e["value"] <= e["high"] for e in est["quality"].values())


def test_an_experiment_that_has_not_started_serves_its_control_and_logs_nothing(exp_server, gsm8k):
    c = openai.OpenAI(base_url=exp_server["url"] + "/v1", api_key=exp_server["key"], max_retries=0, timeout=60)
    raw = c.chat.completions.with_raw_response.create(model="later", user="someone",
                                                      messages=[{"role": "user", "content": gsm8k.prompts[30]}])
    assert raw.headers["x-graphroute-model"] == "mixtral"
    rid = raw.headers["x-graphroute-request-id"]
    wait_for(lambda: any(r["run_id"] == rid for r in records(exp_server, "decision")))
    assert not [r for r in records(exp_server, "experiment") if r["experiment"] == "later"]
    chunks = list(c.chat.completions.create(model="split", user="user-5", stream=True,
                                            messages=[{"role": "user", "content": gsm8k.prompts[31]}]))
    rid = chunks[0].id.removeprefix("chatcmpl-")
    streamed = wait_for(lambda: [r for r in records(exp_server, "experiment") if r["run_id"] == rid])
    assert streamed[0]["arm"] == assign("user-5", {"control": 1, "pick": 1}, "split") and streamed[0]["error"] is None
    assert streamed[0]["model"] == chunks[0].model and streamed[0]["cost"] > 0
    routed = httpx.post(exp_server["url"] + "/v1/route", json={"model": "split", "user": "user-3",
                                                              "messages": [{"role": "user", "content": "hi there"}]},
                        headers={"authorization": f"Bearer {exp_server['key']}"}).json()
    assert routed["experiment"] == {"name": "split", "arm": assign("user-3", {"control": 1, "pick": 1}, "split"),
                                    "running": True}


def test_experiment_config_errors_name_the_field(tmp_path, replay_upstream, fake_provider):
    from graphroute.errors import ConfigError
    from graphroute.serve import load_serve_config

    path = serve_config(tmp_path, replay_upstream, fake_provider)
    cfg = yaml.safe_load(path.read_text())
    cfg["serve"]["experiments"] = {"e": {"arms": {"a": {"target": "mixtral"}, "b": {"target": "router-nope"}}}}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError, match=r"serve\.experiments\.e\.arms\.b\.target"):
        load_serve_config(path)
    cfg["serve"]["experiments"] = {"mixtral": {"arms": {"a": {"target": "mixtral"}, "b": {"target": "gpt4"}}}}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError, match="hides a model"):
        load_serve_config(path)
    cfg["serve"]["experiments"] = {"e": {"arms": {"a": {"target": "mixtral"}, "b": {"target": "gpt4"}}}}
    del cfg["serve"]["telemetry"]
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError, match="give serve.telemetry"):
        load_serve_config(path)
