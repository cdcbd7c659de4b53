"""The monitoring page's pictures, from real traffic: starts benchmarks/fake_upstream.py, a
``graphroute serve`` over it (a learned router, a fallback, an A/B test, budgets, JSONL telemetry,
traces to a local OTLP/HTTP collector started here), sends ``--requests`` requests through the
``openai`` client, then

* saves a screenshot of ``/ui`` taken by Debian's Chromium (Selenium) to ``--screenshot``;
* prints the span tree of one routed request and of one that fell back, as the collector got them.

Run: python scripts/monitoring_demo.py [--requests 300] [--seconds 40] [--screenshot docs/img/dashboard.png]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from conftest import start_process, stop_process  # noqa: E402  (the tests' process helpers)

from graphroute.datasets import load_dataset  # noqa: E402
from graphroute.models.local import free_port  # noqa: E402
from graphroute.serve import hash_key  # noqa: E402

ADMIN, USER = "gr-demo-admin-0123456789", "gr-demo-user-0123456789"
SPANS: list[dict] = []


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP traces endpoint that keeps each span's name, ids and attributes."""

    def do_POST(self):  # noqa: N802
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        req = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers["content-length"])))
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attrs = {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in s.attributes
                             if a.value.WhichOneof("value") != "array_value"}
                    SPANS.append({"name": s.name, "id": s.span_id.hex(), "parent": s.parent_span_id.hex(),
                                  "ms": (s.end_time_unix_nano - s.start_time_unix_nano) / 1e6, "start": s.start_time_unix_nano,
                                  "attrs": attrs})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def tree(root: dict, depth: int = 0) -> list[str]:
    keep = ("graphroute.virtual_model", "graphroute.model", "graphroute.chosen", "graphroute.reason", "graphroute.propensity",
            "gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "error.type",
            "graphroute.cost_usd", "graphroute.fallback", "http.response.status_code")
    attrs = ", ".join(f"{k}={str(v)[:60]}" for k, v in root["attrs"].items() if k in keep)
    lines = [f"{'  ' * depth}{root['name']}  ({root['ms']:.1f} ms)  {attrs}"]
    for child in sorted((s for s in SPANS if s["parent"] == root["id"]), key=lambda s: s["start"]):
        lines += tree(child, depth + 1)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=40.0, help="spread the requests over this long (the mix over time)")
    ap.add_argument("--screenshot", default=str(ROOT / "docs" / "img" / "dashboard.png"))
    args = ap.parse_args()
    from openai import OpenAI
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    work = Path(tempfile.mkdtemp(prefix="graphroute-demo-"))
    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    up_port, port = free_port(), free_port()
    up = f"http://127.0.0.1:{up_port}/v1"
    models = {"mixtral": {"model": "ok", "base_url": up, "input_price": 0.6, "output_price": 0.6},
              "gpt4": {"model": "ok", "base_url": up, "input_price": 10.0, "output_price": 30.0},
              "dead": {"model": "dead", "base_url": up, "input_price": 1.0, "output_price": 2.0}}
    cfg = {"models": models,
           "routers": {"pick": {"type": "learned", "fit": {"data": "routellm-gsm8k", "router": "logistic"},
                                "models": {"gpt-4-1106-preview": "gpt4", "mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral"}}},
           "serve": {"aliases": {"auto": "router-pick-0.3"}, "fallbacks": {"dead": ["mixtral"]}, "retries": 1, "budget": 2.0,
                     "keys": [{"name": "ops", "sha256": hash_key(ADMIN), "models": ["*"], "admin": True},
                              {"name": "app", "sha256": hash_key(USER), "models": ["*"], "budget": 1.0}],
                     "experiments": {"ab": {"arms": {"control": {"target": "mixtral"}, "router": {"target": "router-pick"}},
                                            "unit": "request", "metrics": ["cost", "latency"]}},
                     "telemetry": "telemetry.jsonl", "breaker": {"failures": 3, "window_s": 30, "cooldown_s": 600},
                     "otel": {"endpoint": f"http://127.0.0.1:{collector.server_port}/v1/traces", "service_name": "demo"}}}
    (work / "serve.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    procs = []
    try:
        procs.append(start_process([sys.executable, str(ROOT / "benchmarks" / "fake_upstream.py"), "--port", str(up_port),
                                    "--latency-ms", "20"], f"http://127.0.0.1:{up_port}/stats"))
        procs.append(start_process([sys.executable, "-m", "graphroute.cli.main", "serve", str(work / "serve.yaml"),
                                    "--port", str(port), "--log-level", "warning"], f"http://127.0.0.1:{port}/health",
                                   env={"OTEL_BSP_SCHEDULE_DELAY": "200"}, timeout_s=600))
        prompts = load_dataset("routellm-gsm8k").prompts
        clients = {k: OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=k, max_retries=0) for k in (ADMIN, USER)}
        plan = [("auto", USER), ("auto", ADMIN), ("mixtral", USER), ("ab", USER), ("gpt4", ADMIN), ("auto", USER),
                ("dead", ADMIN), ("ab", ADMIN), ("auto", USER), ("mixtral", ADMIN)]
        t0 = time.perf_counter()
        for i in range(args.requests):
            time.sleep(max(0.0, t0 + i * args.seconds / args.requests - time.perf_counter()))
            model, key = plan[i % len(plan)]
            body = {"model": model, "messages": [{"role": "user", "content": prompts[i % len(prompts)]}]}
            if i % 7 == 3:
                for _ in clients[key].chat.completions.create(**body, stream=True):
                    pass
            else:
                clients[key].chat.completions.create(**body)
        print(f"{args.requests} requests in {time.perf_counter() - t0:.1f} s")
        opts = webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium") or "chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1900"):
            opts.add_argument(arg)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=opts)
        try:
            driver.get(f"http://127.0.0.1:{port}/ui")
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "key").is_displayed())
            driver.find_element(By.ID, "key").send_keys(ADMIN)
            driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="status"]').text == "live")
            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(args.screenshot)
            print(f"screenshot: {args.screenshot}")
        finally:
            driver.quit()
        time.sleep(1.5)  # the last spans leave the server's batch processor
    finally:
        for p in reversed(procs):
            stop_process(p)
        collector.shutdown()
    requests = sorted((s for s in SPANS if s["name"] == "POST /v1/chat/completions"), key=lambda s: s["start"])
    routed = [s for s in requests if s["attrs"].get("graphroute.virtual_model") == "auto"][5]  # warm, not the first
    fell = next(s for s in requests if s["attrs"].get("graphroute.fallback"))
    for title, root in (("a routed request", routed), ("a request that fell back", fell)):
        print(f"\n{title}:")
        print("\n".join(tree(root)))
    print(f"\nspans received: {len(SPANS)}")


if __name__ == "__main__":
    main()
