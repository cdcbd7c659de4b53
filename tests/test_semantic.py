"""Semantic routes built from real MMLU subjects: thresholds learned from partial labels, routes
added and removed after first use, the encoder kept with a saved router."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from graphroute.encoders import default_model_path, resolve_encoder
from graphroute.errors import ConfigError
from graphroute.routers import Route, SemanticRouter

SUBJECTS = {"maths": "high_school_mathematics", "law": "professional_law", "biology": "college_biology"}


@pytest.fixture(scope="module")
def by_subject(mmlu):
    out = {}
    for name, subject in SUBJECTS.items():
        rows = [i for i, g in enumerate(mmlu.groups) if g == subject]
        out[name] = [mmlu.prompts[i] for i in rows[:40]]
    return out


def _routes(by_subject, names=SUBJECTS):
    return [Route(name=n, model=f"model-{n}", utterances=by_subject[n][:8]) for n in names]


def test_routes_without_labels_keep_every_labelled_query_out_and_say_so(by_subject):
    r = SemanticRouter(_routes(by_subject), fallback="model-maths")
    queries = by_subject["maths"][10:20] + by_subject["law"][10:20] + by_subject["biology"][10:20]
    labels = ["maths"] * 10 + ["law"] * 10 + [None] * 10  # biology never labelled
    with pytest.warns(UserWarning, match="routes with no labelled query: biology"):
        r.fit(queries, labels)
    S = r.scores(queries)
    biology = [x.name for x in r.routes].index("biology")
    assert r.routes[biology].threshold > S[:, biology].max()
    assert "biology" not in [d.route for d in r.decide(queries)]
    assert r.evaluate(queries[:20], labels[:20])["accuracy"] >= 0.8  # the labelled routes learned real thresholds


def test_all_labels_none_rejects_every_labelled_query(by_subject):
    r = SemanticRouter(_routes(by_subject))
    queries = [p for n in SUBJECTS for p in by_subject[n][10:15]]
    with pytest.warns(UserWarning, match="maths, law, biology"):
        r.fit(queries, [None] * len(queries))
    assert all(d.route is None for d in r.decide(queries))


def test_a_route_added_or_changed_after_first_use_is_indexed(by_subject):
    r = SemanticRouter(_routes(by_subject, ["maths", "law"]), default_threshold=0.2)
    probe = by_subject["biology"][30:35]
    assert all(d.route != "biology" for d in r.decide(probe))
    with pytest.raises(AttributeError):
        r.routes.append(Route(name="x", utterances=["x"]))  # a tuple: changes go through add_route
    r.add_route(Route(name="biology", model="model-biology", utterances=by_subject["biology"][:8]))
    S = r.scores(probe)
    assert np.isfinite(S).all() and [d.route for d in r.decide(probe)].count("biology") >= 4
    r.spec.routes[0].utterances.append(by_subject["maths"][20])  # changed in place: rebuilt on next use
    assert np.isfinite(r.scores(probe)).all() and len(r._index) == 8 + 8 + 8 + 1
    removed = r.remove_route("biology")
    assert removed.name == "biology" and all(d.route != "biology" for d in r.decide(probe))
    with pytest.raises(ConfigError, match="no route 'chemistry'"):
        r.remove_route("chemistry")


def test_saved_router_keeps_its_encoder_spec(by_subject, tmp_path):
    r = SemanticRouter(_routes(by_subject), encoder="static", default_threshold=0.2)
    queries = by_subject["law"][20:25] + by_subject["maths"][20:25]
    expected = [d.route for d in r.decide(queries)]
    back = SemanticRouter.load(r.save(tmp_path / "s"))  # no encoder passed: the saved "static" is rebuilt
    assert back.encoder_.id == "static/all-MiniLM-L6-v2" and [d.route for d in back.decide(queries)] == expected
    decision = back.decide(queries[:1])[0]
    assert decision.familiarity is not None and decision.nearest_similarity is not None


def test_the_offline_minilm_by_its_folder_path_is_the_default_encoder(by_subject, tmp_path):
    assert resolve_encoder(default_model_path()).id == resolve_encoder(None).id
    r = SemanticRouter(_routes(by_subject))
    path = r.save(tmp_path / "s")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = SemanticRouter.load(path, encoder=default_model_path())
    assert back.decide(by_subject["maths"][30:31])[0].route == r.decide(by_subject["maths"][30:31])[0].route
