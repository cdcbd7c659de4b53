"""Learned utilities for plans, from logged runs.

Each logged run is a task, the plan that ran it and its score. A plan's features are its slots'
(role, model) pairs, weighted as the plan weights them, plus its (mode, rounds): utility is linear
in them, which keeps plan search exact. Two fits, both ridge regressions shrunk towards a prior:

* **global** — all runs, shrunk towards the catalogue's cold-start priors (model quality + role
  prior; mode prior);
* **local** — for a new task, the ``k`` logged runs with the most similar task embeddings (FAISS,
  the classifier's encoders and index), similarity-weighted, shrunk towards the global fit.

Examples:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from graphroute.allocator import Catalogue, ModelSpec, Role, UtilityModel
    >>> from graphroute.encoders import LangChainEncoder
    >>> cat = Catalogue(roles=[Role(name="solver")], models=[ModelSpec(id="a", input_price=1, output_price=1),
    ...                                                      ModelSpec(id="b", input_price=1, output_price=1)])
    >>> runs = [{"task": f"task {i}", "mode": "single", "rounds": 1,
    ...          "assignments": [{"slot": "solver", "role": "solver", "model": "ab"[i % 2]}], "score": [0.2, 0.9][i % 2]}
    ...         for i in range(40)]
    >>> um = UtilityModel(cat, encoder=LangChainEncoder(DeterministicFakeEmbedding(size=16))).fit(runs)
    >>> u, bonus = um.predict("task 99")
    >>> bool(u[0, 1] > u[0, 0])
    True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from graphroute.allocator.catalogue import Catalogue
from graphroute.encoders import EncoderMixin
from graphroute.errors import ConfigError, NotFittedError, PersistenceError
from graphroute.index import VectorIndex
from graphroute.persist import read_folder, save_folder

KIND = "utility model"


class UtilityModel(EncoderMixin):
    """Predicts (roles x models) utilities and (mode, rounds) offsets for a task (estimator-style).

    ``alpha``: shrinkage of the global fit towards the priors; ``beta``: of each local fit towards
    the global one; ``k`` similar logged runs, weighted ``exp((sim - max_sim) / temperature)``
    (defaults chosen on the simulated world of ``allocator_world``, seed 0).
    """

    def __init__(self, catalogue: Catalogue, *, encoder: Any = None, alpha: float = 1.0, beta: float = 0.1,
                 k: int = 150, temperature: float = 0.5) -> None:
        self.catalogue, self.encoder = catalogue, encoder
        self.alpha, self.beta, self.k, self.temperature = alpha, beta, k, temperature
        cat = catalogue
        self._roles = {r.name: i for i, r in enumerate(cat.roles)}
        self._models = {m.id: j for j, m in enumerate(cat.models)}
        self._combos = [(m.name, r) for m in cat.modes for r in m.rounds]
        self._combo_index = {c: i for i, c in enumerate(self._combos)}
        self._slot_w = {m.name: {s.name: s.weight / sum(x.weight for x in m.slots) for s in m.slots} for m in cat.modes}
        self.n_um = len(cat.roles) * len(cat.models)
        self.prior_ = self._prior()
        self.w_ = self.prior_.copy()

    # ------------------------------------------------------------------ features
    def _prior(self) -> np.ndarray:
        cat = self.catalogue
        u0 = np.array([[m.quality + r.prior for m in cat.models] for r in cat.roles], dtype=np.float64)
        b0 = np.array([next(m.prior for m in cat.modes if m.name == name) for name, _ in self._combos])
        return np.r_[u0.ravel(), b0]

    def features(self, run: dict[str, Any], where: str = "run") -> np.ndarray:
        """The plan's feature vector (weighted role-model pairs, then its (mode, rounds))."""
        phi = np.zeros(self.n_um + len(self._combos))
        mode, rounds = run.get("mode"), int(run.get("rounds", 1))
        if (mode, rounds) not in self._combo_index:
            raise ConfigError(f"{where}: unknown mode/rounds {(mode, rounds)!r}; known: {self._combos}", field="mode")
        weights = self._slot_w[str(mode)]
        for a in run.get("assignments", []):
            role, model, slot = a.get("role"), a.get("model"), a.get("slot")
            if role not in self._roles or model not in self._models or slot not in weights:
                raise ConfigError(f"{where}: unknown slot/role/model in {a!r}", field="assignments")
            phi[self._roles[role] * len(self._models) + self._models[model]] += weights[slot]
        phi[self.n_um + self._combo_index[(str(mode), rounds)]] = 1.0
        return phi

    # ------------------------------------------------------------------ fitting
    @staticmethod
    def _ridge(Phi: np.ndarray, y: np.ndarray, s: np.ndarray, lam: float, w0: np.ndarray) -> np.ndarray:
        A = Phi.T @ (Phi * s[:, None]) + lam * np.eye(Phi.shape[1])
        return np.linalg.solve(A, Phi.T @ (s * y) + lam * w0)

    def fit(self, runs: Sequence[dict[str, Any]]) -> "UtilityModel":
        """Learn from logged runs (dicts with task, mode, rounds, assignments, score)."""
        runs = list(runs)
        if not runs:
            raise ConfigError("no logged runs to learn from", field="runs")
        Phi = np.stack([self.features(r, f"run {i}") for i, r in enumerate(runs)])
        try:
            y = np.array([float(r["score"]) for r in runs])
        except (KeyError, TypeError, ValueError):
            raise ConfigError("every run needs a numeric 'score'", field="score") from None
        tasks = [str(r.get("task", "")) for r in runs]
        if not all(t.strip() for t in tasks):
            raise ConfigError("every run needs a non-empty 'task'", field="task")
        self.Phi_, self.y_ = Phi, y
        self.w_ = self._ridge(Phi, y, np.ones(len(y)), self.alpha, self.prior_)
        E = self.embed_texts(tasks)
        self.E_ = E
        self.index_ = VectorIndex(E.shape[1])
        self.index_.add(E)
        self.encoder_id_ = self.encoder_.id
        return self

    @classmethod
    def read_runs(cls, path: str | Path) -> list[dict[str, Any]]:
        """Logged runs from a JSONL file; a bad line raises ConfigError naming it."""
        out = []
        path = Path(path)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError as exc:
                    raise ConfigError(f"line {n}: not JSON ({exc})", path=path) from None
        return out

    # ------------------------------------------------------------------ predicting
    def weights_for(self, task: str, vector: np.ndarray | None = None) -> np.ndarray:
        """The task's weight vector (global fit refined on similar logged tasks)."""
        if not hasattr(self, "index_"):
            return self.w_
        v = self.embed_texts([task], store=False) if vector is None else np.asarray(vector[None], dtype=np.float32)
        sims, ids = self.index_.search(v, self.k)
        ok = ids[0] >= 0
        sims, ids = sims[0][ok], ids[0][ok]
        s = np.exp((sims - sims.max()) / max(self.temperature, 1e-6))
        return self._ridge(self.Phi_[ids], self.y_[ids], s, self.beta, self.w_)

    def predict(self, task: str) -> tuple[np.ndarray, dict[tuple[str, int], float]]:
        """(roles x models) utilities and (mode, rounds) -> offset, for ``task``."""
        w = self.weights_for(task)
        u = w[: self.n_um].reshape(len(self.catalogue.roles), len(self.catalogue.models))
        return u, {c: float(w[self.n_um + i]) for i, c in enumerate(self._combos)}

    def predict_run(self, run: dict[str, Any]) -> float:
        """Predicted score of a logged-style run (its task and plan)."""
        return float(self.features(run) @ self.weights_for(str(run["task"])))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        if not hasattr(self, "Phi_"):
            raise NotFittedError("UtilityModel is not fitted; nothing to save")
        meta = {"catalogue": self.catalogue.model_dump(), "encoder": self.encoder_spec(),
                "params": {"alpha": self.alpha, "beta": self.beta, "k": self.k, "temperature": self.temperature}}
        return save_folder(path, KIND, meta, arrays={"Phi": self.Phi_, "y": self.y_, "w": self.w_, "E": self.E_},
                           encoder_id=self.encoder_id_)

    @classmethod
    def load(cls, path: str | Path, encoder: Any = None) -> "UtilityModel":
        saved = read_folder(path, KIND)
        meta = saved.meta
        um = cls(Catalogue.model_validate(meta["catalogue"]),
                 encoder=encoder if encoder is not None else meta.get("encoder"), **meta["params"])
        um.Phi_, um.y_, um.w_ = saved.array("Phi"), saved.array("y"), saved.array("w")
        um.E_ = saved.array("E").astype(np.float32)
        if um.Phi_.shape[1] != len(um.prior_) or len(um.E_) != len(um.y_):
            raise PersistenceError("the saved arrays do not match the saved catalogue", path=path)
        saved.check_encoder(um.encoder_.id)
        um.encoder_id_ = saved.encoder_id
        um.index_ = VectorIndex(um.E_.shape[1])
        um.index_.add(um.E_)
        return um
