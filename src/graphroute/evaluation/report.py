"""Present evaluation results: rich tables, a JSON file, a per-prompt scores CSV, PNG plots (the
cost-quality curves of ``graphroute eval`` and the learning curves of ``--learning-curve``)."""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from graphroute.datasets import RoutingDataset
from graphroute.evaluation.evaluate import RouterResult
from graphroute.evaluation.many_report import plot_groups, plot_many
from graphroute.extras import pyplot


def _f(v: float | None, spec: str = ".3f", suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:{spec}}{suffix}"


def quality_text(value: float, score_range: Sequence[float]) -> str:
    """A mean outcome as a reader expects it: a percentage on a 0-1 scale, else the mean score on its scale."""
    lo, hi = score_range
    if (lo, hi) == (0.0, 1.0):
        return f"{value:.2%}"
    return f"mean score {value:.2f} (scale {lo:g}-{hi:g})"


def results_table(results: Sequence[RouterResult], title: str = ""):
    """A rich ``Table`` with one row per router (RouteLLM and tie-safe APGR, CPT, AUC, cost); a row
    evaluated otherwise than the title says (a slow router on one held-out fold) names how."""
    from rich.markup import escape
    from rich.table import Table

    common = Counter(r.protocol for r in results).most_common(1)[0][0]
    r0 = next(r for r in results if r.protocol == common)
    title = title or (f"{r0.dataset} ({common})" if common else r0.dataset)
    caption = (f"n={r0.n}  weak {r0.weak} {quality_text(r0.weak_quality, r0.score_range)}  "
               f"strong {r0.strong} {quality_text(r0.strong_quality, r0.score_range)}")
    if r0.cost:
        caption += (f"\n$/query: weak {r0.cost['weak_total'] / r0.n:.6f}  strong {r0.cost['strong_total'] / r0.n:.6f}"
                    f"   saving = cost saved vs {r0.cost['best_model']} at "
                    f"{r0.cost['quality_target_share']:.0%} of its quality")
    t = Table(title=title, caption=caption)
    for col in ("router", "APGR", "APGR tie-safe", "CPT50 %", "CPT80 %", "AUC", "CPT80 tie-safe %",
                "$/q at CPT80", "AIQ", "saving"):
        t.add_column(col, justify="left" if col == "router" else "right")
    for r in results:
        c = r.cost or {}
        label = escape(r.router if r.protocol == common else f"{r.router}\n({r.protocol}, n={r.n:,})")
        if r.constant:
            t.add_row(label, "—", "—", "—", "—", "—", "—", _f(r.point.get("cost_per_query"), ".6f"), "—",
                      _f(c.get("cost_saving_at_target"), ".1%"))
            continue
        a, b = r.summary["routellm"], r.summary["tie_safe"]
        t.add_row(label, _f(a["apgr"]), _f(b["apgr"]), _f(a["cpt50"], ".1f"), _f(a["cpt80"], ".1f"),
                  _f(a["auc"], ".4f"), _f(b["cpt80"], ".1f"), _f(b["cost_per_query_at_cpt80"], ".6f"),
                  _f(c.get("aiq"), ".4f"), _f(c.get("cost_saving_at_target"), ".1%"))
    return t


def write_json(path: str | Path, runs: dict[str, list[RouterResult]], meta: dict[str, Any]) -> None:
    """All results, per dataset and router, with both curve methods."""
    doc = {"meta": meta, "datasets": {name: {r.router: r.to_dict() for r in res} for name, res in runs.items()}}
    atomic_write(Path(path), json.dumps(doc, indent=2))


def write_scores(path: str | Path, runs: dict[str, tuple[RoutingDataset, list[RouterResult]]]) -> None:
    """One row per (dataset, router, test prompt): ``prompt,score`` (higher = more need for the strong
    model) then the fold and the recorded weak and strong outcomes, enough to recompute every metric;
    then the model the router would pick at maximum quality, its recorded outcome, and the predicted
    quality of every model as JSON keyed by model name (no positional columns)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["prompt", "score", "router", "dataset", "fold", "weak_model", "strong_model", "weak_score", "strong_score",
                    "chosen_model", "chosen_score", "predicted"])
        for data, results in runs.values():
            wi, si = data.pair()
            for r in results:
                q = r.predictions.quality
                for i, (p, s) in enumerate(zip(data.prompts, r.predictions.scores)):
                    # more than two models: the router's own choice, and its predictions keyed by model name
                    j = int(np.argmax(q[i])) if q is not None else (si if s > 0 else wi)
                    pred = json.dumps({m: float(v) for m, v in zip(data.models, q[i])}) if q is not None else ""
                    w.writerow([p, repr(float(s)), r.router, data.name, int(r.predictions.folds[i]), data.weak, data.strong,
                                data.scores[i, wi], data.scores[i, si], data.models[j], data.scores[i, j], pred])
    os.replace(tmp, path)


def plot(path: str | Path, runs: dict[str, list[RouterResult]]) -> None:
    """PNG: per dataset, quality vs strong-call % (tie-safe lines, RouteLLM points) and quality vs $/query;
    for more than two models, the quality-cost frontiers and accuracy per group."""
    plt = pyplot()

    fig, axes = plt.subplots(len(runs), 2, figsize=(13, 4.8 * len(runs)), squeeze=False)
    for row, (name, results) in zip(axes, runs.items()):
        r0 = results[0]
        ax1, ax2 = row
        if any(r.many for r in results):  # more than two models: frontiers and per-group accuracy
            plot_many(ax1, results)
            plot_groups(ax2, results)
            continue
        for r in results:
            if r.constant:
                if r.point.get("cost_per_query") is not None:
                    ax2.scatter([r.point["cost_per_query"]], [r.point["quality"]], marker="s", label=r.router, zorder=3)
                continue
            ts, rl = r.curves["tie_safe"], r.curves["routellm"]
            line, = ax1.plot(ts.strong_frac * 100, ts.quality, label=f"{r.router} (APGR {r.summary['routellm']['apgr']:.3f})")
            ax1.plot(rl.strong_frac * 100, rl.quality, "o", color=line.get_color(), markersize=3)
            if ts.cost is not None:
                ax2.plot(ts.cost / r.n, ts.quality, color=line.get_color(), label=r.router)
        for ax in (ax1,):
            ax.axhline(r0.weak_quality, color="grey", ls="--", lw=0.8, label=f"weak: {r0.weak}")
            ax.axhline(r0.strong_quality, color="red", ls="--", lw=0.8, label=f"strong: {r0.strong}")
        ax1.set(xlabel="strong-model calls (%)", ylabel="quality (accuracy)", title=f"{name}: quality vs strong calls")
        ax2.set(xlabel="cost per query ($)", ylabel="quality (accuracy)", title=f"{name}: quality vs cost")
        ax1.legend(fontsize=7)
        ax2.legend(fontsize=7)
        ax1.grid(alpha=0.3)
        ax2.grid(alpha=0.3)
    save_png(fig, path)


def curve_table(lc, target: Optional[float] = None):
    """A rich ``Table``: one row per training share, the slope and (with ``target``) the extrapolation."""
    from rich.table import Table

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
    plt = pyplot()

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


def save_png(fig, path: str | Path) -> None:
    """Write a matplotlib figure to ``path`` atomically (a temporary file, then a rename) and close it."""
    plt = pyplot()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
