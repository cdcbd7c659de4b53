"""Dataset loaders: the built-in facts, RouteLLM's layout, MT-Bench judgements, wide CSV/JSONL, bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from graphroute.datasets import builtin_path, load_dataset, load_mtbench, load_routellm, load_wide
from graphroute.errors import DatasetError, UnknownModelError

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"


def test_builtin_mmlu_facts(mmlu):
    assert len(mmlu) == 12323
    assert round(100 * mmlu.accuracy(WEAK), 2) == 66.93
    assert round(100 * mmlu.accuracy(STRONG), 2) == 80.05
    assert (mmlu.weak, mmlu.strong) == (WEAK, STRONG)
    assert len(set(mmlu.groups)) == 46
    assert mmlu.meta["contaminated_dropped"] == 4
    assert mmlu.responses is None


def test_builtin_gsm8k_facts(gsm8k):
    assert len(gsm8k) == 1307
    assert round(100 * gsm8k.accuracy(WEAK), 2) == 63.73
    assert round(100 * gsm8k.accuracy(STRONG), 2) == 85.77
    assert set(gsm8k.responses) == {WEAK, STRONG}
    assert "####" in gsm8k.responses[WEAK][0]


def test_builtin_data_carries_license_and_provenance():
    root = builtin_path("routellm")
    assert "Apache License" in (root / "LICENSE").read_text()
    assert "lm-sys/RouteLLM" in (root / "PROVENANCE.md").read_text()


def test_routellm_layout_from_any_directory_with_decontamination(tmp_path):
    src = builtin_path("routellm") / "gsm8k"
    dst = tmp_path / "evals" / "gsm8k"
    dst.mkdir(parents=True)
    rows = (src / "gsm8k_responses.csv").read_text(encoding="utf-8")
    (dst / "gsm8k_responses.csv").write_text(rows, encoding="utf-8")
    d_all = load_routellm(tmp_path / "evals")  # no contamination file: nothing dropped
    assert len(d_all) == 1319
    first = d_all.prompts[0]
    (dst / "contaminated_prompts.jsonl").write_text(json.dumps({"eval_prompt": first, "train_prompt": "x"}) + "\n")
    d = load_dataset(dst)
    assert len(d) == 1318 and first not in d.prompts
    assert load_routellm(tmp_path / "evals", decontaminate=False).meta["contaminated_dropped"] == 0


def test_routellm_dir_errors(tmp_path):
    with pytest.raises(DatasetError, match="no RouteLLM benchmark"):
        load_routellm(tmp_path)
    (tmp_path / "mmlu" / "responses").mkdir(parents=True)
    with pytest.raises(DatasetError, match="mmlu_<subject>.csv"):
        load_routellm(tmp_path)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_wide_csv_many_models_costs_tokens_responses(tmp_path):
    p = _write(tmp_path / "runs.csv",
               "id,prompt,a,b,c,a|cost,b|input_tokens,b|output_tokens,c|response,subject\n"
               "1,hi,True,1,0.5,0.01,10,5,hello,x\n"
               "2,\"multi\nline\",False,0,0.25,0.02,12,7,bye,y\n")
    d = load_wide(p)
    assert d.models == ["a", "b", "c"]
    assert d.scores.tolist() == [[1, 1, 0.5], [0, 0, 0.25]]
    assert d.costs[:, 0].tolist() == [0.01, 0.02] and np.isnan(d.costs[:, 1]).all()
    assert d.input_tokens[:, 1].tolist() == [10, 12]
    assert d.responses == {"c": ["hello", "bye"]}
    assert d.groups.tolist() == ["x", "y"]
    assert d.prompts[1] == "multi\nline"


def test_wide_jsonl_graded_scores(tmp_path):
    rows = [{"prompt": f"q{i}", "small": 3 + i, "big": 8, "big|cost": 0.1} for i in range(3)]
    p = _write(tmp_path / "judge.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    d = load_dataset(p)
    assert d.score_range == (3.0, 8.0)
    assert d.meta["score_types"] == ["graded"]
    assert d.weak == "small" and d.strong == "big"
    d2 = load_wide(p, score_range=(1, 10), models=["big", "small"])
    assert d2.models == ["big", "small"] and d2.score_range == (1, 10)


def test_custom_prompt_column_and_pair(tmp_path):
    p = _write(tmp_path / "x.csv", "question,m1,m2,m3\nq,1,0,1\nr,0,0,1\n")
    d = load_wide(p, prompt_column="question", weak="m2", strong="m1")
    assert (d.weak, d.strong) == ("m2", "m1")
    with pytest.raises(UnknownModelError):
        load_wide(p, prompt_column="question", weak="nope")


@pytest.mark.parametrize(
    "text, kwargs, match, column, row",
    [
        ("", {}, "empty", None, None),
        ("prompt,a,b\n", {}, "no data rows", None, None),
        ("question,a,b\nq,1,0\n", {}, "no prompt column", "prompt", None),
        ("prompt,a,b\nq,1,0\nr,maybe,1\n", {}, "not numeric or boolean", "a", 2),
        ("prompt,a,b\nq,1,0\nr,0.5,1\n", {"score_type": "bool"}, "not boolean", "a", 2),
        ("prompt,a,b\nq,1,\n", {}, "no recorded score at all", "b", None),
        ("prompt,a,b\n ,1,0\n", {}, "prompt is empty", "prompt", 1),
        ("prompt,a,a|cost\nq,1,cheap\n", {}, "not a number", "a|cost", 1),
        ("prompt,a,z|cost\nq,1,0.1\n", {}, "no score column 'z'", "z|cost", None),
        ("prompt\nq\n", {}, "no model score columns", None, None),
    ],
)
def test_bad_wide_files_name_file_column_row(tmp_path, text, kwargs, match, column, row):
    p = _write(tmp_path / "bad.csv", text)
    with pytest.raises(DatasetError, match=match) as err:
        load_wide(p, **kwargs)
    assert err.value.path == str(p) and str(p) in str(err.value)
    assert err.value.column == column and err.value.row == row


def test_unknown_model_and_bad_jsonl(tmp_path):
    p = _write(tmp_path / "ok.csv", "prompt,a,b\nq,1,0\n")
    with pytest.raises(UnknownModelError, match="'c'"):
        load_wide(p, models=["a", "c"])
    j = _write(tmp_path / "bad.jsonl", '{"prompt": "q", "a": 1}\n{oops\n')
    with pytest.raises(DatasetError, match="line 2") as err:
        load_dataset(j)
    assert err.value.row == 2
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "missing.csv")


def test_mtbench_judgements(tmp_path):
    def j(qid, model, score, turn, q):
        return json.dumps({"question_id": qid, "model": model, "judge": ["gpt-4", "single-v1"], "score": score,
                           "turn": turn, "judgment": "...",
                           "user_prompt": f"[Instruction]\nrate\n\n[Question]\n{q}\n\n[The Start of Assistant's Answer]\nx"})

    lines = [j(1, "weak", 4, 1, "Write a poem."), j(1, "weak", 6, 2, "Write a poem."), j(1, "strong", 9, 1, "Write a poem."),
             j(1, "strong", -1, 2, "Write a poem."), j(2, "weak", 8, 1, "Add 2+2."), j(2, "strong", 10, 1, "Add 2+2."),
             j(3, "weak", 5, 1, "Only one model judged.")]
    p = _write(tmp_path / "judgements.jsonl", "\n".join(lines) + "\n")
    d = load_dataset(p)  # detected as MT-Bench judgements
    assert d.prompts == ["Write a poem.", "Add 2+2."]
    assert d.models == ["strong", "weak"]
    assert d.scores.tolist() == [[9.0, 5.0], [10.0, 8.0]]  # mean over turns; the -1 (failed judge) skipped
    assert d.score_range == (1.0, 10.0)
    _write(tmp_path / "question.jsonl", json.dumps({"question_id": 1, "category": "writing", "turns": ["Poem please", "More"]}) + "\n"
           + json.dumps({"question_id": 2, "category": "math", "turns": ["2+2?"]}) + "\n")
    d2 = load_mtbench(p)
    assert d2.prompts == ["Poem please", "2+2?"] and d2.groups.tolist() == ["writing", "math"]


def test_subset_and_select_models_keep_everything_aligned(gsm8k):
    sub = gsm8k.subset([5, 1])
    assert sub.prompts == [gsm8k.prompts[5], gsm8k.prompts[1]]
    assert sub.responses[WEAK] == [gsm8k.responses[WEAK][5], gsm8k.responses[WEAK][1]]
    sel = gsm8k.select_models([STRONG])
    assert sel.models == [STRONG] and sel.scores.shape == (1307, 1)


def test_loader_reads_a_copied_builtin_tree(tmp_path):
    shutil.copytree(builtin_path("routellm") / "mmlu", tmp_path / "mmlu")
    d = load_dataset(tmp_path / "mmlu")
    assert len(d) == 12323 and d.name == "routellm-mmlu"
