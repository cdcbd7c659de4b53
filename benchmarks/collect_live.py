"""A real collection: GSM8K prompts through the live Gemma 3 270M, joined with the recorded outcomes.

200 GSM8K questions from the built-ins (seed-0 sample) go through the local Gemma 3 270M (greedy,
at most ``--max-tokens`` tokens) with ``graphroute collect`` and the ``numeric`` grader. The
built-in rows carry no reference answer, so the reference is the final number of a recorded
response graded correct (GPT-4's, else Mixtral's); questions neither recorded model got right have
none and are left out (counted). The Gemma column is joined with the recorded Mixtral and GPT-4
outcomes into a three-model dataset (the recorded models priced from the built-in price table and
token counts; the local model costs nothing); a three-model router (``knn``, 5-fold CV) is evaluated on it:
its quality-cost curve's AIQ beside the single models.

Needs the ``live`` extra. Run: python benchmarks/collect_live.py [--n 200] [--max-tokens 128]
The last line reads: ``n=… local_accuracy=… tokens_per_s=… aiq=…``
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from graphroute.collect import collect, final_number
from graphroute.costs import CostModel
from graphroute.datasets import load_dataset
from graphroute.evaluation import evaluate
from graphroute.models import chat_model
from graphroute.models.local import LocalServer

GPT4, MIXTRAL = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def references(gsm) -> tuple[list[int], list[str]]:
    """Rows with a reference: the final number of a recorded response graded correct."""
    rows, refs = [], []
    for i in range(len(gsm)):
        for m in (GPT4, MIXTRAL):
            j = gsm.models.index(m)
            v = final_number(gsm.responses[m][i]) if gsm.scores[i, j] == 1 else None
            if v is not None:
                rows.append(i)
                refs.append(v)
                break
    return rows, refs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=128)
    args = ap.parse_args()
    gsm = load_dataset("routellm-gsm8k")
    sample = np.sort(np.random.default_rng(0).permutation(len(gsm))[:args.n])
    has_ref, refs = references(gsm.subset(sample))
    print(f"{len(sample)} GSM8K questions sampled; {len(sample) - len(has_ref)} left out: neither recorded model right")
    rows = [{"id": int(sample[i]), "prompt": gsm.prompts[sample[i]], "reference": r} for i, r in zip(has_ref, refs)]
    with tempfile.TemporaryDirectory() as d, LocalServer(n_threads=2) as server:
        llm = chat_model(server.model_alias, base_url=server.base_url, max_tokens=args.max_tokens, temperature=0.0)
        t0 = time.perf_counter()
        res = collect({"gemma-3-270m": llm}, rows, "numeric", Path(d) / "gemma.csv", concurrency=1, progress=False)
        wall = time.perf_counter() - t0
        local = list(csv.DictReader((Path(d) / "gemma.csv").open()))
    out_tokens = sum(int(r["gemma-3-270m|output_tokens"]) for r in local)
    acc = float(np.mean([float(r["gemma-3-270m"]) for r in local]))
    tps = out_tokens / wall
    print(f"gemma-3-270m on {res.rows} questions: accuracy {acc:.3f}, {out_tokens} output tokens in {wall:.0f} s "
          f"({tps:.1f} tokens/s), {res.calls} calls")
    by_id = {int(r["id"]): float(r["gemma-3-270m"]) for r in local}
    ids = [r["id"] for r in rows if r["id"] in by_id]
    three = gsm.subset(np.asarray(ids))
    recorded_costs = CostModel.default().dataset_costs(three)  # list prices x recorded token counts
    table = Path(tempfile.mkdtemp()) / "three.jsonl"
    with table.open("w") as fh:
        for k, i in enumerate(ids):
            rec = {"prompt": three.prompts[k], "gemma-3-270m": by_id[i], "gemma-3-270m|cost": 0.0}
            for j, m in enumerate(three.models):
                rec[m] = float(three.scores[k, j])
                rec[f"{m}|cost"] = float(recorded_costs[k, j])
            fh.write(json.dumps(rec) + "\n")
    ds = load_dataset(table)
    for j, m in enumerate(ds.models):
        print(f"  {m:40s} accuracy {ds.scores[:, j].mean():.3f}  $/query {ds.costs[:, j].mean():.6f}")
    results = evaluate(["knn"], ds, cv=5)
    knn = results[0]
    aiq = knn.cost.get("aiq", float("nan"))
    print(f"three-model knn router (5-fold CV, n={len(ds)}): AIQ {aiq:.4f}")
    print(f"n={len(ds)} local_accuracy={acc:.3f} tokens_per_s={tps:.1f} aiq={aiq:.4f}")


if __name__ == "__main__":
    main()
