"""What graphroute serve adds to a request, side by side with the LiteLLM proxy, in one run.

Processes on this machine (loopback only): the fake upstream (benchmarks/fake_upstream.py, fixed
20 ms latency), ``graphroute serve`` (one worker; a static route = a model id passed through, and
the recommended classifier router over two fake models), the LiteLLM proxy (one worker,
simple-shuffle, same upstream) and this load generator: K concurrent clients, each sending its next
request when the last one is answered, for a fixed time per (path, K). Reported per path and K:
latency p50/p99, added p50/p99 over calling the upstream directly, and requests per second.

The LiteLLM proxy runs from its own virtual environment so that its pinned dependencies do not
touch graphroute's::

    python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'
    python benchmarks/serve_overhead.py --litellm /tmp/litellm-venv/bin/litellm

The classifier path decides in batches (``graphroute.routers.batched_decisions``): the requests that arrive
while a batch is embedded form the next one. The encoder's own batch rate (the encoder the served
router embeds requests with — ``serve.query_encoder: auto``, see ``graphroute.encoders.query`` —
embedding 400 unseen prompts in calls of 64, best of three passes after a warm-up pass, the
servers idle) is measured in the same run: the ceiling a routing server can reach on these cores.

A second graphroute server with tracing on (``serve.otel`` to an OTLP/HTTP collector in this
process) serves the static path as ``graphroute-static-traced``: the cost of a trace per request.

Last line: ``static_p50_ms=A classifier_p50_ms=B litellm_p50_ms=C graphroute_rps=D classifier_rps=E
litellm_rps=F encoder_batch_rps=G`` (added p50 over direct and requests per second at K = 64; G in
prompts per second).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from conftest import start_process, stop_process  # noqa: E402  (the tests' process helpers)

from graphroute.datasets import load_dataset  # noqa: E402
from graphroute.encoders import resolve_encoder  # noqa: E402
from graphroute.encoders.query import query_variant  # noqa: E402
from graphroute.models.local import free_port  # noqa: E402
from graphroute.serve import hash_key  # noqa: E402

KEY = "sk-bench-" + "0" * 48


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that takes the traced server's exports (and counts their spans)."""

    spans = 0

    def do_POST(self):  # noqa: N802
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        req = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers["content-length"])))
        type(self).spans += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


async def _request(reader, writer, host: str, path: str, body: bytes, auth: str) -> int:
    """One HTTP/1.1 keep-alive POST; returns the status. Written by hand: the load generator's own
    cost must be small and the same for every path (httpx costs ~0.5 ms of CPU per request here)."""
    writer.write(f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
                 f"authorization: Bearer {auth}\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _load(port: int, path: str, bodies: list[bytes], k: int, seconds: float, auth: str) -> dict:
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = i
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                status = await _request(reader, writer, f"127.0.0.1:{port}", path, bodies[n % len(bodies)], auth)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if status != 200:
                errors += 1
            else:
                lat.append((time.perf_counter() - t0) * 1000)
            n += k
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(k)))
    wall = time.perf_counter() - t0
    a = np.array(lat)
    return {"n": len(lat), "errors": errors, "rps": len(lat) / wall, "lat": lat,
            "p50": float(np.percentile(a, 50)) if len(a) else float("nan"),
            "p99": float(np.percentile(a, 99)) if len(a) else float("nan")}


def _bodies(model: str, prompts: list[str], stream: bool = False) -> list[bytes]:
    return [json.dumps({"model": model, "messages": [{"role": "user", "content": p}], "max_tokens": 16,
                        "stream": stream}).encode() for p in prompts]


def _encoder_batch_rps(prompts: list[str]) -> float:
    """Prompts per second of the encoder the served router embeds requests with (the classifier's
    default, MiniLM layers 1-6, in the variant ``serve.query_encoder: auto`` picks) embedding prompts
    it has not seen in calls of 64 (the server's largest batch): the best of three passes, after a
    pass over other prompts (PyTorch compiles its kernels for each new input shape once)."""
    fitted = resolve_encoder("layers")
    enc = query_variant(fitted.id, "auto") or fitted
    enc.encode([f"Warm {i}: {p}" for i, p in enumerate(prompts)])
    best = 0.0
    for run in range(3):
        fresh = [f"Encoder {run} {i}: {p}" for i, p in enumerate(prompts)]
        t0 = time.perf_counter()
        for i in range(0, len(fresh), 64):
            enc.encode(fresh[i:i + 64])
        best = max(best, len(fresh) / (time.perf_counter() - t0))
    return best


def _tracing_cost(paths: dict, seconds: float, rounds: int = 4) -> float:
    """The static path's p50 at K = 1 with tracing on minus off: ``rounds`` alternating runs of each
    (the two servers take turns, so that drifts in the machine's speed fall on both), latencies pooled."""
    lat: dict[str, list[float]] = {"graphroute-static": [], "graphroute-static-traced": []}
    for _ in range(rounds):
        for name in lat:
            port, path, bodies = paths[name]
            lat[name] += asyncio.run(_load(port, path, bodies, 1, seconds / 2, KEY))["lat"]
    on, off = (float(np.percentile(lat[n], 50)) for n in ("graphroute-static-traced", "graphroute-static"))
    print(f"K=1 tracing off/on, {rounds} alternating rounds: p50 {off:.2f} / {on:.2f} ms "
          f"(n={len(lat['graphroute-static'])} / {len(lat['graphroute-static-traced'])})", flush=True)
    return on - off


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--litellm", default="/tmp/litellm-venv/bin/litellm", help="the LiteLLM proxy's executable")
    ap.add_argument("--seconds", type=float, default=6.0, help="load time per (path, K)")
    ap.add_argument("--ks", default="1,16,64,256")
    args = ap.parse_args()
    ks = [int(x) for x in args.ks.split(",")]
    # numbered so that no prompt is one whose embedding ships with the package: the encoder really runs
    prompts = [f"Question {i}: {p}" for i, p in enumerate(load_dataset("routellm-mmlu").prompts[:400])]
    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    up_port, gr_port, ll_port = free_port(), free_port(), free_port()
    up_url = f"http://127.0.0.1:{up_port}/v1"
    fake = {"input_price": 0.0, "output_price": 0.0, "max_output_tokens": 16, "base_url": up_url}
    cfg = {"models": {"fake": {"model": "ok", **fake}, "fake-b": {"model": "ok", **fake}},
           "routers": {"clf": {"type": "learned", "fit": {"data": "routellm-mmlu", "router": "classifier"},
                               "models": {"mistralai/Mixtral-8x7B-Instruct-v0.1": "fake", "gpt-4-1106-preview": "fake-b"}}},
           "serve": {"aliases": {"classifier": "router-clf"}, "keys": [{"name": "bench", "sha256": hash_key(KEY)}]}}
    (work / "serve.yaml").write_text(yaml.safe_dump(cfg))
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    traced = {**cfg, "serve": {**cfg["serve"], "otel": {"endpoint": f"http://127.0.0.1:{collector.server_port}/v1/traces"}}}
    (work / "serve-traced.yaml").write_text(yaml.safe_dump(traced))
    tr_port = free_port()
    (work / "litellm.yaml").write_text(yaml.safe_dump({
        "model_list": [{"model_name": "fake", "litellm_params": {"model": "openai/ok", "api_base": up_url, "api_key": "none"}}],
        "router_settings": {"routing_strategy": "simple-shuffle"}, "litellm_settings": {"telemetry": False}}))
    quiet = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False",
             "LITELLM_MASTER_KEY": KEY}  # both servers authenticate every request with one key
    procs = []
    try:
        procs.append(start_process([sys.executable, str(ROOT / "benchmarks" / "fake_upstream.py"), "--port", str(up_port),
                                    "--latency-ms", "20"], f"http://127.0.0.1:{up_port}/stats"))
        procs.append(start_process([sys.executable, "-m", "graphroute.cli.main", "serve", str(work / "serve.yaml"),
                                    "--port", str(gr_port), "--log-level", "warning"], f"http://127.0.0.1:{gr_port}/health",
                                   timeout_s=600))
        procs.append(start_process([sys.executable, "-m", "graphroute.cli.main", "serve", str(work / "serve-traced.yaml"),
                                    "--port", str(tr_port), "--log-level", "warning"], f"http://127.0.0.1:{tr_port}/health",
                                   timeout_s=600))
        procs.append(start_process([args.litellm, "--config", str(work / "litellm.yaml"), "--port", str(ll_port),
                                    "--num_workers", "1"], f"http://127.0.0.1:{ll_port}/health/liveliness",
                                   env=quiet, timeout_s=300, log=(work / "litellm.log").open("w")))
        paths = {"direct": (up_port, "/v1/chat/completions", _bodies("ok", prompts)),
                 "graphroute-static": (gr_port, "/v1/chat/completions", _bodies("fake", prompts)),
                 "graphroute-static-traced": (tr_port, "/v1/chat/completions", _bodies("fake", prompts)),
                 "graphroute-classifier": (gr_port, "/v1/chat/completions", _bodies("classifier", prompts)),
                 "litellm": (ll_port, "/chat/completions", _bodies("fake", prompts))}
        for name, (port, path, bodies) in paths.items():  # warm up: connections, first-call costs
            asyncio.run(_load(port, path, bodies, 4, 1.5, KEY))
        res: dict[tuple[str, int], dict] = {}
        for k in ks:
            for name, (port, path, bodies) in paths.items():
                res[name, k] = r = asyncio.run(_load(port, path, bodies, k, args.seconds, KEY))
                print(f"K={k:<4d} {name:<22s} n={r['n']:<6d} errors={r['errors']:<4d} rps={r['rps']:8.1f} "
                      f"p50={r['p50']:7.2f} ms p99={r['p99']:7.2f} ms", flush=True)
        traced = _tracing_cost(paths, args.seconds) if 1 in ks else None
        print("\nadded over direct (p50 / p99 ms) and requests per second:")
        for k in ks:
            d = res["direct", k]
            row = [f"K={k}: direct {d['rps']:.0f}/s"]
            for name in ("graphroute-static", "graphroute-classifier", "litellm"):
                r = res[name, k]
                row.append(f"{name} +{r['p50'] - d['p50']:.2f}/+{r['p99'] - d['p99']:.2f} ms {r['rps']:.0f}/s")
            print("  " + "; ".join(row))
        enc_rps = _encoder_batch_rps(prompts)
        k = 64 if 64 in ks else ks[-1]
        d = res["direct", k]
        cl, ll = res["graphroute-classifier", k], res["litellm", k]
        print(f"\nat K={k}: classifier/litellm rate {cl['rps'] / ll['rps']:.2f}x, classifier/encoder batch rate "
              f"{cl['rps'] / enc_rps:.2f}x ({enc_rps:.0f} prompts/s), classifier/litellm added p50 "
              f"{(cl['p50'] - d['p50']) / max(ll['p50'] - d['p50'], 1e-9):.2f}x")
        if 1 in ks:
            print(f"at K=1: static added p50 {res['graphroute-static', 1]['p50'] - res['direct', 1]['p50']:.2f} ms; "
                  f"tracing on adds {traced:+.2f} ms to it ({_Collector.spans} spans exported)")
        print(f"static_p50_ms={res['graphroute-static', k]['p50'] - d['p50']:.2f} "
              f"classifier_p50_ms={cl['p50'] - d['p50']:.2f} "
              f"litellm_p50_ms={ll['p50'] - d['p50']:.2f} "
              f"graphroute_rps={res['graphroute-static', k]['rps']:.1f} classifier_rps={cl['rps']:.1f} "
              f"litellm_rps={ll['rps']:.1f} encoder_batch_rps={enc_rps:.1f}")
    finally:
        for p in procs:
            stop_process(p)


if __name__ == "__main__":
    main()
