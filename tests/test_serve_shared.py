"""Two ``graphroute serve`` processes (as two hosts or two workers) sharing one Redis and one
PostgreSQL: a request answered by one takes its feedback on the other, one budget, one rate limit
and one circuit breaker hold across both, and both write telemetry to the same tables."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
import yaml

from graphroute.serve import hash_key
from graphroute.storage import read_events

KEYS = {"free": "gr-shared-free-0123456789", "poor": "gr-shared-poor-0123456789", "limited": "gr-shared-limited-0123456789"}
POOR_BUDGET = 0.0003
REDIS = "redis://127.0.0.1:6379/13"


@pytest.fixture(scope="module")
def pair(tmp_path_factory, fake_provider, serve_cache, databases, processes):
    """Two servers on their own ports over one Redis prefix and one PostgreSQL database."""
    with databases() as pg:
        yield from _pair(tmp_path_factory, fake_provider, serve_cache, pg, processes)


def _pair(tmp_path_factory, fake_provider, serve_cache, pg, processes):
    from graphroute.models.local import free_port

    prefix = f"t{uuid.uuid4().hex[:8]}"
    folder = tmp_path_factory.mktemp("shared")
    up = {"base_url": f"{fake_provider}/v1", "input_price": 1.0, "output_price": 2.0, "max_output_tokens": 10,
          "api_key_env": "GR_TEST_UPSTREAM_KEY"}
    cfg = {"models": {"ok": {"model": "ok", **up}, "ok2": {"model": "ok", **up}, "dead": {"model": "dead", **up}},
           "routers": {"bandit": {"type": "strategy", "name": "thompson",
                                  "params": {"models": ["ok", "ok2"], "seed": 0, "clusters": "lsh"}}},
           "serve": {"fallbacks": {"dead": ["ok"]}, "retries": 1, "timeout_s": 10,
                     "breaker": {"failures": 3, "window_s": 60, "cooldown_s": 600},
                     "keys": [{"name": "free", "sha256": hash_key(KEYS["free"])},
                              {"name": "poor", "sha256": hash_key(KEYS["poor"]), "budget": POOR_BUDGET},
                              {"name": "limited", "sha256": hash_key(KEYS["limited"]), "rate_limit": "3/minute"}],
                     "state": REDIS, "state_prefix": prefix, "telemetry": pg}}
    path = folder / "serve.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    procs, urls = [], []
    for i in range(2):
        port = free_port()
        log = (folder / f"server{i}.log").open("w")
        procs.append(processes.start([sys.executable, "-m", "graphroute.cli.main", "serve", str(path), "--port", str(port)],
                                   f"http://127.0.0.1:{port}/health", log=log,
                                   env={"GRAPHROUTE_CACHE": str(serve_cache), "GR_TEST_UPSTREAM_KEY": "sk-x" * 8}))
        urls.append(f"http://127.0.0.1:{port}")
    yield {"urls": urls, "pg": pg, "prefix": prefix, "fake": fake_provider, "folder": folder}
    for p in procs:
        processes.stop(p)


def chat(url: str, key: str, model: str, text: str = "hello") -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {KEYS[key]}"}, timeout=60,
                      json={"model": model, "messages": [{"role": "user", "content": text}]})


def test_feedback_on_one_server_for_a_request_the_other_answered(pair):
    a, b = pair["urls"]
    ids = [chat(a, "free", "router-bandit", f"question {i}").headers["x-graphroute-request-id"] for i in range(4)]
    on_b = [httpx.post(f"{b}/v1/feedback", json={"request_id": rid, "score": 1.0},
                       headers={"authorization": f"Bearer {KEYS['free']}"}, timeout=30) for rid in ids]
    assert [r.status_code for r in on_b] == [200] * 4 and all(r.json()["learned"] for r in on_b)
    again = httpx.post(f"{a}/v1/feedback", json={"request_id": ids[0], "score": 1.0},
                       headers={"authorization": f"Bearer {KEYS['free']}"}, timeout=30)
    assert again.status_code == 409 and again.json()["error"]["code"] == "feedback_already_recorded"
    stats = redis.Redis.from_url(REDIS).hgetall(f"{{{pair['prefix']}:bandit}}:router:bandit")
    assert sum(json.loads(v)[1] for v in stats.values()) == pytest.approx(4.0, rel=0.01)  # both servers' shared counts


def test_one_budget_across_both_servers_is_never_exceeded(pair):
    a, b = pair["urls"]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: chat([a, b][i % 2], "poor", "ok", f"spend {i}").status_code, range(40)))
    spent = float(redis.Redis.from_url(REDIS).hget(f"{{{pair['prefix']}:budget}}:spent", "key:poor") or 0)
    assert codes.count(200) >= 5 and codes.count(429) >= 5 and set(codes) <= {200, 429}
    assert spent <= POOR_BUDGET + 1e-12
    assert spent == pytest.approx(codes.count(200) * (10 * 1.0 + 4 * 2.0) / 1e6)  # the fake reports 10 in, 4 out


def test_one_rate_limit_across_both_servers(pair):
    a, b = pair["urls"]
    codes = [chat([a, b][i % 2], "limited", "ok").status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_a_dead_model_fails_three_times_in_all_before_both_servers_stop_calling_it(pair):
    a, b = pair["urls"]
    before = httpx.get(f"{pair['fake']}/stats").json()["by_model"].get("dead", 0)
    answers = [chat([a, b][i % 2], "free", "dead") for i in range(8)]
    after = httpx.get(f"{pair['fake']}/stats").json()["by_model"].get("dead", 0)
    assert [r.status_code for r in answers] == [200] * 8 and {r.headers["x-graphroute-model"] for r in answers} == {"ok"}
    assert after - before == 3  # per-server breakers would have let each server fail 3 times


def test_both_servers_write_telemetry_to_one_postgres(pair):
    a, b = pair["urls"]
    for i in range(3):
        assert chat([a, b][i % 2], "free", "ok", f"logged {i}").status_code == 200
    deadline = time.monotonic() + 10
    while True:  # the sinks write in the background every 0.2 s
        out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "stats", pair["pg"], "--json"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        logged = json.loads(out.stdout)
        if logged["decisions"] >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert logged["decisions"] >= 3 and set(logged["model_mix"]) <= {"ok", "ok2", "dead"}
    decisions = [e for e in read_events(pair["pg"]) if e["event"] == "decision"]
    assert decisions and all(e.get("fallback") for e in decisions if e["model"] == "dead")  # "ok" answered those


def test_a_bandit_whose_clusters_differ_per_worker_is_refused_with_a_shared_state(tmp_path):
    from graphroute.errors import ConfigError
    from graphroute.serve import load_serve_config
    from graphroute.serve.service import Service

    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump({
        "models": {m: {"model": m, "base_url": "http://127.0.0.1:9/v1", "input_price": 0, "output_price": 0} for m in "ab"},
        "routers": {"learn": {"type": "strategy", "name": "thompson", "params": {"models": ["a", "b"]}}},
        "serve": {"state": REDIS}}))
    with pytest.raises(ConfigError, match="clusters: lsh"):
        Service(load_serve_config(path))
