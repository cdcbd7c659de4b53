"""Which encoder variant the routers should embed queries with: speed and routing quality together.

The default learned router (``classifier``, MiniLM layers 1-6 mean-pooled) is fitted once per
dataset on the ONNX fp32 vectors: MMLU and GSM8K on 80 % of their prompts (seed 0), tested on the
other 20 %; the 9-model records on ``llmrouter-9``, tested on ``llmrouter-9-test``. Each variant
then embeds the test prompts as the query encoder (``Router.with_query_encoder``), as a served
router would, and is scored on:

* speed on this machine: p50 of one prompt per call, and prompts per second in calls of 64 (what
  the server's decision batcher hands the encoder at K = 64);
* quality: APGR on MMLU and GSM8K, accuracy at maximum quality on the 9-model test set, and the
  share of test prompts whose familiarity flag differs from fp32's (flagged: familiarity below
  fp32's 10th percentile on that test set, a threshold as ``min_familiarity`` would set).

The fastest variant whose APGR is within 0.005 of fp32's on both MMLU and GSM8K (and whose 9-model
accuracy is within 0.005) is printed as ``choice``.

Run: python benchmarks/encoder_choice.py [--speed-only]
The last line reads ``choice=<variant> fp32_batch_rps=… choice_batch_rps=… <variant>_mmlu_apgr=… ...``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.encoders import DEFAULT_LAYERS, OnnxEncoder, TorchBf16Encoder
from graphroute.evaluation.cv import Predictions
from graphroute.evaluation.evaluate import evaluate_predictions
from graphroute.costs import CostModel
from graphroute.routers import make_router

VARIANTS: dict[str, Callable[[], Any]] = {
    "onnx-fp32": lambda: OnnxEncoder(layers=DEFAULT_LAYERS),  # the default (2 threads, batches of 8)
    "onnx-fp32-1thread": lambda: OnnxEncoder(layers=DEFAULT_LAYERS, threads=1),
    "onnx-fp32-batch32": lambda: OnnxEncoder(layers=DEFAULT_LAYERS, batch_size=32),
    "onnx-int8": lambda: OnnxEncoder(layers=DEFAULT_LAYERS, quantize=True),
    "torch-bf16": lambda: TorchBf16Encoder(layers=DEFAULT_LAYERS),
}


def speed(enc: Any, prompts: list[str]) -> tuple[float, float]:
    enc.encode(prompts[:16])
    lat = []
    for p in prompts[:150]:
        t = time.perf_counter()
        enc.encode([p])
        lat.append((time.perf_counter() - t) * 1000)
    batch = prompts[:512]
    t = time.perf_counter()
    for i in range(0, len(batch), 64):
        enc.encode(batch[i:i + 64])
    return float(np.percentile(lat, 50)), len(batch) / (time.perf_counter() - t)


def split(data: Any, seed: int = 0) -> tuple[Any, Any]:
    rows = np.random.default_rng(seed).permutation(len(data))
    cut = int(0.8 * len(data))
    return data.subset(np.sort(rows[:cut])), data.subset(np.sort(rows[cut:]))


def quality(router: Any, train: Any, test: Any, enc: Any) -> tuple[Any, np.ndarray]:
    """The router's metrics on ``test`` with ``enc`` embedding the queries, and their familiarity."""
    router.with_query_encoder(enc)
    target = test.select_models(train.models)
    scores = np.asarray(router.score_dataset(target), dtype=np.float64)
    q = np.asarray(router.quality_dataset(target), dtype=np.float64) if len(train.models) > 2 else None
    res = evaluate_predictions("classifier", target, Predictions(scores, q, np.zeros(len(target), dtype=np.int64)),
                               costs=CostModel.default().dataset_costs(target))
    fam = router.familiarity(target.prompts)
    return res, np.zeros(len(target)) if fam is None else np.asarray(fam[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed-only", action="store_true")
    args = ap.parse_args()
    prompts = list(load_dataset("routellm-mmlu").prompts[:600])
    encs = {name: make() for name, make in VARIANTS.items()}
    fast = {}
    for name, enc in encs.items():
        p50, rps = speed(enc, prompts)
        fast[name] = rps
        print(f"{name:20s} one prompt p50 {p50:6.1f} ms   batches of 64: {rps:6.1f} prompts/s")
    if args.speed_only:
        return
    figures: dict[str, dict[str, float]] = {name: {} for name in encs}
    flags0: dict[str, np.ndarray] = {}
    fam0: dict[str, float] = {}
    for dname in ("routellm-mmlu", "routellm-gsm8k", "llmrouter-9"):
        data = load_dataset(dname)
        train, test = (data, load_dataset("llmrouter-9-test")) if dname == "llmrouter-9" else split(data)
        t = time.perf_counter()
        router = make_router("classifier").fit(train)
        print(f"{dname}: fitted on {len(train)} prompts in {time.perf_counter() - t:.0f} s; testing on {len(test)}")
        for name, enc in encs.items():
            res, fam = quality(router, train, test, enc)
            key = dname.split("-")[-1] if dname != "llmrouter-9" else "nine"
            value = res.many["router"]["accuracy"] if res.many else res.summary["routellm"]["apgr"]
            figures[name][key] = float(value)
            if name == "onnx-fp32":  # flagged: fp32's least familiar 10 % (the threshold stays for the others)
                fam0[dname] = float(np.quantile(fam, 0.1))
                flags0[dname] = fam < fam0[dname]
            changed = float(np.mean((fam < fam0[dname]) != flags0[dname]))
            figures[name][f"{key}_familiarity_changed"] = changed
            label = "accuracy at max quality" if res.many else "APGR"
            print(f"  {name:20s} {label} {value:.4f}   familiarity flag changed on {changed:.1%} of prompts")
    base = figures["onnx-fp32"]
    keep = [n for n in encs if all(abs(figures[n][k] - base[k]) <= 0.005 for k in ("mmlu", "gsm8k", "nine"))]
    choice = max(keep, key=lambda n: fast[n])
    print(f"within 0.005 of fp32 on all three: {keep}")
    tail = " ".join(f"{n.replace('-', '_')}_{k}={v:.4f}" for n in encs for k, v in figures[n].items()
                    if not k.endswith("changed"))
    print(f"choice={choice} fp32_batch_rps={fast['onnx-fp32']:.1f} choice_batch_rps={fast[choice]:.1f} {tail}")


if __name__ == "__main__":
    main()
