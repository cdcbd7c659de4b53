"""An experiment report as a rich table (the terminal) and a PNG (each metric's per-arm means with
their intervals).

Examples:
    >>> import tempfile, pathlib
    >>> from graphroute.experiments import ExperimentBlock, report
    >>> from graphroute.experiments.render import plot, table
    >>> cfg = ExperimentBlock.model_validate({"arms": {"a": {"target": "x"}, "b": {"target": "y"}}, "metrics": ["cost"]})
    >>> recs = [{"event": "experiment", "experiment": "e", "run_id": str(i), "arm": "ab"[i % 2], "cost": i % 7 / 100}
    ...         for i in range(400)]
    >>> rep = report(recs, "e", cfg)
    >>> table(rep).row_count
    2
    >>> plot(rep, pathlib.Path(tempfile.mkdtemp()) / "e.png").stat().st_size > 1000
    True
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table

from graphroute.experiments.analysis import ExperimentReport
from graphroute.extras import pyplot


def _fmt(v: float, metric: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"${v:.5f}" if metric == "cost" else f"{v:.0f} ms" if metric == "latency" else f"{v:.3f}"


def table(rep: ExperimentReport) -> Table:
    """One row per arm: units, requests, share against the configured split, each metric's mean and
    interval, and each metric's verdict against the control."""
    metrics = list(rep.arms[0].metrics)
    t = Table(title=f"experiment {rep.experiment}: {rep.verdict}",
              caption=f"split check (chi-square by {rep.srm_by}): p={rep.srm_p:.3g}; tests at alpha {rep.alpha:g}, "
                      f"Holm-corrected; intervals {1 - rep.alpha:.0%} bootstrap; figures per {rep.analysis}")
    t.add_column("arm")
    t.add_column("units", justify="right")
    t.add_column("requests", justify="right")
    t.add_column("share", justify="right")
    for m in metrics:
        t.add_column(m, justify="right")
    for a in rep.arms:
        name = f"{a.name} (shadow)" if a.shadow else f"{a.name} (control)" if a.name == rep.control else a.name
        share = "-" if a.observed_share is None else f"{a.observed_share:.1%} / {a.expected_share:.1%}"
        cells = []
        for m in metrics:
            s = a.metrics[m]
            cell = f"{_fmt(s['mean'], m)} [{_fmt(s['ci'][0], m)}, {_fmt(s['ci'][1], m)}] n={s['n']}"
            comp = next((c for c in rep.comparisons if c.arm == a.name and c.metric == m), None)
            if comp is not None:
                cell += f"\n{comp.comparison['test']} p={comp.comparison['p_adjusted']:.3g}: {comp.verdict}"
            cells.append(cell)
        t.add_row(name, str(a.units), str(a.requests), share, *cells)
    return t


def plot(rep: ExperimentReport, path: str | Path) -> Path:
    """A PNG: one panel per metric, each arm's mean with its interval."""
    plt = pyplot()

    metrics = list(rep.arms[0].metrics)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.2), squeeze=False)
    names = [a.name + (" (shadow)" if a.shadow else "") for a in rep.arms]
    for ax, m in zip(axes[0], metrics):
        means = [a.metrics[m]["mean"] for a in rep.arms]
        lo = [max(0.0, mu - a.metrics[m]["ci"][0]) if not math.isnan(mu) else 0.0 for a, mu in zip(rep.arms, means)]
        hi = [max(0.0, a.metrics[m]["ci"][1] - mu) if not math.isnan(mu) else 0.0 for a, mu in zip(rep.arms, means)]
        ax.errorbar(range(len(names)), means, yerr=[lo, hi], fmt="o", capsize=4)
        ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
        ax.set_title(m)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{rep.experiment}: {rep.verdict}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
