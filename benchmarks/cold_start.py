"""Cold start: seconds from ``graphroute serve graphs/serve.yaml`` to its first answered request,
with an empty cache (a fresh install: nothing fitted on this machine yet), and again with the cache
the first start left.

Run: python benchmarks/cold_start.py

Last line: ``cold_start_s=A warm_start_s=B`` (start to the first 200 from ``auto``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from graphroute.models.local import free_port  # noqa: E402

BODY = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "What is 17 * 23?"}]}).encode()


def first_answer(cache: Path, limit_s: float = 900.0) -> float:
    port = free_port()
    env = {**os.environ, "GRAPHROUTE_CACHE": str(cache)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "graphroute.cli.main", "serve", str(ROOT / "graphs" / "serve.yaml"),
                             "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < limit_s:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=BODY,
                                             headers={"content-type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"no answer within {limit_s} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    cache = Path(tempfile.mkdtemp(prefix="graphroute-cold-"))
    cold = first_answer(cache)
    print(f"empty cache: first answer {cold:.1f} s after start")
    warm = first_answer(cache)
    print(f"second start (its cache): first answer {warm:.1f} s after start")
    print(f"cold_start_s={cold:.1f} warm_start_s={warm:.1f}")


if __name__ == "__main__":
    main()
