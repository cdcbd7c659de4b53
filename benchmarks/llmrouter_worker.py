"""Runs LLMRouter's own routers on graphroute's prompt vectors (inside the virtual environment that
``benchmarks/llmrouter_side_by_side.py`` makes; not importable from graphroute's).

Arguments: a work folder holding ``data.json`` (train/test prompts, the train outcomes, model
names, the test prompts' vectors' row offset), ``vectors.npy`` (train then test, MiniLM) and
``models.npy`` (a MiniLM vector per model name, the graph router's model features); then the router
names. Each router is configured by a YAML file as LLMRouter's own configs are (their training
configs' hyper-parameters), trained by its own trainer class, and asked ``route_single`` for every
test prompt. The one change: ``get_longformer_embedding``, which each router module calls on the
query text, is replaced by a lookup of the same prompt's MiniLM vector, so both libraries see the
same vectors. Writes ``picks-<router>.json`` (the chosen model per test prompt) and its timings.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network: litellm's bundled price map

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

ROUTERS = {  # name: (module, router class, trainer module, trainer class, hparam)
    "knn": ("knnrouter.router", "KNNRouter", "knnrouter.trainer", "KNNRouterTrainer",
            {"n_neighbors": 5, "metric": "cosine"}),
    "svm": ("svmrouter.router", "SVMRouter", "svmrouter.trainer", "SVMRouterTrainer",
            {"kernel": "rbf", "C": 1.0, "gamma": "scale", "probability": True}),
    "mlp": ("mlprouter.router", "MLPRouter", "mlprouter.trainer", "MLPTrainer",
            {"hidden_layer_sizes": [128, 64], "activation": "relu", "lr": 0.001, "epochs": 100, "batch_size": 32,
             "alpha": 0.0001}),
    "mf": ("mfrouter.router", "MFRouter", "mfrouter.trainer", "MFRouterTrainer",
           {"latent_dim": 128, "text_dim": 384, "lr": 0.001, "epochs": 5, "noise_alpha": 0.0}),
    "graph": ("graphrouter.router", "GraphRouter", "graphrouter.trainer", "GraphTrainer",
              {"hidden_dim": 64, "learning_rate": 0.001, "weight_decay": 1e-4, "train_epoch": 100, "batch_size": 4,
               "train_mask_rate": 0.3, "val_split_ratio": 0.2}),
}


def main() -> None:
    work, names = Path(sys.argv[1]), sys.argv[2].split(",")
    data = json.loads((work / "data.json").read_text())
    vectors = np.load(work / "vectors.npy").astype(np.float32)
    model_vectors = np.load(work / "models.npy")
    train, test, models = data["train"], data["test"], data["models"]
    lookup = {p: vectors[i] for i, p in enumerate(train + test)}
    rows = [{"query": p, "model_name": m, "performance": float(s), "embedding_id": i, "task_name": g}
            for i, (p, scores, g) in enumerate(zip(train, data["scores"], data["groups"]))
            for m, s in zip(models, scores) if s is not None]
    with (work / "routing_train.jsonl").open("w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    torch.save(torch.tensor(vectors), work / "query_embeddings.pt")

    def embed(text: str) -> torch.Tensor:
        return torch.tensor(lookup[text])

    for name in names:
        module, cls, trainer_module, trainer_cls, hparam = ROUTERS[name]
        saved = str(work / f"{name}-model.pkl")
        cfg = {"data_path": {"routing_data_train": str(work / "routing_train.jsonl"),
                             "query_embedding_data": str(work / "query_embeddings.pt")},
               "model_path": {"ini_model_path": "", "save_model_path": saved, "load_model_path": saved},
               "metric": {"weights": {"performance": 1, "cost": 0, "llm_judge": 0}},
               "hparam": hparam,
               "llm_data": {m: {"embedding": model_vectors[j].tolist()} for j, m in enumerate(models)}}
        (work / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        mod = importlib.import_module(f"llmrouter.models.{module}")
        mod.get_longformer_embedding = embed  # the same MiniLM vectors as graphroute's routers
        t0 = time.perf_counter()
        router = getattr(mod, cls)(str(work / f"{name}.yaml"))
        trainer = getattr(importlib.import_module(f"llmrouter.models.{trainer_module}"), trainer_cls)(router)
        trainer.train()
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        picks = [router.route_single({"query": p})["model_name"] for p in test]
        (work / f"picks-{name}.json").write_text(json.dumps(
            {"picks": picks, "fit_s": fit_s, "route_s": time.perf_counter() - t0}))
        print(f"{name}: fitted in {fit_s:.0f} s, routed {len(test)} prompts", flush=True)


if __name__ == "__main__":
    main()
