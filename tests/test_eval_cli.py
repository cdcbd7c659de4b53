"""``graphroute eval`` end to end: figures, JSON, per-prompt scores, plot, train/test, errors."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from graphroute.cli.main import app
from graphroute.evaluation import cv_splits, evaluate

runner = CliRunner()


@pytest.fixture(scope="module")
def gsm8k_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    res = runner.invoke(app, ["eval", "--data", "routellm-gsm8k", "--router", "random,oracle,knn,always-weak",
                              "--json", str(out / "r.json"), "--scores", str(out / "s.csv"), "--plot", str(out / "p.png")])
    assert res.exit_code == 0, res.output
    return out, res.output


def test_table_and_figures(gsm8k_run):
    out, text = gsm8k_run
    assert "routellm-gsm8k" in text and "oracle" in text and "1.131" in text
    doc = json.loads((out / "r.json").read_text())
    res = doc["datasets"]["routellm-gsm8k"]
    assert res["oracle"]["routellm"]["apgr"] == pytest.approx(1.131, abs=5e-4)
    assert 0.4 < res["random"]["routellm"]["apgr"] < 0.6
    assert res["knn"]["tie_safe"]["apgr"] > res["random"]["tie_safe"]["apgr"]
    for key in ("n", "weak_accuracy", "strong_accuracy", "cost"):
        assert key in res["knn"]
    for method in ("routellm", "tie_safe"):
        m = res["knn"][method]
        assert {"apgr", "cpt20", "cpt50", "cpt80", "auc", "cost_per_query_at_cpt80"} <= set(m)
        assert len(m["fold_apgr"]) == 5
    assert res["always-weak"]["point"]["strong_pct"] == 0.0
    assert res["knn"]["cost"]["strong_total"] > res["knn"]["cost"]["weak_total"] > 0
    assert (out / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_scores_file_recomputes_the_metrics_independently(gsm8k_run):
    out, _ = gsm8k_run
    doc = json.loads((out / "r.json").read_text())["datasets"]["routellm-gsm8k"]
    with open(out / "s.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["router"] == "knn"]
    assert len(rows) == 1307
    s = np.array([float(r["score"]) for r in rows])
    w = np.array([float(r["weak_score"]) for r in rows])
    g = np.array([float(r["strong_score"]) for r in rows])
    # plain re-implementation of RouteLLM's sweep: quantile edges, >= except '>' at the last edge
    edges = np.unique(np.quantile(s, np.linspace(0, 1, 11)))
    pts = sorted(((s >= t) if i < len(edges) - 1 else (s > t) for i, t in enumerate(edges)), key=lambda m: m.mean())
    x = np.array([m.mean() for m in pts])
    y = np.array([np.where(m, g, w).mean() for m in pts])
    area = np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)
    apgr = (area - w.mean()) / (g.mean() - w.mean())
    assert apgr == pytest.approx(doc["knn"]["routellm"]["apgr"], abs=1e-9)


def test_folds_keep_identical_prompts_together(mmlu):
    folds = cv_splits(mmlu, 5)
    seen = {}
    for f, idx in enumerate(folds):
        for i in idx:
            assert seen.setdefault(mmlu.prompts[i], f) == f
    assert sum(len(f) for f in folds) == len(mmlu)


def test_leave_subjects_out(mmlu):
    folds = cv_splits(mmlu, 5, group_by="group")
    subjects = [set(mmlu.groups[idx]) for idx in folds]
    assert all(not (a & b) for i, a in enumerate(subjects) for b in subjects[i + 1:])


def test_train_on_one_dataset_test_on_another(tmp_path):
    p = tmp_path / "wide.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["prompt", "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"])
        wr.writerow(["What is 12 times 12?", "True", "True"])
        wr.writerow(["Prove that sqrt(2) is irrational.", "False", "True"])
        wr.writerow(["Name the capital of France.", "True", "False"])
    res = runner.invoke(app, ["eval", "--data", "routellm-gsm8k", "--test", str(p), "--router", "knn,oracle",
                              "--json", str(tmp_path / "o.json"), "--plot", ""])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "o.json").read_text())
    [(key, runs)] = doc["datasets"].items()
    assert key == "routellm-gsm8k -> wide" and runs["knn"]["n"] == 3


def test_multi_model_dataset_reports_aiq_and_pareto(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "three.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["prompt", "s", "m", "l", "s|cost", "m|cost", "l|cost"])
        for i in range(60):
            hard = i % 3
            wr.writerow([f"question {i} level {hard}", int(hard == 0), int(hard < 2), int(rng.random() < 0.95), 1, 3, 10])
    from graphroute.datasets import load_dataset

    [r, o] = evaluate(["random", "oracle"], load_dataset(p), cv=3)
    assert 0 <= r.cost["aiq"] <= o.cost["aiq"] <= 1
    assert o.cost["pareto"]["cost_per_query"] == sorted(o.cost["pareto"]["cost_per_query"])


@pytest.mark.parametrize("args, message", [
    (["--router", "bogus"], "unknown router 'bogus'"),
    (["--data", "no/such/file.csv"], "no such file"),
])
def test_cli_errors_exit_2_with_a_message(args, message):
    proc = subprocess.run([sys.executable, "-m", "graphroute.cli.main", "eval", *args], capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_import_is_light():
    code = "import sys, graphroute; print(any(m in sys.modules for m in ('torch', 'faiss', 'sentence_transformers', 'sklearn')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_example_script_runs():
    proc = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "examples" / "evaluate_routers.py")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "['small', 'large']" in proc.stdout and "oracle" in proc.stdout


def _judgements(folder: Path, models: list[str]) -> Path:
    """MT-Bench-style judgements (scores 1-10) of the two built-in models, in RouteLLM's layout."""
    rng = np.random.default_rng(0)
    lines = []
    for q in range(40):
        prompt = f"Question {q}: explain topic number {q} in {3 + q % 4} sentences."
        for m, base in zip(models, (5, 8)):
            for turn in (1, 2):
                lines.append(json.dumps({"question_id": q, "model": m, "judge": ["gpt-4", "single-v1"], "turn": turn,
                                         "score": int(np.clip(base + rng.integers(-3, 3), 1, 10)), "judgment": "...",
                                         "user_prompt": f"[Instruction]\nrate\n\n[Question]\n{prompt}\n\n[The Start of "
                                                        "Assistant's Answer]\nx"}))
    path = folder / "mt_bench" / "judgements.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_test_set_of_mt_bench_judgements_given_as_a_file(mmlu, tmp_path):
    path = _judgements(tmp_path, [mmlu.weak, mmlu.strong])
    res = runner.invoke(app, ["eval", "--data", "routellm-mmlu", "--router", "random,knn", "--test", str(path),
                              "--plot", "", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert re.search(r"weak mistralai/Mixtral-8x7B-Instruct-v0\.1 mean score \d\.\d\d \(scale 1-10\)", out), out
    assert re.search(r"strong gpt-4-1106-preview mean score \d\.\d\d \(scale 1-10\)", out), out
    doc = json.loads((tmp_path / "r.json").read_text())
    r = doc["datasets"]["routellm-mmlu -> mt-bench"]["knn"]
    assert r["score_range"] == [1.0, 10.0] and r["protocol"] == "trained on routellm-mmlu, tested on mt-bench"
    bad = runner.invoke(app, ["eval", "--data", str(path), "--prompt-column", "text", "--plot", ""])
    assert bad.exit_code != 0 and "prompt_column does not apply to MT-Bench judgements" in str(bad.exception)


def test_main_job_defaults_are_the_recommended_routers(mmlu, gsm8k):
    from graphroute.cli.eval import default_routers

    assert default_routers(mmlu) == ["random", "classifier", "oracle"]
    assert default_routers(gsm8k) == ["random", "cascade", "oracle"]
