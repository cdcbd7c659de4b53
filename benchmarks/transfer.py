"""How routers transfer: train on some built-in records, test on others with their own (weak, strong) pairs.

Every dataset is seen through :meth:`RoutingDataset.roles` (its pair renamed ``weak``/``strong``), so
records of different pairs pool and a router learns what needs the stronger model:

* MMLU and GSM8K: Mixtral-8x7B vs GPT-4-1106 (test: fold 1 of 5, grouped by prompt, seed 0; the
  other folds train);
* the 9-model tasks (``llmrouter-9``): its least and most accurate models, llama3-chatqa-1.5-8b vs
  llama-3.1-nemotron-51b (test: the 500 prompts of ``llmrouter-9-test``).

Formulations: ``logistic`` (a head per role, routing on the predicted gain), ``wins`` (RouteLLM's
target: the chance the strong model beats the weak one), ``blend`` (the mean of the two gains,
``2p - 1`` for wins) and any other router spec given with ``--routers``. Each cell: APGR on the test
set's pair (0.5 is random routing). ``unfamiliar``: the share of the 9-model test prompts below the
default familiarity 0.05.

Run: python benchmarks/transfer.py [--routers logistic,wins] [--train mmlu,gsm8k,llm9,mmlu+gsm8k,all]
The last line reads ``<router>_<train>_<test>=…`` for the ``all`` row.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from graphroute.datasets import RoutingDataset, load_dataset
from graphroute.evaluation.cv import cv_splits
from graphroute.metrics.curves import routellm_curve
from graphroute.metrics.summary import apgr
from graphroute.routers import make_router, router_names


def split(data: RoutingDataset) -> tuple[RoutingDataset, RoutingDataset]:
    test = np.sort(cv_splits(data, 5)[0])
    return data.subset(np.setdiff1d(np.arange(len(data)), test)), data.subset(test)


def pair_apgr(score: np.ndarray, data: RoutingDataset) -> float:
    weak, strong = data.scores[:, 0], data.scores[:, 1]
    return apgr(routellm_curve(score, weak, strong), float(weak.mean()), float(strong.mean()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--routers", default="logistic,wins")
    ap.add_argument("--train", default="mmlu,gsm8k,llm9,mmlu+gsm8k,all")
    args = ap.parse_args()
    mmlu_train, mmlu_test = split(load_dataset("routellm-mmlu").roles())
    gsm_train, gsm_test = split(load_dataset("routellm-gsm8k").roles())
    parts = {"mmlu": mmlu_train, "gsm8k": gsm_train, "llm9": load_dataset("llmrouter-9").roles()}
    tests = {"mmlu": mmlu_test, "gsm8k": gsm_test, "llm9": load_dataset("llmrouter-9-test").roles()}
    trains = {}
    for name in args.train.split(","):
        names = list(parts) if name == "all" else name.split("+")
        trains[name] = RoutingDataset.concat([parts[n] for n in names], name=name)
    specs = router_names(args.routers)
    blend = {"logistic", "wins"} <= set(specs)
    columns = specs + (["blend"] if blend else [])
    print("APGR on each test set's own pair (rows: training records; 0.5 = random); test n: "
          + ", ".join(f"{k} {len(v)}" for k, v in tests.items()))
    print(f"{'train':12s} {'router':20s} " + " ".join(f"{t:>7s}" for t in tests) + f" {'unfamiliar':>11s} {'fit s':>6s}")
    last = {}
    for tname, train in trains.items():
        scores: dict[str, dict[str, np.ndarray]] = {}
        for spec in specs:
            t0 = time.perf_counter()
            router = make_router(spec).fit(train)
            took = time.perf_counter() - t0
            scores[spec] = {k: router.score_dataset(d) for k, d in tests.items()}
            fam = router.familiarity(tests["llm9"].prompts)
            unfamiliar = float(np.mean(fam[0] < 0.05)) if fam is not None else float("nan")
            cells = {k: pair_apgr(scores[spec][k], d) for k, d in tests.items()}
            print(f"{tname:12s} {spec:20s} " + " ".join(f"{v:7.3f}" for v in cells.values()) + f" {unfamiliar:11.1%}"
                  f" {took:6.0f}")
            last.update({f"{spec}_{tname}_{k}": v for k, v in cells.items()})
        if blend:
            cells = {k: pair_apgr((scores["logistic"][k] + scores["wins"][k]) / 2, d) for k, d in tests.items()}
            print(f"{tname:12s} {'blend':20s} " + " ".join(f"{v:7.3f}" for v in cells.values()))
            last.update({f"blend_{tname}_{k}": v for k, v in cells.items()})
    row = "all" if "all" in trains else list(trains)[-1]
    print(" ".join(f"{k.replace(':', '_')}={v:.4f}" for k, v in last.items() if f"_{row}_" in k and
                   k.split(f"_{row}_")[0] in columns))


if __name__ == "__main__":
    main()
