"""Cascades from configuration (dicts, YAML) and to/from a save folder.

A cascade config names its stages' models; the models themselves (LangChain chat models) are
passed in by name, since they hold credentials and clients:

.. code-block:: yaml

    stages:
      - model: gpt-4o-mini
        scorer: {type: combined, how: min, scorers: [{type: format, kind: integer}, {type: arithmetic}]}
        threshold: 0.5
      - model: gpt-4o
    max_cost: 0.01

Example:
    >>> import tempfile
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade.config import cascade_from_config, load_cascade
    >>> models = {"small": FakeListChatModel(responses=["1"]), "big": FakeListChatModel(responses=["2"])}
    >>> c = cascade_from_config({"stages": [{"model": "small", "scorer": {"type": "format", "kind": "integer"},
    ...                                     "threshold": 0.7}, {"model": "big"}]}, models)
    >>> folder = c.save(tempfile.mkdtemp() + "/cascade")
    >>> load_cascade(folder, models).thresholds
    [0.7]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphroute.cascade.base import CascadeError
from graphroute.cascade.cascade import Cascade, Stage
from graphroute.cascade.scorers import CombinedScorer, LearnedScorer, Scorer, scorer_from_config
from graphroute.errors import PersistenceError, UnknownModelError
from graphroute.persist import read_json, write_folder

FORMAT_VERSION = 1


def cascade_from_config(cfg: dict[str, Any], models: dict[str, Any], *, base: str | Path | None = None,
                        where: str = "cascade") -> Cascade:
    """Build a :class:`Cascade`; errors name the field (``cascade.stages[1].scorer``)."""
    if not isinstance(cfg, dict) or not isinstance(cfg.get("stages"), list):
        raise CascadeError(f"{where}: expected a mapping with a 'stages' list")
    unknown = set(cfg) - {"stages", "max_cost", "calibration", "format_version"}
    if unknown:
        raise CascadeError(f"{where}: unknown field(s) {sorted(unknown)}")
    stages = []
    for i, s in enumerate(cfg["stages"]):
        at = f"{where}.stages[{i}]"
        if not isinstance(s, dict) or "model" not in s:
            raise CascadeError(f"{at}: expected a mapping with 'model'")
        extra = set(s) - {"model", "scorer", "threshold", "options", "name"}
        if extra:
            raise CascadeError(f"{at}: unknown field(s) {sorted(extra)}")
        name = s["model"]
        if name not in models:
            raise UnknownModelError(name, sorted(models), at)
        scorer = None
        if s.get("scorer") is not None:
            try:
                scorer = scorer_from_config(s["scorer"], models=models, base=base)
            except CascadeError as exc:
                raise CascadeError(f"{at}.scorer: {exc}") from None
        th = s.get("threshold", 0.5)
        if not isinstance(th, (int, float)) or isinstance(th, bool):
            raise CascadeError(f"{at}.threshold: must be a number, got {th!r}")
        try:
            stages.append(Stage(models[name], name=s.get("name", name), scorer=scorer, threshold=float(th),
                                options=s.get("options")))
        except CascadeError as exc:
            raise CascadeError(f"{at}: {exc}") from None
    try:
        c = Cascade(stages, max_cost=cfg.get("max_cost"))
    except CascadeError as exc:
        raise CascadeError(f"{where}: {exc}") from None
    c.calibration = cfg.get("calibration")
    return c


def _scorer_config(scorer: Scorer, folder: Path, tag: str) -> dict[str, Any]:
    if isinstance(scorer, LearnedScorer):
        scorer.save(folder / tag)
        return {"type": "learned", "path": tag}
    if isinstance(scorer, CombinedScorer):
        return {"type": "combined", "how": scorer.how, "weights": scorer.weights,
                "scorers": [_scorer_config(s, folder, f"{tag}_{k}") for k, s in enumerate(scorer.scorers)]}
    return scorer.config()


def save_cascade(cascade: Cascade, path: str | Path) -> Path:
    """Write ``cascade.json`` (stages, scorers, thresholds, calibration) plus learned scorers' folders."""

    def write(tmp: Path) -> None:
        stages = []
        for i, st in enumerate(cascade.stages):
            stages.append({"model": st.name, "threshold": st.threshold, "options": st.options,
                           "scorer": _scorer_config(st.scorer, tmp, f"scorer_{i}") if st.scorer else None})
        meta = {"format_version": FORMAT_VERSION, "stages": stages, "max_cost": cascade.max_cost,
                "calibration": cascade.calibration}
        (tmp / "cascade.json").write_text(json.dumps(meta, indent=2, default=str))

    return write_folder(path, write)


def load_cascade(path: str | Path, models: dict[str, Any]) -> Cascade:
    """Load a saved cascade; ``models`` maps each stage's model name to a chat model."""
    path = Path(path)
    meta = read_json(path / "cascade.json", "cascade")
    if meta.get("format_version") != FORMAT_VERSION:
        raise PersistenceError(f"format_version {meta.get('format_version')!r}, this graphroute reads {FORMAT_VERSION}", path=path)
    return cascade_from_config(meta, models, base=path, where=str(path / "cascade.json"))
