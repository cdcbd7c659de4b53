"""LLMRouter's recorded outcomes of 9 models on 14 tasks, built in as ``llmrouter-9`` (5,489
training prompts) and ``llmrouter-9-test`` (500 test prompts, 10 tasks x 50, none in the training
set): scores of 9 models served by NVIDIA's API (0/1 for exact match and pass@1, a value in [0, 1]
for F1-style metrics), the task as each row's group, and each row's metric in
``meta["columns"]["metric"]``. See ``builtin/llmrouter/PROVENANCE.md`` (MIT).

The records hold no token counts, so every dollar figure for them is an **estimate**, labelled as
one (``meta["cost_estimate"]``): prompt tokens counted with graphroute's tokenizer (cl100k_base),
output tokens assumed per task (``OUTPUT_TOKENS``), at the per-token prices of
``models.json``.

Examples:
    >>> from graphroute.datasets import load_dataset
    >>> d = load_dataset("llmrouter-9-test")
    >>> len(d), len(d.models), sorted(set(d.groups))[:3]
    (500, 9, ['agentverse-logicgrid', 'agentverse-mgsm', 'commongen'])
    >>> d.meta["cost_estimate"].startswith("estimated")
    True
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from graphroute.costs import count_tokens
from graphroute.datasets.base import RoutingDataset
from graphroute.datasets.wide import load_wide

#: output tokens assumed per task (the records hold none): short answers for multiple choice,
#: a sentence for open questions, worked solutions for math, a function for code
OUTPUT_TOKENS = {"mmlu": 16, "arc_challenge": 16, "openbook_qa": 16, "commonsense_qa": 16, "gpqa": 16,
                 "natural_qa": 32, "trivia_qa": 32, "commongen": 48, "agentverse-logicgrid": 128,
                 "gsm8k": 256, "math": 384, "agentverse-mgsm": 256, "mbpp": 256, "human_eval": 256}
DEFAULT_OUTPUT_TOKENS = 128
SPLITS = {"llmrouter-9": "train.csv", "llmrouter-9-test": "test.csv"}


def prices(folder: Path) -> dict[str, tuple[float, float]]:
    """Dollars per million input and output tokens of each model (``models.json``)."""
    raw = json.loads((folder / "models.json").read_text(encoding="utf-8"))
    return {m: (float(v["input_price"]), float(v["output_price"])) for m, v in raw.items()}


def load_llmrouter(folder: Path, name: str) -> RoutingDataset:
    """One split of the 9-model records, with estimated per-call dollars in ``costs``."""
    data = load_wide(folder / SPLITS[name], group_column="group", name=name)
    table = prices(folder)
    tin = count_tokens(data.prompts)
    groups = data.groups if data.groups is not None else [""] * len(data)
    tout = np.array([OUTPUT_TOKENS.get(str(g), DEFAULT_OUTPUT_TOKENS) for g in groups], dtype=np.float64)
    costs = np.stack([(tin * table[m][0] + tout * table[m][1]) / 1e6 for m in data.models], axis=1)
    data.costs = costs
    data.input_tokens = np.repeat(tin[:, None], len(data.models), axis=1)
    data.output_tokens = np.repeat(tout[:, None], len(data.models), axis=1)
    data.meta.update({
        "cost_estimate": "estimated dollars: prompt tokens counted with cl100k_base, output tokens assumed per task "
                         "(graphroute.datasets.llmrouter.OUTPUT_TOKENS), prices of models.json (NVIDIA API list prices "
                         "as LLMRouter recorded them); the records hold no token counts",
        "prices": {m: list(p) for m, p in table.items()},
        "default_output_tokens": DEFAULT_OUTPUT_TOKENS,
    })
    return data
