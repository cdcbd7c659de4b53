"""The /ui dashboard in a real browser (Debian's Chromium driven by Selenium, no browser download):
after real traffic its figures equal what /metrics and ``graphroute stats`` report, and it refreshes.
The Grafana board names only metrics the server exports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from conftest import SERVE_KEYS, serve_config, start_serve, stop_process

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "gr-test-admin-0123456789"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory, serve_cache, replay_upstream, fake_provider):
    from graphroute.serve import hash_key

    folder = tmp_path_factory.mktemp("serve-ui")
    path = serve_config(folder, replay_upstream, fake_provider)
    cfg = yaml.safe_load(path.read_text())
    cfg["serve"]["keys"].append({"name": "ops", "sha256": hash_key(ADMIN), "models": ["*"], "admin": True})
    cfg["serve"]["budget"] = 5.0
    cfg["serve"]["experiments"] = {"ab": {"arms": {"control": {"target": "mixtral"}, "big": {"target": "gpt4"}},
                                          "unit": "request"},
                                   "quiet": {"arms": {"control": {"target": "mixtral"}, "other": {"target": "gpt4"}}}}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    log = (folder / "server.log").open("w")
    proc, url = start_serve(path, serve_cache, log=log)
    yield {"url": url, "telemetry": folder / "telemetry.jsonl"}
    stop_process(proc)
    log.close()


def traffic(url: str, n: int) -> None:
    """``n`` requests of several kinds through the real OpenAI client: routed, direct, a fallback, an experiment."""
    from openai import OpenAI

    from graphroute.datasets import load_dataset

    prompts = load_dataset("routellm-gsm8k").prompts
    clients = {name: OpenAI(base_url=f"{url}/v1", api_key=SERVE_KEYS[name][0], max_retries=0) for name in ("full", "narrow")}
    for i in range(n):
        model, who = [("auto", "full"), ("mixtral", "narrow"), ("dead", "full"), ("ab", "full"), ("gpt4", "full")][i % 5]
        clients[who].chat.completions.create(model=model, messages=[{"role": "user", "content": prompts[i % 200]}])


def scrape(url: str) -> dict[str, list]:
    """Every sample of /metrics by its sample name (``graphroute_requests_total``, ``..._bucket``)."""
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(metrics: dict, name: str, **labels) -> float:
    return sum(v for lab, v in metrics.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))


def stats(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "stats", str(path), "--json"], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_the_data_endpoint_needs_an_admin_key_and_serve_ui_false_turns_the_page_off(ui_server, tmp_path):
    from fastapi.testclient import TestClient

    from graphroute.serve import create_app

    url = ui_server["url"]
    assert httpx.get(f"{url}/ui").status_code == 200  # the page holds no figures: it asks for a key
    assert "script-src 'self'" in httpx.get(f"{url}/ui").headers["content-security-policy"]
    assert httpx.get(f"{url}/ui/api/data").status_code == 401
    r = httpx.get(f"{url}/ui/api/data", headers={"authorization": f"Bearer {SERVE_KEYS['full'][0]}"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    assert httpx.get(f"{url}/ui/api/data", headers={"authorization": f"Bearer {ADMIN}"}).status_code == 200
    assert httpx.get(f"{url}/ui/../metrics").status_code in (200, 404)  # normalised by the client: never a file
    assert httpx.get(f"{url}/ui/secrets.yaml").status_code == 404
    cfg = yaml.safe_load((ROOT / "graphs" / "serve.yaml").read_text())
    cfg["serve"]["ui"] = False
    (tmp_path / "serve.yaml").write_text(yaml.safe_dump(cfg))
    shutil.copy(ROOT / "graphs" / "qa_cascade.yaml", tmp_path / "qa_cascade.yaml")  # the graph serve.yaml serves
    with TestClient(create_app(tmp_path / "serve.yaml")) as client:
        assert client.get("/ui").status_code == 404 and client.get("/ui/api/data").status_code == 404


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")
def test_the_page_in_a_real_browser_shows_what_metrics_and_stats_report_and_refreshes(ui_server, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url = ui_server["url"]
    traffic(url, 60)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(f"{url}/ui?refresh=1")
        key = wait.until(lambda d: d.find_element(By.ID, "key") if d.find_element(By.ID, "key").is_displayed() else None)
        assert "admin key" in driver.find_element(By.CSS_SELECTOR, '[data-testid="status"]').text
        key.send_keys(ADMIN)
        driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
        try:
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="status"]').text == "live")
        except Exception:  # say why: the status line and the console
            pytest.fail(f"status {driver.find_element(By.CSS_SELECTOR, '[data-testid=status]').text!r}; "
                        f"console {driver.get_log('browser')}")

        def shown(testid: str) -> str:
            return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]').text

        def settled() -> tuple[dict, str]:  # figures of one refresh, with /metrics read right after it
            before = driver.execute_script("return document.body.dataset.generatedAt")
            wait.until(lambda d: d.execute_script("return document.body.dataset.generatedAt") != before)
            return scrape(url), shown("requests")

        m, requests = settled()
        assert float(requests) == total(m, "graphroute_requests_total") == 60
        assert float(shown("answered")) == total(m, "graphroute_decisions_total")
        assert shown("cost") == f"{total(m, 'graphroute_cost_dollars_total'):.6f}"
        for model in ("gpt4", "mixtral"):
            assert float(shown(f"model-answered-{model}")) == total(m, "graphroute_decisions_total", model=model) > 0
            assert shown(f"model-cost-{model}") == f"{total(m, 'graphroute_cost_dollars_total', model=model):.6f}"
        vms = {lab["virtual_model"] for lab, _ in m["graphroute_requests_total"]}
        assert {"auto", "mixtral", "dead", "gpt4"} <= vms
        for vm in vms:
            assert float(shown(f"vm-requests-{vm}")) == total(m, "graphroute_requests_total", virtual_model=vm)
        state = next(lab["state"] for lab, v in m["graphroute_breaker_state"] if lab["model"] == "dead" and v == 1.0)
        assert shown("breaker-dead") == state
        assert float(shown("fallback-dead-mixtral")) == total(m, "graphroute_fallbacks_total", chosen="dead", answered="mixtral") > 0
        left = next(v for lab, v in m["graphroute_budget_remaining_dollars"] if lab["scope"] == "global")
        assert shown("budget-left-global") == f"{left:.6f}" and left < 5.0
        s = stats(ui_server["telemetry"])
        assert float(shown("decisions")) == s["decisions"] == 60
        assert shown("stats-cost") == f"{s['cost_total']:.6f}"
        lat = s["latency_ms"]
        assert shown("latency") == f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f}"
        assert shown("key-cost-narrow") != "" and shown("experiment-ab") and shown("experiment-quiet") == "not enough data"
        svg_bars = driver.find_elements(By.CSS_SELECTOR, '[data-testid="virtual-models"] svg rect')
        assert svg_bars, "the decision mix over time is drawn"
        driver.save_screenshot(str(tmp_path / "dashboard.png"))

        traffic(url, 5)  # the page refreshes by itself: the new requests appear without a reload
        wait.until(lambda d: shown("requests") == "65")
        m, requests = settled()
        assert float(requests) == total(m, "graphroute_requests_total") == 65
        assert float(shown("decisions")) == stats(ui_server["telemetry"])["decisions"] == 65
        logs = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "/ui/api/data" not in e["message"]]
        assert not logs, logs  # no script error, nothing blocked by the content security policy
    finally:
        driver.quit()


def test_every_grafana_query_names_a_metric_the_server_exports(ui_server):
    import re

    board = json.loads((ROOT / "deploy" / "grafana" / "graphroute.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 8
    from openai import OpenAI

    traffic(ui_server["url"], 5)
    client = OpenAI(base_url=f"{ui_server['url']}/v1", api_key=SERVE_KEYS["full"][0], max_retries=0)
    for _ in client.chat.completions.create(model="ok", messages=[{"role": "user", "content": "hi"}], stream=True):
        pass  # a stream: the time-to-first-token histogram has a sample
    exported = set(scrape(ui_server["url"]))
    samples = set()
    for name in exported:  # a histogram family exports _bucket, _sum and _count, a counter _total
        samples |= {name, f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_total", f"{name}_created"}
    for expr in exprs:
        names = set(re.findall(r"\b(graphroute_[a-z_]+)\b", expr))
        assert names, expr
        assert names <= samples, (expr, names - samples)
    wanted = {"graphroute_requests", "graphroute_request_seconds", "graphroute_decisions", "graphroute_cost_dollars",
              "graphroute_fallbacks", "graphroute_breaker_state", "graphroute_budget_remaining_dollars"}
    used = {re.sub(r"_(bucket|total|sum|count)$", "", n) for e in exprs for n in re.findall(r"\b(graphroute_[a-z_]+)\b", e)}
    assert wanted <= used, wanted - used


def test_the_dashboard_reads_postgres_telemetry_as_it_reads_jsonl(postgres_db, tmp_path):
    from graphroute.events import DecisionEvent
    from graphroute.runtime.telemetry import JsonlSink
    from graphroute.serve.dashboard import from_telemetry
    from graphroute.storage import PostgresSink

    t0 = time.time() - 300
    recs = [DecisionEvent(run_id=f"r{i}", prompt=f"question {i}", model=["small", "big"][i % 2], reason="threshold",
                          cost=0.001 * (i % 3), latency_ms=10.0 + i, served=["mixtral", "gpt4"][i % 2],
                          virtual_model=["auto", "ab:big"][i % 3 == 0], key=["app", "ops"][i % 2], ts=t0 + 7 * i).record()
            for i in range(40)]
    pg, jsonl = PostgresSink(postgres_db), JsonlSink(tmp_path / "t.jsonl")
    for r in recs:
        pg.write(r)
        jsonl.write(r)
    assert pg.flush()
    (from_pg, _), (from_file, _) = from_telemetry(pg), from_telemetry(jsonl)
    pg.close()
    assert from_pg == from_file
    assert from_pg["stats"]["decisions"] == 40 and {k["key"] for k in from_pg["keys"]} == {"app", "ops"}
    mix = from_pg["mix"]["series"]
    assert set(mix) == {"auto", "ab:big"} and sum(sum(v) for m in mix.values() for v in m.values()) == 40
    assert from_pg["keys"][0]["cost"] == pytest.approx(sum(r["cost"] for r in recs if r["key"] == "app"))
