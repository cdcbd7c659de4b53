"""Speed of the foundation: `import graphroute`, dataset loading, token counting, and a full
`graphroute eval` of the default routers on both built-ins (in a cold process each).

Run: python benchmarks/eval_speed.py
Prints one line per figure and a last line `import_s=… load_mmlu_s=… eval_default_s=…`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time


def cold(code: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    base = cold("pass")
    imp = cold("import graphroute") - base
    print(f"import graphroute (median of 5 cold processes, minus bare interpreter): {imp:.3f} s")
    from graphroute.costs import count_tokens
    from graphroute.datasets import load_dataset

    t = time.perf_counter()
    mmlu = load_dataset("routellm-mmlu")
    load = time.perf_counter() - t
    print(f"load routellm-mmlu ({len(mmlu)} rows): {load:.2f} s")
    t = time.perf_counter()
    count_tokens(mmlu.prompts)
    print(f"count cl100k tokens of {len(mmlu)} prompts: {time.perf_counter() - t:.2f} s")
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "graphroute.cli.main", "eval", "--plot", f"{d}/p.png",
                        "--json", f"{d}/r.json"], check=True, stdout=subprocess.DEVNULL)
        ev = time.perf_counter() - t
    print(f"graphroute eval (defaults: random, the recommended router, oracle on both built-ins; plot, JSON): {ev:.1f} s")
    print(f"import_s={imp:.3f} load_mmlu_s={load:.2f} eval_default_s={ev:.1f}")


if __name__ == "__main__":
    main()
