"""The one typed form every routing benchmark is loaded into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from graphroute.errors import DatasetError, UnknownModelError
from graphroute.prompts import check_prompts


@dataclass
class RoutingDataset:
    """Recorded outcomes of several models on a list of prompts.

    ``scores[i, j]`` is the quality model ``models[j]`` reached on ``prompts[i]``:
    0/1 for right/wrong benchmarks, any real number for graded ones (MT-Bench judge
    scores 1-10). ``score_range`` is the scale's (low, high).

    Examples:
        >>> import numpy as np
        >>> from graphroute.datasets import RoutingDataset
        >>> d = RoutingDataset(name="toy", prompts=["2+2?", "prove P!=NP"],
        ...                    models=["small", "big"],
        ...                    scores=np.array([[1.0, 1.0], [0.0, 1.0]]))
        >>> d.weak, d.strong, d.accuracy("big")
        ('small', 'big', 1.0)
    """

    name: str
    prompts: list[str]
    models: list[str]
    scores: np.ndarray
    costs: np.ndarray | None = None  # (n, m) dollars per prompt per model, when the data says
    input_tokens: np.ndarray | None = None  # (n, m) or None
    output_tokens: np.ndarray | None = None  # (n, m) or None; NaN where unknown
    responses: dict[str, list[str]] | None = None
    groups: np.ndarray | None = None  # (n,) e.g. MMLU subject
    score_range: tuple[float, float] = (0.0, 1.0)
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    weak_model: str | None = None
    strong_model: str | None = None

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float64)
        n, m = len(self.prompts), len(self.models)
        if self.scores.shape != (n, m):
            raise DatasetError(f"scores have shape {self.scores.shape}, expected ({n}, {m})", path=self.source)
        if len(set(self.models)) != m:
            raise DatasetError(f"duplicate model names: {self.models}", path=self.source)
        for name in ("costs", "input_tokens", "output_tokens"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.asarray(arr, dtype=np.float64)
                if arr.shape != (n, m):
                    raise DatasetError(f"{name} have shape {arr.shape}, expected ({n}, {m})", path=self.source)
                setattr(self, name, arr)
        if self.groups is not None:
            self.groups = np.asarray(self.groups, dtype=object)
            if len(self.groups) != n:
                raise DatasetError(f"groups have length {len(self.groups)}, expected {n}", path=self.source)
        for model in (self.weak_model, self.strong_model):
            if model is not None and model not in self.models:
                raise UnknownModelError(model, self.models, self.name)

    # ------------------------------------------------------------------ basic facts
    def __len__(self) -> int:
        return len(self.prompts)

    def __repr__(self) -> str:
        return f"RoutingDataset(name={self.name!r}, n={len(self)}, models={self.models})"

    def index(self, model: str) -> int:
        """Column of ``model`` in ``scores``; raises ``UnknownModelError``."""
        try:
            return self.models.index(model)
        except ValueError:
            raise UnknownModelError(model, self.models, self.name) from None

    def accuracy(self, model: str) -> float:
        """Mean score of ``model`` over the prompts where it was recorded (accuracy for 0/1 data)."""
        return float(np.nanmean(self.scores[:, self.index(model)]))

    def means(self) -> dict[str, float]:
        """Every model's mean score, by name."""
        return {m: self.accuracy(m) for m in self.models}

    @property
    def weak(self) -> str:
        """The weak model of the routed pair: given, else the lowest mean score."""
        if self.weak_model:
            return self.weak_model
        return self.models[int(np.argmin(np.nanmean(self.scores, axis=0)))]

    @property
    def strong(self) -> str:
        """The strong model of the routed pair: given, else the highest mean score."""
        if self.strong_model:
            return self.strong_model
        return self.models[int(np.argmax(np.nanmean(self.scores, axis=0)))]

    def pair(self, weak: str | None = None, strong: str | None = None) -> tuple[int, int]:
        """Column indices of the (weak, strong) pair."""
        return self.index(weak or self.weak), self.index(strong or self.strong)

    def prompt_groups(self) -> np.ndarray:
        """An integer id per row, equal for identical prompts (grouping for CV)."""
        ids: dict[str, int] = {}
        return np.array([ids.setdefault(p, len(ids)) for p in self.prompts], dtype=np.int64)

    # ------------------------------------------------------------------ slicing
    def subset(self, rows: Sequence[int] | np.ndarray, name: str | None = None) -> "RoutingDataset":
        """A new dataset holding only ``rows`` (indices or boolean mask)."""
        idx = np.arange(len(self))[np.asarray(rows)] if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.int64)

        def take(a):
            return None if a is None else a[idx]

        return RoutingDataset(
            name=name or self.name,
            prompts=[self.prompts[i] for i in idx],
            models=list(self.models),
            scores=self.scores[idx],
            costs=take(self.costs),
            input_tokens=take(self.input_tokens),
            output_tokens=take(self.output_tokens),
            responses=None if self.responses is None else {m: [r[i] for i in idx] for m, r in self.responses.items()},
            groups=take(self.groups),
            score_range=self.score_range,
            source=self.source,
            meta={k: (v[idx] if isinstance(v, np.ndarray) and v.shape[:1] == (len(self),) else v)
                  for k, v in self.meta.items()},  # per-row arrays (logged weights) follow the rows
            weak_model=self.weak_model,
            strong_model=self.strong_model,
        )

    def select_models(self, models: Sequence[str]) -> "RoutingDataset":
        """A new dataset restricted to ``models`` (in that order)."""
        cols = [self.index(m) for m in models]

        def take(a):
            return None if a is None else a[:, cols]

        keep = lambda m: m if m in models else None  # noqa: E731
        return RoutingDataset(
            name=self.name,
            prompts=list(self.prompts),
            models=list(models),
            scores=self.scores[:, cols],
            costs=take(self.costs),
            input_tokens=take(self.input_tokens),
            output_tokens=take(self.output_tokens),
            responses=None if self.responses is None else {m: r for m, r in self.responses.items() if m in models},
            groups=self.groups,
            score_range=self.score_range,
            source=self.source,
            meta=dict(self.meta),
            weak_model=keep(self.weak_model),
            strong_model=keep(self.strong_model),
        )

    def rename_models(self, mapping: dict[str, str]) -> "RoutingDataset":
        """A view with models renamed (``old -> new``; models not in ``mapping`` keep their names)."""
        import dataclasses

        def new(m: str) -> str:
            return mapping.get(m, m)

        names = [new(m) for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"renaming gives duplicate model names: {names}")
        return dataclasses.replace(
            self, models=names,
            responses=None if self.responses is None else {new(m): r for m, r in self.responses.items()},
            weak_model=None if self.weak_model is None else new(self.weak_model),
            strong_model=None if self.strong_model is None else new(self.strong_model))

    def roles(self, weak: str | None = None, strong: str | None = None) -> "RoutingDataset":
        """The (weak, strong) pair as models named ``weak`` and ``strong`` (default: the dataset's
        pair), so records of different pairs concatenate and a router learns what needs a stronger
        model rather than what one named model does; ``meta["pair"]`` keeps the names.

        Examples:
            >>> from graphroute.datasets import load_dataset
            >>> d = load_dataset("llmrouter-9-test").roles()
            >>> d.models, d.meta["pair"]
            (['weak', 'strong'], ['llama3-chatqa-1.5-8b', 'llama-3.1-nemotron-51b-instruct'])
        """
        w, s = weak or self.weak, strong or self.strong
        out = self.select_models([w, s]).rename_models({w: "weak", s: "strong"})
        out.meta["pair"] = [w, s]
        out.weak_model, out.strong_model = "weak", "strong"
        return out

    @classmethod
    def concat(cls, parts: Sequence["RoutingDataset"], name: str | None = None) -> "RoutingDataset":
        """One dataset holding the rows of ``parts`` (which must record the same models on the same
        scale); responses a part lacks are empty strings, per-row extras are kept only if every part has them.

        Examples:
            >>> from graphroute.datasets import RoutingDataset, load_dataset
            >>> both = RoutingDataset.concat([load_dataset("routellm-mmlu"), load_dataset("routellm-gsm8k")])
            >>> len(both), both.models == load_dataset("routellm-gsm8k").models
            (13630, True)
        """
        if not parts:
            raise DatasetError("concat needs at least one dataset")
        first = parts[0]
        for p in parts[1:]:
            if p.models != first.models or p.score_range != first.score_range:
                raise DatasetError(f"{p.name!r} records {p.models} on {p.score_range}, {first.name!r} {first.models} "
                                   f"on {first.score_range}: only datasets of the same models and scale concatenate")

        def stack(attr: str):
            arrays = [getattr(p, attr) for p in parts]
            return None if any(a is None for a in arrays) else np.concatenate(arrays)

        responses = None
        if any(p.responses for p in parts):
            responses = {m: [r for p in parts for r in ((p.responses or {}).get(m) or [""] * len(p))] for m in first.models}
        return cls(name=name or "+".join(p.name for p in parts), prompts=[q for p in parts for q in p.prompts],
                   models=list(first.models), scores=np.concatenate([p.scores for p in parts]), costs=stack("costs"),
                   input_tokens=stack("input_tokens"), output_tokens=stack("output_tokens"), responses=responses,
                   groups=stack("groups"), score_range=first.score_range, source=",".join(p.source for p in parts),
                   weak_model=first.weak_model, strong_model=first.strong_model,
                   meta={"part": np.concatenate([p.parts() for p in parts])})

    def parts(self) -> np.ndarray:
        """Per row, the name of the dataset it came from: ``concat`` records them (``meta["part"]``,
        kept by ``subset``); a dataset that was not concatenated is one part, its own name.

        Examples:
            >>> from graphroute.datasets import RoutingDataset, load_dataset
            >>> both = RoutingDataset.concat([load_dataset("routellm-mmlu"), load_dataset("routellm-gsm8k")])
            >>> sorted(set(both.parts().tolist()))
            ['routellm-gsm8k', 'routellm-mmlu']
        """
        part = self.meta.get("part")
        if isinstance(part, np.ndarray) and part.shape == (len(self),):
            return part
        return np.full(len(self), self.name, dtype=object)

    def summary(self) -> dict[str, Any]:
        """Size, models and per-model mean score, for printing."""
        return {
            "name": self.name,
            "n": len(self),
            "models": {m: round(self.accuracy(m), 6) for m in self.models},
            "weak": self.weak,
            "strong": self.strong,
            "score_range": list(self.score_range),
            "groups": None if self.groups is None else int(len(set(self.groups.tolist()))),
        }


def as_dataset(X: Any, y: Any = None, models: Sequence[str] | None = None) -> RoutingDataset:
    """``fit``'s inputs as a dataset: a RoutingDataset, or prompts plus an (n, m) score matrix."""
    if isinstance(X, RoutingDataset):
        return X
    prompts = check_prompts(X)
    if y is None:
        raise ValueError("fit(X, y): y (an n x m matrix of per-model scores) is required when X is a list of prompts")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"y must be 2-D (prompts x models), got shape {y.shape}")
    models = list(models) if models is not None else [f"model_{j}" for j in range(y.shape[1])]
    return RoutingDataset(name="fit", prompts=prompts, models=models, scores=y)
