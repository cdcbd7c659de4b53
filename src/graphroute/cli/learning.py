"""``graphroute eval --learning-curve``: APGR against the number of labelled training prompts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import typer

from graphroute.datasets import RoutingDataset


def parse_fractions(text: str) -> list[float]:
    """``"0.25,0.5,1"`` -> sorted shares; a bad value is a ``typer.BadParameter`` naming it."""
    from graphroute.evaluation.learning import check_fractions

    try:
        return check_fractions([float(x) for x in text.split(",") if x.strip()])
    except ValueError as e:
        raise typer.BadParameter(str(e).replace("learning curve: ", ""), param_hint="--learning-curve") from None


def curve_table(lc, target: Optional[float] = None):
    """A rich ``Table``: one row per training share, the slope and (with ``target``) the extrapolation."""
    from rich.table import Table

    from graphroute.evaluation.report import _f

    slope = lc.slope_per_doubling()
    caption = (f"{lc.k}-fold CV grouped by {lc.group_by}, seed {lc.seed}, shares drawn by {lc.draw_by}; "
               f"test rows are the same at every share; "
               f"APGR is the mean of the repeats, tie-safe and CPT the first repeat's.\n"
               f"Log-linear fit (an extrapolation, not a measurement): {_f(slope, '+.3f')} APGR per doubling of "
               f"training rows")
    if target is not None:
        need = lc.rows_for(target)
        caption += f"; APGR {target:g} at ~{need:,.0f} rows" if math.isfinite(need) else f"; APGR {target:g} not reached"
    t = Table(title=f"{lc.dataset}: {lc.router} learning curve", caption=caption)
    by_group = lc.draw_by == "group"
    cols = ["share", "train rows", *(["train groups"] if by_group else []), "APGR", "APGR per repeat",
            "APGR tie-safe", "CPT50 %", "CPT80 %"]
    for col in cols:
        t.add_column(col, justify="right")
    for p in lc.points:
        units = [f"{p.train_units:.1f}"] if by_group else []
        t.add_row(f"{p.fraction:g}", f"{p.train_rows:,.0f}", *units, _f(p.apgr), " ".join(_f(a) for a in p.repeat_apgr),
                  _f(p.apgr_tie_safe), _f(p.cpt50, ".1f"), _f(p.cpt80, ".1f"))
    return t


def plot_curves(path: Path, curves: Sequence) -> None:
    """PNG: APGR against training rows (log scale), one line per router and dataset, bars from the repeats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from graphroute.evaluation.report import save_png

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for lc in curves:
        x = [p.train_rows for p in lc.points]
        y = np.array([p.apgr for p in lc.points])
        spread = np.array([[p.apgr - min(p.repeat_apgr), max(p.repeat_apgr) - p.apgr] for p in lc.points]).T
        ax.errorbar(x, y, yerr=spread, fmt="o-", capsize=3, label=f"{lc.dataset}: {lc.router}")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="training rows per fold", ylabel="APGR (RouteLLM curve)", title="learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_png(fig, path)


def run_learning_curves(console, datasets: list[RoutingDataset], names: list[str], fractions: list[float], *,
                        cv: int, cv_groups: str, seed: int, repeats: int, draw_by: str, target: Optional[float],
                        json_path: Optional[Path], plot_path: str, progress_factory: Callable) -> None:
    """Fit, print one table per dataset and router, write the JSON and the plot if asked."""
    from graphroute.evaluation.learning import learning_curve
    from graphroute.evaluation.report import _atomic_write
    from graphroute.routers import make_router

    below = sum(f < 1.0 for f in fractions)
    fits = cv * (below * repeats + (len(fractions) - below))
    curves = []
    with progress_factory(len(datasets) * len(names) * fits) as (progress, task):
        for ds in datasets:
            for name in names:
                def step(ds=ds, name=name) -> None:
                    progress.update(task, advance=1, description=f"{ds.name}: {name}")

                curves.append(learning_curve(lambda: make_router(name), ds, fractions, k=cv, group_by=cv_groups,
                                             seed=seed, repeats=repeats, draw_by=draw_by, name=name,
                                             on_fit=step))
    for lc in curves:
        console.print(curve_table(lc, target))
    if json_path:
        _atomic_write(Path(json_path), json.dumps({"learning_curves": [lc.to_dict() for lc in curves]}, indent=1))
        console.print(f"wrote {json_path}")
    if plot_path:
        plot_curves(Path(plot_path), curves)
        console.print(f"wrote {plot_path}")
