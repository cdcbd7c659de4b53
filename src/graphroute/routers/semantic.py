"""Semantic routes (as semantic-router): routes declared by example utterances, matched by similarity.

A route's score for a query is the cosine similarity of its most similar utterance
(``aggregation="max"``, the default) or the mean over its ``top_n`` most similar ones
(``"mean_top"``, steadier for routes with many utterances). Routes whose score clears their own
threshold are returned best first; when none does, the decision is "no route" and the
``fallback`` model (if any) is chosen. ``fit`` sets each route's threshold from labelled examples
(the threshold maximising that route's F1); ``evaluate`` reports accuracy and per-route recall.
Routes are added and removed with ``SemanticRouter.add_route`` / ``remove_route`` (only the
changed utterances are embedded); the index follows any change of the routes.

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

import warnings
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from graphroute.encoders import EncoderMixin
from graphroute.errors import ConfigError, PersistenceError
from graphroute.index import VectorIndex
from graphroute.persist import read_folder, save_folder
from graphroute.prompts import check_prompts
from graphroute.routers.familiarity import Familiarity
from graphroute.types import Decision
from graphroute.yamlconf import load_yaml_model

KIND = "semantic router"


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


class SemanticRouter(EncoderMixin):
    """Route queries to declared routes by embedding similarity.

    Examples:
        >>> from graphroute.routers.semantic import Route, SemanticRouter
        >>> r = SemanticRouter([Route(name="maths", model="big", utterances=["solve 2x + 3 = 7", "integrate x squared"]),
        ...                     Route(name="greeting", model="small", utterances=["hello there", "good morning"])],
        ...                    fallback="small")
        >>> d = r.decide("please solve 3x + 1 = 10")[0]
        >>> d.route, d.model
        ('maths', 'big')
        >>> r.add_route(Route(name="code", model="big", utterances=["write a python function"]))
        >>> r.decide("write a python function that sorts a list")[0].route
        'code'
    """

    def __init__(self, routes: Sequence[Route | dict], *, default_threshold: float = 0.3, fallback: str | None = None,
                 aggregation: str = "max", top_n: int = 3, encoder: Any = None) -> None:
        self.spec = RouteSet(routes=[r if isinstance(r, Route) else Route(**r) for r in routes],
                             default_threshold=default_threshold, fallback=fallback, aggregation=aggregation, top_n=top_n)
        self.encoder = encoder
        self._index: VectorIndex | None = None
        self._built_for: tuple | None = None

    @classmethod
    def from_yaml(cls, path: str | Path, encoder: Any = None) -> "SemanticRouter":
        """Read routes from YAML; errors name file:line:column and the field."""
        spec = load_yaml_model(path, RouteSet)
        return cls(spec.routes, default_threshold=spec.default_threshold, fallback=spec.fallback,
                   aggregation=spec.aggregation, top_n=spec.top_n, encoder=encoder)

    # ------------------------------------------------------------------ routes and the index
    @property
    def routes(self) -> tuple[Route, ...]:
        """The routes, in order (a tuple: change them with ``add_route`` / ``remove_route``)."""
        return tuple(self.spec.routes)

    def _fingerprint(self) -> tuple:
        return tuple((r.name, tuple(r.utterances)) for r in self.spec.routes)

    def build(self) -> "SemanticRouter":
        """Embed every utterance and index them (done on first use and after any change of the routes)."""
        texts = [u for r in self.spec.routes for u in r.utterances]
        owner = [i for i, r in enumerate(self.spec.routes) for _ in r.utterances]
        V = self.embed_texts(texts)
        self._index = VectorIndex(V.shape[1])
        ids = self._index.add(V)
        self._owner = dict(zip(ids.tolist(), (self.spec.routes[i].name for i in owner)))
        self._after_change()
        return self

    def _after_change(self) -> None:
        self._built_for = self._fingerprint()
        assert self._index is not None
        V = self._index.vectors()
        self._familiarity = Familiarity.fit(V, k=3) if len(V) > 1 else None

    def _ready(self) -> VectorIndex:
        if self._index is None or self._built_for != self._fingerprint():
            self.build()
        return self._index  # type: ignore[return-value]

    def add_route(self, route: Route | dict) -> None:
        """Add a route (its utterances are embedded now; the others are not embedded again)."""
        route = route if isinstance(route, Route) else Route(**route)
        index = self._ready()
        self.spec = RouteSet(**{**self.spec.model_dump(), "routes": [*self.spec.routes, route]})
        ids = index.add(self.embed_texts(route.utterances))
        self._owner.update({int(i): route.name for i in ids})
        self._after_change()

    def remove_route(self, name: str) -> Route:
        """Remove a route by name; returns it."""
        names = [r.name for r in self.spec.routes]
        if name not in names:
            raise ConfigError(f"no route {name!r}; routes: {', '.join(names)}", field="routes")
        index = self._ready()
        if len(names) == 1:
            raise ConfigError("a semantic router needs at least one route", field="routes")
        route = self.spec.routes[names.index(name)]
        self.spec = RouteSet(**{**self.spec.model_dump(), "routes": [r for r in self.spec.routes if r.name != name]})
        gone = [i for i, owner in self._owner.items() if owner == name]
        index.remove(np.asarray(gone, dtype=np.int64))
        for i in gone:
            del self._owner[i]
        self._after_change()
        return route

    # ------------------------------------------------------------------ scoring
    def _search(self, prompts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Similarities and ids of every utterance for each prompt (best first), and the prompts' vectors."""
        index = self._ready()
        V = self.embed_texts(prompts, store=False)
        sims, ids = index.search(V, len(index))
        return sims, ids, V

    def scores(self, X: Sequence[str] | str) -> np.ndarray:
        """(n, routes) similarity of each query to each route."""
        return self._route_scores(*self._search(check_prompts(X))[:2])

    def _route_scores(self, sims: np.ndarray, ids: np.ndarray) -> np.ndarray:
        names = [r.name for r in self.spec.routes]
        col = {n: j for j, n in enumerate(names)}
        n_top = 1 if self.spec.aggregation == "max" else self.spec.top_n
        out = np.full((len(sims), len(names)), -1.0)
        for i in range(len(sims)):
            taken = np.zeros(len(names), dtype=int)
            total = np.zeros(len(names))
            for s, u in zip(sims[i], ids[i]):  # search results are sorted, best first
                j = col.get(self._owner.get(int(u), ""), -1)
                if j >= 0 and taken[j] < n_top:
                    taken[j] += 1
                    total[j] += s
            has = taken > 0
            out[i, has] = total[has] / taken[has]
        return out

    def thresholds(self) -> np.ndarray:
        return np.array([r.threshold if r.threshold is not None else self.spec.default_threshold for r in self.spec.routes])

    def query(self, text: str, top_k: int = 3) -> list[tuple[str, float]]:
        """Routes above their thresholds, best first, at most ``top_k``."""
        s = self.scores([text])[0]
        ok = np.flatnonzero(s >= self.thresholds())
        ranked = ok[np.argsort(-s[ok])][:top_k]
        return [(self.spec.routes[i].name, float(s[i])) for i in ranked]

    def decide(self, X: Sequence[str] | str, **_: Any) -> list[Decision]:
        """The best route above its threshold per query, or "no route" and the fallback model."""
        sims, ids, V = self._search(check_prompts(X))
        S, th = self._route_scores(sims, ids), self.thresholds()
        fam = self._familiarity.score(V) if self._familiarity is not None else None
        out = []
        for i, s in enumerate(S):
            ok = np.flatnonzero(s >= th)
            extra: dict[str, Any] = {} if fam is None else {"familiarity": float(fam[0][i]),
                                                            "nearest_similarity": float(fam[1][i])}
            scores = {r.name: float(v) for r, v in zip(self.spec.routes, s)}
            if len(ok):
                j = int(ok[np.argmax(s[ok])])
                r = self.spec.routes[j]
                out.append(Decision(model=r.model or self.spec.fallback, scores=scores, threshold=float(th[j]),
                                    reason=f"route {r.name!r}: similarity {s[j]:.3f} >= {th[j]:.3f}", policy="semantic",
                                    route=r.name, **extra))
            else:
                best = int(np.argmax(s))
                out.append(Decision(model=self.spec.fallback, scores=scores, threshold=None, policy="semantic", route=None,
                                    unfamiliar=True, reason=f"no route: best {self.spec.routes[best].name!r} at "
                                    f"{s[best]:.3f} is below its threshold {th[best]:.3f}; fallback {self.spec.fallback!r}",
                                    **extra))
        return out

    # ------------------------------------------------------------------ learning thresholds
    def fit(self, X: Sequence[str], y: Sequence[str | None]) -> "SemanticRouter":
        """Set each route's threshold to the value maximising its F1 on labelled queries (``y``: the
        right route name, or None for queries that match no route). Thresholds sit halfway between
        observed scores; among equally good ones the middle is taken.

        A route with no labelled query gets the threshold that keeps every labelled query out of it
        (just above their highest score for it: none of them belongs there), with a warning naming
        it; all labels None therefore rejects every labelled query.
        """
        names = [r.name for r in self.spec.routes]
        y = list(y)
        if len(y) != len(check_prompts(X)):
            raise ValueError(f"{len(check_prompts(X))} queries but {len(y)} labels")
        for label in y:
            if label is not None and label not in names:
                raise ValueError(f"label {label!r} is not a route; routes: {names}")
        S = self.scores(X)
        labels = np.array([names.index(v) if v is not None else -1 for v in y])
        unlabelled = []
        for r, route in enumerate(self.spec.routes):
            if not (labels == r).any():
                unlabelled.append(route.name)
                route.threshold = float(np.clip(S[:, r].max() + 1e-3, -1.0, 1.0))
                continue
            vals = np.unique(S[:, r])
            # candidate thresholds halfway between observed scores, so that a margin remains
            cands = np.r_[vals[0] - 1e-3, (vals[1:] + vals[:-1]) / 2, vals[-1] + 1e-3]
            f1s = []
            for t in cands:
                pred = S[:, r] >= t
                tp = np.sum(pred & (labels == r))
                f1s.append(2 * tp / max(pred.sum() + np.sum(labels == r), 1))
            best = np.flatnonzero(np.isclose(f1s, max(f1s)))
            route.threshold = float(np.clip(cands[best[len(best) // 2]], -1.0, 1.0))
        if unlabelled:
            warnings.warn(f"routes with no labelled query: {', '.join(unlabelled)}; their thresholds keep all "
                          f"{len(y)} labelled queries out (label examples of them to learn better ones)",
                          UserWarning, stacklevel=2)
        return self

    def evaluate(self, X: Sequence[str], y: Sequence[str | None]) -> dict[str, Any]:
        """Accuracy (None = no route) and per-route recall on labelled queries."""
        got = [d.route for d in self.decide(X)]
        acc = float(np.mean([g == t for g, t in zip(got, y)]))
        recall = {}
        for r in self.spec.routes:
            idx = [i for i, t in enumerate(y) if t == r.name]
            recall[r.name] = float(np.mean([got[i] == r.name for i in idx])) if idx else None
        return {"accuracy": acc, "recall": recall, "n": len(got)}

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Routes, thresholds, the encoder spec and the utterance vectors, to a folder (replaced atomically)."""
        index = self._ready()
        ids = index.ids()
        meta = {"spec": self.spec.model_dump(), "encoder": self.encoder_spec(),
                "owners": [self._owner[int(i)] for i in ids]}
        return save_folder(path, KIND, meta, arrays={"vectors": index.vectors(ids)}, encoder_id=self.encoder_.id)

    @classmethod
    def load(cls, path: str | Path, encoder: Any = None) -> "SemanticRouter":
        """Load a saved router; ``encoder`` defaults to the saved encoder spec."""
        saved = read_folder(path, KIND)
        spec = RouteSet.model_validate(saved.meta["spec"])
        r = cls(spec.routes, default_threshold=spec.default_threshold, fallback=spec.fallback,
                aggregation=spec.aggregation, top_n=spec.top_n,
                encoder=encoder if encoder is not None else saved.meta.get("encoder"))
        saved.check_encoder(r.encoder_.id)
        vecs, owners = saved.array("vectors"), saved.meta.get("owners") or []
        if len(vecs) != len(owners) or set(owners) != {x.name for x in spec.routes}:
            raise PersistenceError("the saved vectors do not match the routes", path=path)
        r._index = VectorIndex(vecs.shape[1])
        ids = r._index.add(np.ascontiguousarray(vecs, dtype=np.float32))
        r._owner = dict(zip(ids.tolist(), owners))
        r._after_change()
        return r
