"""Rebuild the precomputed embeddings shipped with the built-in datasets.

    python scripts/build_builtin_embeddings.py --part prompts               # MiniLM, RouteLLM's prompts
    python scripts/build_builtin_embeddings.py --part llmrouter             # MiniLM, the 9-model records' prompts
    python scripts/build_builtin_embeddings.py --part responses             # GSM8K's recorded responses (cascade)
    python scripts/build_builtin_embeddings.py --part prompts --encoder layers   # the classifier's layers 1-6

Vectors are stored as float16 in ``src/graphroute/datasets/builtin/embeddings/<encoder id>/``, keyed
by the SHA-1 of the text, at most ``--shard-mb`` megabytes a shard, and read by graphroute's
embedding cache as a read-only layer. Texts already in your own embedding cache
(``$GRAPHROUTE_CACHE``) are read from it instead of being embedded again: the same encoder wrote them.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from graphroute.datasets import load_dataset
from graphroute.encoders import builtin_embeddings_dir, resolve_encoder, text_key
from graphroute.encoders.disk_cache import safe_name

PARTS = {"prompts": "shard-builtin-routellm", "responses": "shard-builtin-routellm-responses",
         "llmrouter": "shard-builtin-llmrouter"}


def texts_for(part: str) -> list[str]:
    if part == "prompts":
        out = load_dataset("routellm-mmlu").prompts + load_dataset("routellm-gsm8k").prompts
    elif part == "llmrouter":
        out = load_dataset("llmrouter-9").prompts + load_dataset("llmrouter-9-test").prompts
    else:
        g = load_dataset("routellm-gsm8k")
        out = [t if t.strip() else "(empty)" for m in g.models for t in g.responses[m]]
    return list(dict.fromkeys(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=[*PARTS, "all"], default="all")
    ap.add_argument("--encoder", default=None, help="an encoder spec (default: the offline MiniLM; 'layers': layers 1-6)")
    ap.add_argument("--shard-mb", type=float, default=16.0)
    args = ap.parse_args()
    enc = resolve_encoder(args.encoder)  # cached: texts already embedded are read back, not embedded again
    folder = builtin_embeddings_dir() / safe_name(enc.id)
    folder.mkdir(parents=True, exist_ok=True)
    for part in (PARTS if args.part == "all" else [args.part]):
        texts = texts_for(part)
        t0 = time.perf_counter()
        vecs = np.asarray(enc.encode(texts), dtype=np.float16)
        per = max(1, int(args.shard_mb * 2**20 // (vecs.shape[1] * 2 + 40)))
        for old in folder.glob(f"{PARTS[part]}*.npz"):
            old.unlink()
        for k, start in enumerate(range(0, len(texts), per)):
            name = PARTS[part] + (f"-{k}" if len(texts) > per else "") + ".npz"
            np.savez(folder / name, keys=np.asarray([text_key(t) for t in texts[start:start + per]], dtype="S40"),
                     vectors=vecs[start:start + per])
        (folder / "meta.json").write_text(json.dumps({"encoder_id": enc.id, "dim": int(vecs.shape[1])}))
        print(f"{part}: {len(texts)} texts in {time.perf_counter() - t0:.1f} s -> {folder}")


if __name__ == "__main__":
    main()
