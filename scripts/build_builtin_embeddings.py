"""Rebuild the precomputed MiniLM embeddings shipped with the built-in datasets.

    python scripts/build_builtin_embeddings.py --part prompts     # both datasets' prompts
    python scripts/build_builtin_embeddings.py --part responses   # GSM8K's recorded responses (cascade scorers)

Vectors are stored as float16 in ``src/graphroute/datasets/builtin/embeddings/<encoder id>/``,
keyed by the SHA-1 of the text, and read by graphroute's embedding cache as a read-only layer.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.encoders import builtin_embeddings_dir, make_encoder, text_key
from graphroute.encoders.cache import safe_name

SHARDS = {"prompts": "shard-builtin-routellm.npz", "responses": "shard-builtin-routellm-responses.npz"}


def texts_for(part: str) -> list[str]:
    if part == "prompts":
        out = load_dataset("routellm-mmlu").prompts + load_dataset("routellm-gsm8k").prompts
    else:
        g = load_dataset("routellm-gsm8k")
        out = [t if t.strip() else "(empty)" for m in g.models for t in g.responses[m]]
    return list(dict.fromkeys(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=[*SHARDS, "all"], default="all")
    args = ap.parse_args()
    enc = make_encoder()
    folder = builtin_embeddings_dir() / safe_name(enc.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").write_text(json.dumps({"encoder_id": enc.id, "dim": 384}))
    for part in (SHARDS if args.part == "all" else [args.part]):
        texts = texts_for(part)
        t0 = time.perf_counter()
        vecs = enc.encode(texts)
        np.savez(folder / SHARDS[part], keys=np.asarray([text_key(t) for t in texts], dtype="S40"),
                 vectors=np.asarray(vecs, dtype=np.float16))
        print(f"{part}: {len(texts)} texts in {time.perf_counter() - t0:.1f} s -> {folder / SHARDS[part]}")


if __name__ == "__main__":
    main()
