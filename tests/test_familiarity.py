"""Routers know what they do not know: familiarity of prompts like and unlike the training data,
and the policy option that decides what an unfamiliar prompt gets. Real MMLU and GSM8K prompts,
the real encoder."""

from __future__ import annotations

import numpy as np
import pytest

from graphroute.errors import UnknownModelError
from graphroute.routers import Router, make_router

OTHER = ["Tell me a joke about cats.", "hi, how are you today?", "Write a Python function that reverses a string.",
         "Translate 'good morning' into French.", "Summarise this email: the meeting moved to 3pm.",
         "Give me a recipe for pancakes without eggs."]


@pytest.fixture(scope="module")
def split(mmlu):
    order = np.random.default_rng(0).permutation(len(mmlu))
    return mmlu.subset(order[:3000]), mmlu.subset(order[3000:3600])


@pytest.fixture(scope="module")
def router(split):
    return make_router("logistic:encoder=layers").fit(split[0])


def test_prompts_like_the_training_data_are_familiar_and_others_are_not(router, split, gsm8k):
    held, _ = router.familiarity(split[1].prompts)
    assert 0.4 < held.mean() < 0.6 and 0.01 < (held < 0.05).mean() < 0.12  # about uniform: ~5 % flagged
    word_problems, _ = router.familiarity(gsm8k.prompts[:300])
    assert (word_problems < 0.05).mean() > 0.6
    other, near = router.familiarity(OTHER)
    assert (other < 0.05).all() and near.max() < np.median(router.familiarity(split[1].prompts)[1])


def test_unfamiliar_prompts_get_what_the_policy_says(router, split, tmp_path):
    plain = router.decide(OTHER)
    assert all(d.unfamiliar and d.familiarity < 0.05 and "unfamiliar prompt" in d.reason for d in plain)
    router.set_policy(unfamiliar="strong")
    try:
        sent = router.decide(OTHER)
        assert all(d.model == router.strong_ for d in sent)
        for d, before in zip(sent, plain):
            assert d.model == before.model or f"sent to {router.strong_}" in d.reason
        familiar = router.decide(split[1].prompts[:200])
        normal = [d for d in familiar if not d.unfamiliar]
        assert len(normal) > 170 and all("unfamiliar" not in d.reason for d in normal)
        back = Router.load(router.save(tmp_path / "r"))
        assert back.policy_.unfamiliar == "strong" and [d.model for d in back.decide(OTHER)] == [d.model for d in sent]
        np.testing.assert_allclose(back.familiarity(OTHER)[0], router.familiarity(OTHER)[0])
        with pytest.raises(UnknownModelError):
            router.set_policy(unfamiliar="gpt-9")
    finally:
        router.set_policy(unfamiliar=None)


def test_calibrating_keeps_the_unfamiliar_option(router, split):
    router.set_policy(unfamiliar="weak", min_familiarity=0.1)
    cal = router.calibrate(split[1], strong_share=0.3)
    assert cal.policy.unfamiliar == "weak" and cal.policy.min_familiarity == 0.1 and router.policy_ is cal.policy
    router.policy_ = None


def test_routers_without_embeddings_report_no_familiarity(gsm8k):
    r = make_router("features:max_iter=20").fit(gsm8k.subset(range(200)))
    d = r.decide(["What is 2 + 2?"])[0]
    assert d.familiarity is None and d.nearest_similarity is None and not d.unfamiliar


@pytest.mark.slow
def test_the_classifier_reports_familiarity_from_its_layers(split):
    r = make_router("classifier:folds=2").fit(split[0].subset(range(1500)))
    d = r.decide([split[1].prompts[0], OTHER[0]])
    assert d[0].familiarity > d[1].familiarity and d[1].unfamiliar
