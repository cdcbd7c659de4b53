"""Many workers, one router: ``graphroute serve --workers 1`` and ``--workers 2`` sharing state in
Redis, against the faulty providers of benchmarks/faults.py (benchmarks/fake_upstream.py: timeouts,
HTTP 429/500, malformed bodies, slowness), 64 concurrent clients, loopback only.

Throughput runs (no injected events) for 1 and 2 workers, then one fault run with 2 workers and one
global budget that binds during the run: the ``flaky`` provider is dead from 10 % to 50 % of the
run, Redis (a private redis-server with an append-only file) is restarted at 60 %, and one worker
is killed (SIGKILL) at 75 %. Reported: requests lost (neither an answer nor an error in OpenAI's
format), budget overruns (shared spend above the limit), failed calls the dead provider received
(allowed: 3 plus one probe per cool-down), whether the workers survived the Redis restart, whether
the killed worker's reservations expired within their TTL, and requests per second.

    python benchmarks/scale.py [--requests 3000] [--concurrency 64] [--rounds 1] [--throughput-only]

Last line: ``workers=W requests=N lost=L budget_overruns=B dead_calls=D redis_restart_ok=R worker_kill_ok=K rps_1=X rps_2=Y``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import redis
import yaml

from redis_server import RedisServer, free_port

HERE = Path(__file__).resolve().parent
PRICES = {"fast": (0.15, 0.6), "mid": (0.8, 2.4), "big": (2.5, 10.0), "flaky": (0.2, 0.8)}
COOLDOWN_S = 0.5


def write_config(folder: Path, upstream: str, state: str, budget: float | None) -> Path:
    models = {m: {"model": m, "base_url": f"{upstream}/v1", "input_price": i, "output_price": o, "max_output_tokens": 50}
              for m, (i, o) in PRICES.items()}
    cfg = {"models": models,
           "routers": {"spread": {"type": "strategy", "kind": "weighted_random",
                                  "params": {"weights": {"fast": 4, "mid": 2, "big": 1, "flaky": 3}}}},
           "serve": {"aliases": {"auto": "router-spread"},
                     "fallbacks": {"fast": ["mid", "big"], "mid": ["fast", "big"], "big": ["mid", "fast"],
                                   "flaky": ["fast", "mid", "big"]},
                     "retries": 2, "timeout_s": 1.0, "budget": budget, "state": state, "state_policy": "fail_closed",
                     "breaker": {"failures": 3, "window_s": 10.0, "cooldown_s": COOLDOWN_S}}}
    path = folder / f"scale-{int(time.time() * 1000)}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def start(cmd: list[str], url: str, log: Path, env: dict | None = None, timeout_s: float = 120) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return proc
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited: {log.read_text()[-2000:]}")
            time.sleep(0.2)
    raise RuntimeError(f"{cmd} did not answer {url}")


def upstream_stats(upstream: str) -> dict:
    return json.load(urllib.request.urlopen(f"{upstream}/stats"))


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


async def load(url: str, n: int, concurrency: int, events: dict[float, callable] | None = None) -> dict:
    """``n`` chat requests from ``concurrency`` clients; ``events``: fraction of the run -> action."""
    outcome = {"answered": 0, "typed": 0, "lost": 0, "codes": {}, "phases": [{}]}
    sent = [0]
    done_after_kill = [0]
    killed = [False]
    pending = sorted((events or {}).items())
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        async def client() -> None:
            while sent[0] < n:
                i = sent[0]
                sent[0] += 1
                while pending and i >= pending[0][0] * n:
                    _, action = pending.pop(0)
                    outcome["phases"].append({})
                    if action() == "killed":
                        killed[0] = True
                body = {"model": "auto", "messages": [{"role": "user", "content": f"request {i}"}]}
                data, code = None, None
                for _ in range(3):  # a connection reset is retried twice, as the openai SDK does (max_retries=2)
                    try:
                        async with http.post(f"{url}/v1/chat/completions", json=body) as r:
                            data = await r.json(content_type=None)
                            code = r.status
                        break
                    except Exception as exc:  # the connection broke (a worker was killed) or the body is not JSON
                        outcome["resets"] = outcome.get("resets", 0) + 1
                        last = type(exc).__name__
                if code is None:
                    outcome["lost"] += 1
                    outcome["codes"][last] = outcome["codes"].get(last, 0) + 1
                    continue
                outcome["codes"][code] = outcome["codes"].get(code, 0) + 1
                ph = outcome["phases"][-1]
                ph[code] = ph.get(code, 0) + 1
                if code != 200 and isinstance(data.get("error"), dict):
                    key = f"{code} {data['error'].get('code')}"
                    outcome["codes"][key] = outcome["codes"].get(key, 0) + 1
                if code == 200 and data.get("choices"):
                    outcome["answered"] += 1
                    done_after_kill[0] += killed[0]
                elif code != 200 and isinstance(data.get("error"), dict) and data["error"].get("message"):
                    outcome["typed"] += 1
                else:
                    outcome["lost"] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        outcome["wall_s"] = time.perf_counter() - t0
    outcome["rps"] = n / outcome["wall_s"]
    outcome["answered_after_kill"] = done_after_kill[0]
    return outcome


def serve(cfg: Path, workers: int, folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = start([sys.executable, "-m", "graphroute.cli.main", "serve", str(cfg), "--port", str(port), "--workers",
                  str(workers), "--log-level", "warning"], f"http://127.0.0.1:{port}/health", folder / f"serve-{workers}.log")
    url = f"http://127.0.0.1:{port}"
    if workers > 1:  # every worker up
        deadline = time.monotonic() + 60
        while len(children(proc.pid)) < workers + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
    return proc, url


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=1, help="throughput runs per worker count (the median is reported)")
    ap.add_argument("--throughput-only", action="store_true", help="skip the fault run")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="graphroute-scale-"))
    rs = RedisServer(folder / "redis", persist=True).start()
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    fake = start([sys.executable, str(HERE / "fake_upstream.py"), "--port", str(up_port), "--latency-ms", "0"],
                 f"{upstream}/stats", folder / "upstream.log")
    client = redis.Redis.from_url(rs.url)
    rps: dict[int, list[float]] = {1: [], 2: []}
    try:
        for w in [1, 2] * args.rounds:  # throughput, no injected events, no budget
            client.flushall()
            proc, url = serve(write_config(folder, upstream, rs.url, None), w, folder)
            before = client.info("commandstats"), client.info("stats")["total_commands_processed"]
            try:
                r = asyncio.run(load(url, args.requests, args.concurrency))
            finally:
                after = client.info("commandstats"), client.info("stats")["total_commands_processed"]
                stop(proc)
            rps[w].append(r["rps"])

            def calls(stats: dict, name: str) -> int:
                return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))

            trips = {c: (calls(after[0], c) - calls(before[0], c)) / args.requests for c in ("evalsha", "eval", "set", "hmget")}
            print(f"Redis per request, {w} worker(s): {trips['evalsha'] + trips['eval']:.2f} scripts, {trips['set']:.2f} SET, "
                  f"{trips['hmget']:.3f} HMGET (the 1/s breaker sync); {(after[1] - before[1]) / args.requests:.1f} commands "
                  f"counting those inside scripts")
            print(f"throughput, {w} worker(s): {r['rps']:.1f} requests/s ({r['answered']} answered, {r['typed']} typed "
                  f"errors, {r['lost']} lost, {r['codes']})", flush=True)

        rps_med = {w: statistics.median(v) for w, v in rps.items()}
        if args.rounds > 1:
            print(f"requests/s per round: 1 worker {[round(x, 1) for x in rps[1]]}, 2 workers {[round(x, 1) for x in rps[2]]}")
        if args.throughput_only:
            print(f"rps_1={rps_med[1]:.1f} rps_2={rps_med[2]:.1f}")
            return
        # the fault run: 2 workers, a binding global budget, dead provider, Redis restart, one worker killed
        client.flushall()
        budget = args.requests * 1.6e-5  # binds in the last part of the run
        proc, url = serve(write_config(folder, upstream, rs.url, budget), 2, folder)
        pids = [p for p in children(proc.pid)]
        marks: dict[str, float] = {}
        dead_before = upstream_stats(upstream)["dead_calls"]

        def control(dead: str) -> None:
            urllib.request.urlopen(f"{upstream}/control?dead={dead}").read()
            marks["dead_on" if dead else "dead_off"] = time.monotonic()

        def restart_redis() -> None:
            marks["redis_restart"] = time.monotonic()
            rs.restart(down_s=0.5)

        def kill_worker() -> str:
            workers = [p for p in children(proc.pid) if p in pids]
            victim = workers[-1]
            os.kill(victim, signal.SIGKILL)
            marks["killed"] = time.monotonic()
            return "killed"

        events = {0.1: lambda: control("flaky"), 0.4: lambda: control(""), 0.5: restart_redis, 0.65: kill_worker}
        r = asyncio.run(load(url, args.requests, args.concurrency, events))
        survivors = [p for p in pids if p in children(proc.pid)]
        spent = float(client.hget("{gr:budget}:spent", "*") or 0.0)
        held_end = float(client.hget("{gr:budget}:held", "*") or 0.0)
        ttl = 1.0 * (2 + 1) + 5.0
        stats = upstream_stats(upstream)
        dead_calls = stats["dead_calls"] - dead_before
        dead_s = marks["dead_off"] - marks["dead_on"]
        allowed = 3 + math.ceil(dead_s / COOLDOWN_S) + 1
        # the killed worker's reservations: wait out their TTL, then nothing may be held
        expire_wait = 0.0
        t0 = time.monotonic()
        while held_end > 1e-9 and time.monotonic() - t0 < ttl + 5:
            time.sleep(1.0)
            # a reservation only expires when a script runs: one tiny reserve + release through the server
            asyncio.run(_touch(url))
            held_end = float(client.hget("{gr:budget}:held", "*") or 0.0)
            expire_wait = time.monotonic() - t0
        stop(proc)
        overruns = int(spent > budget + 1e-9)
        redis_ok = int(len(survivors) >= 1 and r["lost"] == 0 and overruns == 0)
        kill_ok = int(r["answered_after_kill"] > 0 and held_end <= 1e-9 and overruns == 0)
        print(f"fault run, 2 workers: {r['answered']} answered, {r['typed']} typed errors, {r['lost']} lost {r['codes']}; "
              f"{r.get('resets', 0)} connections reset by the killed worker, retried by the client; "
              f"{r['rps']:.1f} requests/s")
        print("by phase (start, dead on, dead off, redis restart, worker killed):", r["phases"])
        print(f"budget: spent ${spent:.6f} of ${budget:.6f} (shared, both workers); overruns {overruns}")
        print(f"dead provider: {dead_calls} failed calls in {dead_s:.1f} s dead (allowed 3 + one probe per "
              f"{COOLDOWN_S} s = {allowed}), at ms after its death: {stats['dead_at_ms'][-dead_calls:] if dead_calls else []}")
        print(f"redis restarted mid-run: {len(survivors)} of {len(pids)} original workers still up after the kill; "
              f"{r['answered_after_kill']} answered after the SIGKILL; reservations left held ${held_end:.6f} "
              f"{expire_wait:.1f} s after the run (TTL {ttl:.0f} s)")
        print(f"2 workers vs 1: {rps_med[2] / rps_med[1]:.2f}x on {os.cpu_count()} cores shared with the load generator, the "
              f"fake upstream and Redis")
        print(f"workers=2 requests={args.requests} lost={r['lost']} budget_overruns={overruns} dead_calls={dead_calls} "
              f"redis_restart_ok={redis_ok} worker_kill_ok={kill_ok} rps_1={rps_med[1]:.1f} rps_2={rps_med[2]:.1f}")
    finally:
        fake.terminate()
        rs.stop()


async def _touch(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/chat/completions",
                             json={"model": "fast", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1}) as r:
            await r.read()


if __name__ == "__main__":
    main()
