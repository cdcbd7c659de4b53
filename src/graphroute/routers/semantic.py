"""Semantic routes (as semantic-router): routes declared by example utterances, matched by similarity.

A route's score for a query is the cosine similarity of its most similar utterance
(``aggregation="max"``, the default) or the mean over its ``top_n`` most similar ones
(``"mean_top"``, steadier for routes with many utterances). Routes whose score clears their own
threshold are returned best first; when none does, the decision is "no route" and the
``fallback`` model (if any) is chosen. ``fit`` sets each route's threshold from labelled examples
(the threshold maximising that route's F1), ``evaluate`` reports accuracy and per-route recall.

Routes come from Python or from YAML::

    default_threshold: 0.3
    fallback: gpt-4o-mini
    routes:
      - name: maths
        model: gpt-4o
        utterances: ["solve this equation", "what is the integral of x^2"]
      - name: chitchat
        model: gpt-4o-mini
        threshold: 0.5
        utterances: ["hi there", "how are you?"]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from graphroute.errors import PersistenceError
from graphroute.persist import read_json, read_npz, write_folder
from graphroute.index import VectorIndex
from graphroute.routers.base import check_prompts
from graphroute.routers.embedding import resolve_encoder
from graphroute.routers.policy import Decision

FORMAT_VERSION = 1


class Route(BaseModel):
    """One route: a name, example utterances, an optional model and threshold."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    utterances: list[str] = Field(min_length=1)
    model: str | None = None
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("utterances")
    @classmethod
    def _non_blank(cls, v: list[str]) -> list[str]:
        for i, u in enumerate(v):
            if not u.strip():
                raise ValueError(f"utterance {i} is blank")
        return v


class RouteSet(BaseModel):
    """The YAML file's schema."""

    model_config = ConfigDict(extra="forbid")
    routes: list[Route] = Field(min_length=1)
    default_threshold: float = Field(default=0.3, ge=-1.0, le=1.0)
    fallback: str | None = None
    aggregation: Literal["mean_top", "max"] = "max"
    top_n: int = Field(default=3, ge=1)

    @field_validator("routes")
    @classmethod
    def _unique(cls, v: list[Route]) -> list[Route]:
        names = [r.name for r in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate route names: {sorted(dup)}")
        return v


class SemanticRouter:
    """Route queries to declared routes by embedding similarity.

    Example:
        >>> from graphroute.routers.semantic import Route, SemanticRouter
        >>> r = SemanticRouter([Route(name="maths", model="big", utterances=["solve 2x + 3 = 7", "integrate x squared"]),
        ...                     Route(name="greeting", model="small", utterances=["hello there", "good morning"])],
        ...                    fallback="small")
        >>> d = r.decide("please solve 3x + 1 = 10")[0]
        >>> d.route, d.model
        ('maths', 'big')
    """

    def __init__(self, routes: Sequence[Route | dict], *, default_threshold: float = 0.3, fallback: str | None = None,
                 aggregation: str = "max", top_n: int = 3, encoder: Any = None) -> None:
        self.spec = RouteSet(routes=[r if isinstance(r, Route) else Route(**r) for r in routes],
                             default_threshold=default_threshold, fallback=fallback, aggregation=aggregation, top_n=top_n)
        self.encoder = encoder
        self._index: VectorIndex | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_yaml(cls, path: str | Path, encoder: Any = None) -> "SemanticRouter":
        """Read routes from YAML; errors name file:line:column and the field."""
        from graphroute.yamlconf import load_yaml_model

        spec = load_yaml_model(path, RouteSet)
        return cls(spec.routes, default_threshold=spec.default_threshold, fallback=spec.fallback,
                   aggregation=spec.aggregation, top_n=spec.top_n, encoder=encoder)

    @property
    def routes(self) -> list[Route]:
        return self.spec.routes

    @property
    def encoder_(self):
        if getattr(self, "_encoder", None) is None:
            self._encoder = resolve_encoder(self.encoder)
        return self._encoder

    def _build(self) -> None:
        texts = [u for r in self.routes for u in r.utterances]
        self._owner = np.array([i for i, r in enumerate(self.routes) for _ in r.utterances])
        V = self.encoder_.encode(texts)
        self._index = VectorIndex(V.shape[1])
        self._index.add(V)

    # ------------------------------------------------------------------ scoring
    def scores(self, X: Sequence[str] | str) -> np.ndarray:
        """(n, routes) similarity of each query to each route."""
        if self._index is None:
            self._build()
        from graphroute.encoders import encode_queries

        prompts = check_prompts(X)
        V = encode_queries(self.encoder_, prompts)
        sims, ids = self._index.search(V, len(self._index))
        out = np.full((len(prompts), len(self.routes)), -1.0)
        n_top = 1 if self.spec.aggregation == "max" else self.spec.top_n
        for i in range(len(prompts)):
            owners = self._owner[ids[i]]
            for r in range(len(self.routes)):
                s = sims[i][owners == r][:n_top]  # search results are sorted, best first
                out[i, r] = float(s.mean())
        return out

    def thresholds(self) -> np.ndarray:
        return np.array([r.threshold if r.threshold is not None else self.spec.default_threshold for r in self.routes])

    def query(self, text: str, top_k: int = 3) -> list[tuple[str, float]]:
        """Routes above their thresholds, best first, at most ``top_k``."""
        s = self.scores([text])[0]
        ok = np.flatnonzero(s >= self.thresholds())
        ranked = ok[np.argsort(-s[ok])][:top_k]
        return [(self.routes[i].name, float(s[i])) for i in ranked]

    def decide(self, X: Sequence[str] | str, **_: Any) -> list[Decision]:
        """The best route above its threshold per query, or "no route" and the fallback model."""
        S = self.scores(X)
        th = self.thresholds()
        out = []
        for s in S:
            ok = np.flatnonzero(s >= th)
            scores = {r.name: float(v) for r, v in zip(self.routes, s)}
            if len(ok):
                i = int(ok[np.argmax(s[ok])])
                r = self.routes[i]
                out.append(Decision(model=r.model or self.spec.fallback, scores=scores, threshold=float(th[i]),
                                    reason=f"route {r.name!r}: similarity {s[i]:.3f} >= {th[i]:.3f}", policy="semantic",
                                    route=r.name))
            else:
                best = int(np.argmax(s))
                out.append(Decision(model=self.spec.fallback, scores=scores, threshold=None, policy="semantic", route=None,
                                    reason=f"no route: best {self.routes[best].name!r} at {s[best]:.3f} is below its "
                                           f"threshold {th[best]:.3f}; fallback {self.spec.fallback!r}"))
        return out

    # ------------------------------------------------------------------ learning thresholds
    def fit(self, X: Sequence[str], y: Sequence[str | None]) -> "SemanticRouter":
        """Set each route's threshold to the value maximising its F1 on labelled queries
        (``y``: the right route name, or None for queries that match no route). Thresholds sit
        halfway between observed scores; among equally good ones the middle is taken."""
        names = [r.name for r in self.routes]
        for label in y:
            if label is not None and label not in names:
                raise ValueError(f"label {label!r} is not a route; routes: {names}")
        S = self.scores(X)
        y = np.array([names.index(v) if v is not None else -1 for v in y])
        for r, route in enumerate(self.routes):
            vals = np.unique(S[:, r])
            # candidate thresholds halfway between observed scores, so that a margin remains
            cands = np.r_[vals[0] - 1e-3, (vals[1:] + vals[:-1]) / 2, vals[-1] + 1e-3]
            f1s = []
            for t in cands:
                pred = S[:, r] >= t
                tp = np.sum(pred & (y == r))
                f1s.append(2 * tp / max(pred.sum() + np.sum(y == r), 1))
            best = np.flatnonzero(np.isclose(f1s, max(f1s)))
            route.threshold = float(np.clip(cands[best[len(best) // 2]], -1.0, 1.0))
        return self

    def evaluate(self, X: Sequence[str], y: Sequence[str | None]) -> dict[str, Any]:
        """Accuracy (None = no route) and per-route recall on labelled queries."""
        got = [d.route for d in self.decide(X)]
        acc = float(np.mean([g == t for g, t in zip(got, y)]))
        recall = {}
        for r in self.routes:
            idx = [i for i, t in enumerate(y) if t == r.name]
            recall[r.name] = float(np.mean([got[i] == r.name for i in idx])) if idx else None
        return {"accuracy": acc, "recall": recall, "n": len(got)}

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Routes, thresholds and the utterance vectors, to a directory (replaced atomically)."""
        if self._index is None:
            self._build()
        meta = {"format_version": FORMAT_VERSION, "encoder_id": self.encoder_.id, "spec": self.spec.model_dump()}

        def write(tmp: Path) -> None:
            (tmp / "semantic.json").write_text(json.dumps(meta, indent=2))
            ids = self._index.ids()
            np.savez(tmp / "vectors.npz", vectors=np.stack([self._index._store[int(i)] for i in ids]), owner=self._owner[ids])

        return write_folder(path, write)

    @classmethod
    def load(cls, path: str | Path, encoder: Any = None) -> "SemanticRouter":
        path = Path(path)
        meta = read_json(path / "semantic.json", "semantic router")
        z = read_npz(path / "vectors.npz")
        if "vectors" not in z or "owner" not in z:
            raise PersistenceError("vectors.npz lacks vectors/owner arrays", path=path)
        vecs, owner = z["vectors"], z["owner"]
        if meta.get("format_version") != FORMAT_VERSION:
            raise PersistenceError(f"format_version {meta.get('format_version')!r} is not {FORMAT_VERSION}", path=path)
        spec = RouteSet.model_validate(meta["spec"])
        r = cls(spec.routes, default_threshold=spec.default_threshold, fallback=spec.fallback,
                aggregation=spec.aggregation, top_n=spec.top_n, encoder=encoder)
        if r.encoder_.id != meta["encoder_id"]:
            raise PersistenceError(f"saved with encoder {meta['encoder_id']!r}, loaded with {r.encoder_.id!r}", path=path)
        r._index = VectorIndex(vecs.shape[1])
        r._index.add(vecs)
        r._owner = owner
        return r
