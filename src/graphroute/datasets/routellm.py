"""Datasets in the layout of RouteLLM's ``routellm/evals`` folder.

* ``mmlu/responses/mmlu_<subject>.csv`` — ``prompt`` and one boolean column per model; the
  subject becomes the row's group;
* ``gsm8k/gsm8k_responses.csv`` — the same plus ``<model>_response`` texts;
* ``mt_bench/judgements.jsonl`` — MT-Bench single-answer judgements with graded 1-10 scores
  (optionally ``mt_bench/question.jsonl`` for the question texts and categories);
* ``<benchmark>/contaminated_prompts.jsonl`` — prompts RouteLLM drops from evaluation (its
  ``eval_prompt`` field), removed here exactly as RouteLLM's ``benchmarks.py`` does.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from graphroute.datasets.base import RoutingDataset
from graphroute.datasets.wide import iter_jsonl, read_table, table_to_dataset
from graphroute.errors import DatasetError

BENCHMARKS = ("mmlu", "gsm8k", "mt_bench")


def contaminated_prompts(path: Path) -> set[str]:
    """The ``eval_prompt`` values of a ``contaminated_prompts.jsonl`` file (empty if absent)."""
    if not path.is_file():
        return set()
    out = set()
    for lineno, obj in iter_jsonl(path, objects=False):
        if isinstance(obj, dict):
            if "eval_prompt" not in obj:
                raise DatasetError("object has no 'eval_prompt'", path=path, row=lineno, column="eval_prompt")
            out.add(obj["eval_prompt"])
        elif isinstance(obj, str):
            out.add(obj)
        else:
            raise DatasetError("expected an object or a string", path=path, row=lineno)
    return out


def _decontaminate(columns, rows, bench_dir: Path, decontaminate: bool):
    if not decontaminate:
        return rows, 0
    bad = contaminated_prompts(bench_dir / "contaminated_prompts.jsonl")
    kept = [r for r in rows if r.get("prompt") not in bad]
    return kept, len(rows) - len(kept)


def find_benchmark_dir(path: str | Path, benchmark: str | None = None) -> tuple[Path, str]:
    """Resolve ``path`` (a RouteLLM ``evals`` root or one benchmark's folder) to (folder, benchmark)."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError("not a directory in RouteLLM's layout", path=path)
    if benchmark is None:
        if path.name in BENCHMARKS:
            return path, path.name
        found = [b for b in BENCHMARKS if (path / b).is_dir()]
        if len(found) == 1:
            return path / found[0], found[0]
        if not found:
            raise DatasetError(f"no RouteLLM benchmark folder ({', '.join(BENCHMARKS)}) here", path=path)
        raise DatasetError(f"several benchmarks here ({', '.join(found)}); name one, e.g. {path / found[0]}", path=path)
    if benchmark not in BENCHMARKS:
        raise DatasetError(f"unknown RouteLLM benchmark {benchmark!r}; known: {', '.join(BENCHMARKS)}", path=path)
    return (path if path.name == benchmark else path / benchmark), benchmark


def load_routellm(
    path: str | Path,
    benchmark: str | None = None,
    *,
    decontaminate: bool = True,
    weak: str | None = None,
    strong: str | None = None,
    name: str | None = None,
) -> RoutingDataset:
    """Load one benchmark from a directory in RouteLLM's layout.

    Examples:
        >>> from graphroute.datasets import builtin_path, load_routellm
        >>> d = load_routellm(builtin_path("routellm") / "gsm8k")
        >>> len(d), round(100 * d.accuracy(d.strong), 2)
        (1307, 85.77)
    """
    bench_dir, benchmark = find_benchmark_dir(path, benchmark)
    if benchmark == "mt_bench":
        return load_mtbench(bench_dir / "judgements.jsonl", decontaminate=decontaminate, name=name)
    if benchmark == "mmlu":
        files = sorted((bench_dir / "responses").glob("mmlu_*.csv"))
        if not files:
            raise DatasetError("no responses/mmlu_<subject>.csv files", path=bench_dir)
    else:
        files = [bench_dir / "gsm8k_responses.csv"]
    columns: list[str] | None = None
    rows: list[dict[str, Any]] = []
    groups: list[str] = []
    for f in files:
        cols, part = read_table(f)
        if "prompt" not in cols:
            raise DatasetError("no 'prompt' column", path=f, column="prompt")
        if columns is None:
            columns = cols
        elif set(cols) != set(columns):
            raise DatasetError(f"columns {cols} differ from {columns} of {files[0].name}", path=f)
        rows += part
        subject = f.stem[len("mmlu_"):] if benchmark == "mmlu" else benchmark
        groups += [subject] * len(part)
    assert columns is not None
    for r, g in zip(rows, groups):
        r["__group"] = g
    n_before = len(rows)
    rows, dropped = _decontaminate(columns, rows, bench_dir, decontaminate)
    ds = table_to_dataset(
        columns,
        rows,
        path=files[0] if len(files) == 1 else bench_dir,
        name=name or f"routellm-{benchmark}",
        weak=weak,
        strong=strong,
        score_type="bool",
        groups=[r["__group"] for r in rows],
    )
    ds.meta.update({"benchmark": benchmark, "rows_before_decontamination": n_before, "contaminated_dropped": dropped})
    if benchmark == "mmlu":
        # RouteLLM generated MMLU answers with max_new_tokens=1 (mmlu/generate_responses.py)
        ds.meta["default_output_tokens"] = 1
    return ds


_QUESTION_RE = re.compile(r"\[Question\]\n(.*?)\n\n\[The (?:Start|End) of", re.S)
_MULTI_RE = re.compile(r"### User:\n(.*?)\n\n### Assistant A:", re.S)


def _question_from_judge_prompt(text: str) -> str | None:
    m = _QUESTION_RE.search(text) or _MULTI_RE.search(text)
    return m.group(1).strip() if m else None


def load_mtbench(
    judgements: str | Path,
    questions: str | Path | None = None,
    *,
    decontaminate: bool = True,
    weak: str | None = None,
    strong: str | None = None,
    name: str | None = None,
) -> RoutingDataset:
    """Load MT-Bench-style single-answer judgements (graded 1-10) into a dataset.

    A model's score on a question is the mean of its judgement scores over turns, as in
    RouteLLM's ``MTBench`` benchmark. Prompts come from ``question.jsonl`` (first turn) when
    given or found beside the file, else from the judge prompt's ``[Question]`` block.
    Judgements scored -1 (the judge failed to give a rating) are skipped.
    """
    judgements = Path(judgements)
    _, rows = read_table(judgements)
    questions = Path(questions) if questions else judgements.with_name("question.jsonl")
    texts: dict[Any, str] = {}
    cats: dict[Any, str] = {}
    if questions.is_file():
        for q in read_table(questions)[1]:
            turns = q.get("turns") or []
            if not turns:
                raise DatasetError("question has no turns", path=questions, column="turns")
            texts[q["question_id"]] = turns[0]
            cats[q["question_id"]] = str(q.get("category", ""))
    per: dict[Any, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(rows, 1):
        for key in ("question_id", "model", "score"):
            if key not in r:
                raise DatasetError(f"judgement has no {key!r}", path=judgements, row=i, column=key)
        try:
            score = float(r["score"])
        except (TypeError, ValueError):
            raise DatasetError(f"score {r['score']!r} is not numeric", path=judgements, row=i, column="score") from None
        if score < 0:
            continue
        qid = r["question_id"]
        per[qid][r["model"]].append(score)
        if qid not in texts and int(r.get("turn", 1)) == 1:
            question = _question_from_judge_prompt(str(r.get("user_prompt", "")))
            if question:
                texts[qid] = question
    models = sorted({m for d in per.values() for m in d})
    bad = contaminated_prompts(judgements.with_name("contaminated_prompts.jsonl")) if decontaminate else set()
    qids = [q for q in sorted(per, key=str) if all(m in per[q] for m in models)]
    missing = [q for q in qids if q not in texts]
    if missing:
        raise DatasetError(f"no question text for question_id {missing[0]!r} (add question.jsonl)", path=judgements)
    qids = [q for q in qids if texts[q] not in bad]
    if not qids:
        raise DatasetError("no question was judged for every model", path=judgements)
    scores = np.array([[np.mean(per[q][m]) for m in models] for q in qids])
    return RoutingDataset(
        name=name or "mt-bench",
        prompts=[texts[q] for q in qids],
        models=models,
        scores=scores,
        groups=np.array([cats.get(q, "") for q in qids], dtype=object) if cats else None,
        score_range=(1.0, 10.0),
        source=str(judgements),
        meta={"benchmark": "mt_bench", "score_types": ["graded"]},
        weak_model=weak,
        strong_model=strong,
    )
