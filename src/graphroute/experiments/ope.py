"""Off-policy evaluation: a candidate router's quality and cost estimated on traffic that another,
randomised policy served (``Decision.probability`` logged as the propensity), without serving
the candidate. Inverse propensity scoring (IPS), self-normalised IPS (SNIPS) and doubly robust
(DR, with the candidate's own predicted qualities as the direct model), each with a normal
interval (the estimates are means of i.i.d. terms; SNIPS by the delta method).

Examples:
    >>> import numpy as np
    >>> from graphroute.experiments.ope import estimate
    >>> rng = np.random.default_rng(0)
    >>> n = 20_000
    >>> greedy = rng.integers(0, 2, n)                       # the logging policy's choice
    >>> explore = rng.random(n) < 0.2                        # epsilon 0.2 over two models
    >>> a = np.where(explore, rng.integers(0, 2, n), greedy)
    >>> p = np.where(a == greedy, 0.9, 0.1)
    >>> truth = np.stack([np.full(n, 0.5), np.full(n, 0.8)], axis=1)   # model 1 is better
    >>> r = rng.binomial(1, truth[np.arange(n), a]).astype(float)
    >>> cand = np.tile([0.0, 1.0], (n, 1))                   # the candidate: always model 1
    >>> est = estimate(a, p, r, cand, q_hat=np.tile([0.5, 0.8], (n, 1)))
    >>> [round(est[k]["value"], 2) for k in ("ips", "snips", "dr")], all(e["low"] < 0.8 < e["high"] for e in est.values())
    ([0.79, 0.8, 0.8], True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

from graphroute.errors import ConfigError
from graphroute.experiments.stats import normal_ci
from graphroute.events import DecisionEvent, ExperimentEvent, FeedbackEvent, read_event


def estimate(actions: np.ndarray, propensities: np.ndarray, rewards: np.ndarray, candidate: np.ndarray,
             q_hat: np.ndarray | None = None, alpha: float = 0.05) -> dict[str, dict[str, float]]:
    """IPS, SNIPS and DR estimates of the candidate's mean reward, with ``1 - alpha`` intervals.

    ``actions``: the logged model index per request; ``propensities``: the chance the logging
    policy had of choosing it; ``candidate``: (n, K) the candidate's probability of each model;
    ``q_hat``: (n, K) the direct model's predicted reward of each model (DR; omitted: no DR).
    """
    a = np.asarray(actions, dtype=np.int64)
    p = np.asarray(propensities, dtype=np.float64)
    r = np.asarray(rewards, dtype=np.float64)
    pi = np.asarray(candidate, dtype=np.float64)
    if (p <= 0).any() or (p > 1).any():
        raise ConfigError("propensities must be in (0, 1]: a logged choice the policy could not make cannot be "
                          "re-weighted", field="probability")
    idx = np.arange(len(a))
    w = pi[idx, a] / p
    z = stats.norm.ppf(1 - alpha / 2)
    out: dict[str, dict[str, float]] = {}
    v, lo, hi = normal_ci(w * r, alpha)
    out["ips"] = {"value": v, "low": lo, "high": hi}
    mw = float(w.mean())
    if mw > 0:
        sn = float((w * r).sum() / w.sum())
        se = float(np.sqrt(np.mean((w * (r - sn)) ** 2) / len(a)) / mw)
        out["snips"] = {"value": sn, "low": sn - z * se, "high": sn + z * se}
    else:
        out["snips"] = {"value": math.nan, "low": math.nan, "high": math.nan}
    if q_hat is not None:
        q = np.asarray(q_hat, dtype=np.float64)
        v, lo, hi = normal_ci((pi * q).sum(axis=1) + w * (r - q[idx, a]), alpha)
        out["dr"] = {"value": v, "low": lo, "high": hi}
    ess = float(w.sum() ** 2 / (w ** 2).sum()) if (w ** 2).sum() > 0 else 0.0
    for e in out.values():
        e["ess"] = ess
    return out


@dataclass
class OPEResult:
    """A candidate's estimated quality and cost on logged traffic. ``logged``: what the logging
    policy itself got; ``matched``: share of requests where the candidate chose the logged model."""

    candidate: str
    n: int
    matched: float
    logged: dict[str, float]
    quality: dict[str, dict[str, float]]
    cost: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def logged_choices(records: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """Served requests with a score: ``prompt``, ``model`` (the one served), ``propensity``,
    ``score``, ``cost``. The propensity of an experiment's request is the mixture over its arms
    (the experiment event's ``propensity``); a request a fallback answered is left out."""
    decisions: dict[str, DecisionEvent] = {}
    props: dict[str, tuple[float, str | None]] = {}
    scores: dict[str, float] = {}
    for r in records:
        e = read_event(r)
        if isinstance(e, DecisionEvent) and not e.fallback and e.model is not None:
            decisions[e.run_id] = e
        elif isinstance(e, ExperimentEvent) and e.propensity is not None:
            props[e.run_id] = (float(e.propensity), e.model)
        elif isinstance(e, FeedbackEvent) and e.metric == "feedback":
            scores[e.run_id] = float(e.score)
    cols: dict[str, list[Any]] = {"prompt": [], "model": [], "propensity": [], "score": [], "cost": []}
    for rid, d in decisions.items():
        if rid not in scores:
            continue
        p, served = props.get(rid, (d.probability if d.probability is not None else 1.0, None))
        cols["prompt"].append(str(d.prompt))
        cols["model"].append(served or d.served or d.model)
        cols["propensity"].append(float(p))
        cols["score"].append(scores[rid])
        cols["cost"].append(float(d.cost or 0.0))
    return cols


def off_policy(records: Iterable[dict[str, Any]], candidate: Any, *, name: str = "candidate",
               mapping: Mapping[str, str] | None = None, alpha: float = 0.05) -> OPEResult:
    """Estimate ``candidate`` (a fitted router) on logged traffic. ``mapping``: the candidate's model
    names -> the logged model names (a serve config's ``models`` mapping of the router)."""
    cols = logged_choices(records)
    if not cols["prompt"]:
        raise ConfigError("the logs hold no scored, served decisions with prompts (log_decision + feedback)",
                          field="logs")
    mapping = dict(mapping or {})
    decided = candidate.decide(cols["prompt"])
    models = sorted({*cols["model"], *(mapping.get(m, m) for m in candidate.models_)})
    col = {m: j for j, m in enumerate(models)}
    n, k = len(decided), len(models)
    pi, q = np.zeros((n, k)), np.zeros((n, k))
    for i, d in enumerate(decided):
        pi[i, col[mapping.get(d.model, d.model)]] = 1.0
        for m, s in d.scores.items():
            q[i, col[mapping.get(m, m)]] = s
    a = np.array([col[m] for m in cols["model"]])
    p, r, c = (np.asarray(cols[x], dtype=np.float64) for x in ("propensity", "score", "cost"))
    # the direct model of cost: each model's mean logged cost (a router predicts quality, not cost)
    mean_cost = np.array([c[a == j].mean() if (a == j).any() else 0.0 for j in range(k)])
    return OPEResult(name, n, float(pi[np.arange(n), a].mean()), {"quality": float(r.mean()), "cost": float(c.mean())},
                     estimate(a, p, r, pi, q, alpha), estimate(a, p, c, pi, np.tile(mean_cost, (n, 1)), alpha))


def candidate_matrix(choices: Sequence[int], k: int) -> np.ndarray:
    """(n, K) one-hot probabilities of a deterministic candidate's model indices."""
    out = np.zeros((len(choices), k))
    out[np.arange(len(choices)), np.asarray(choices)] = 1.0
    return out
