"""A cascade as configuration (dicts, YAML, the save folder's ``graphroute.json``).

A cascade config names its stages' models; the models themselves (LangChain chat models) are
passed in by name, since they hold credentials and clients:

.. code-block:: yaml

    stages:
      - model: gpt-4o-mini
        scorer: {type: combined, how: min, scorers: [{type: format, kind: integer}, {type: arithmetic}]}
        threshold: 0.5
      - model: gpt-4o
    max_cost: 0.01

Build one with ``graphroute.cascade.Cascade.from_config``; save and load with
``cascade.save(path)`` / ``Cascade.load(path, models)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphroute.cascade.stage import Stage
from graphroute.errors import CascadeError, UnknownModelError
from graphroute.scorers import CombinedScorer, LearnedScorer, Scorer, make_scorer

FIELDS = {"stages", "max_cost", "calibration"}
STAGE_FIELDS = {"model", "scorer", "threshold", "options", "name"}


def stages_from_config(cfg: dict[str, Any], models: dict[str, Any], *, base: str | Path | None = None,
                       where: str = "cascade") -> list[Stage]:
    """The stages of a cascade config; errors name the field (``cascade.stages[1].scorer``)."""
    if not isinstance(cfg, dict) or not isinstance(cfg.get("stages"), list):
        raise CascadeError(f"{where}: expected a mapping with a 'stages' list")
    unknown = set(cfg) - FIELDS
    if unknown:
        raise CascadeError(f"{where}: unknown field(s) {sorted(unknown)}")
    stages = []
    for i, s in enumerate(cfg["stages"]):
        at = f"{where}.stages[{i}]"
        if not isinstance(s, dict) or "model" not in s:
            raise CascadeError(f"{at}: expected a mapping with 'model'")
        extra = set(s) - STAGE_FIELDS
        if extra:
            raise CascadeError(f"{at}: unknown field(s) {sorted(extra)}")
        name = s["model"]
        if name not in models:
            raise UnknownModelError(name, sorted(models), at)
        scorer = None
        if s.get("scorer") is not None:
            try:
                scorer = make_scorer(s["scorer"], models=models, base=base)
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
    return stages


def scorer_config(scorer: Scorer, folder: Path, tag: str) -> dict[str, Any]:
    """A scorer as configuration; learned scorers are saved into ``folder/tag`` and referenced."""
    if isinstance(scorer, LearnedScorer):
        scorer.save(folder / tag)
        return {"name": "learned", "path": tag}
    if isinstance(scorer, CombinedScorer):
        return {"name": "combined", "how": scorer.how, "weights": scorer.weights,
                "scorers": [scorer_config(s, folder, f"{tag}_{k}") for k, s in enumerate(scorer.scorers)]}
    return scorer.config()


def cascade_config(cascade: Any, folder: Path) -> dict[str, Any]:
    """The configuration that rebuilds ``cascade`` (learned scorers written into ``folder``)."""
    stages = [{"model": st.name, "threshold": st.threshold, "options": st.options,
               "scorer": scorer_config(st.scorer, folder, f"scorer_{i}") if st.scorer else None}
              for i, st in enumerate(cascade.stages)]
    return {"stages": stages, "max_cost": cascade.max_cost,
            "calibration": cascade.calibration.to_dict() if cascade.calibration is not None else None}
