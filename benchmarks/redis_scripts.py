"""How many of graphroute's state scripts one Redis core runs per second (redis-benchmark, 50
connections, pipelines of 16, against a private redis-server): the ceiling of the load model on
docs/scaling.md. Reservations are given a 1 s TTL so that the expiry sweep runs all the time.

    python benchmarks/redis_scripts.py [--n 200000]

Last line: ``budget_reserve=R budget_settle=S breaker_allow=A breaker_success=B rate_hit=H`` (scripts/s)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import redis

from graphroute.state import lua
from redis_server import RedisServer

B = ["{gr:budget}:spent", "{gr:budget}:held", "{gr:budget}:res", "{gr:budget}:exp", "{gr:budget}:epoch"]
BR = ["{gr:br:m}:", "{gr:br:m}:f", "{gr:br:m}:t"]
CASES = {  # script, keys, args (__rand_int__: redis-benchmark's random number, a new reservation id each call)
    "budget_reserve": ("BUDGET_RESERVE", B, ["e1", "r__rand_int__", "0.00001", "1", "*", "-1", "key:a", "-1"]),
    "budget_settle": ("BUDGET_SETTLE", B, ["e1", "r__rand_int__", "0.00001", "*", "key:a"]),
    "breaker_allow": ("BREAKER_ALLOW", BR, ["3", "10", "60", "tok", "30"]),
    "breaker_success": ("BREAKER_SUCCESS", BR, ["", "0"]),
    "rate_hit": ("RATE_HIT", ["{gr:rl:key:a:1000000/60}"], ["1000000000", "60"]),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    args = ap.parse_args()
    server = RedisServer(Path(tempfile.mkdtemp(prefix="graphroute-redis-")), persist=False).start()
    bench = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
    out = {}
    try:
        client = redis.Redis(port=server.port)
        client.set(B[4], "e1")
        for name, (script, keys, argv) in CASES.items():
            sha = client.script_load(getattr(lua, script))
            run = subprocess.run([bench, "-p", str(server.port), "-n", str(args.n), "-c", "50", "-P", "16", "-q",
                                  "EVALSHA", sha, str(len(keys)), *keys, *argv], capture_output=True, text=True, timeout=600)
            rates = re.findall(r"([\d.]+) requests per second", run.stdout)
            errors = re.findall(r"ERR[^\n]*", run.stdout + run.stderr)
            if errors or not rates:
                raise RuntimeError(f"{name}: {errors[:1] or run.stdout[-300:]}")
            out[name] = float(rates[-1])
            print(f"{name}: {out[name]:,.0f} scripts/s", flush=True)
    finally:
        server.stop()
    print(" ".join(f"{k}={v:.0f}" for k, v in out.items()))


if __name__ == "__main__":
    main()
