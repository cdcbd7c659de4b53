"""Tables and a plot for routing among more than two models (``graphroute.evaluation.many``):
per router its accuracy at maximum quality, dollars per query, the share of the gap from the best
single model to the oracle it closes, AIQ and the cost at which it matches the best single model;
per group (task) the same accuracies; the quality-cost frontiers beside every single model."""

from __future__ import annotations

import math
from typing import Sequence

from graphroute.evaluation.evaluate import RouterResult


def _f(v: float | None, spec: str = ".3f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:{spec}}"


def many_table(results: Sequence[RouterResult], title: str = ""):
    """A rich ``Table``: one row per router, plus the best single model and the oracle."""
    from rich.markup import escape
    from rich.table import Table

    r0 = next(r for r in results if r.many)
    m = r0.many
    est = " (estimated)" if r0.cost_note.startswith("estimated") else ""
    caption = (f"n={r0.n}, {len(m['models'])} models; accuracy at maximum quality (each router's own choice); "
               f"$/query{est}; gap closed = (router - best single) / (oracle - best single); "
               f"matched = $/query where the router's frontier reaches the best single model, as a share of its cost "
               f"(lambda: argmax(quality - lambda x cost); tolerance: the cheapest model within a tolerance of the best)")
    if r0.cost_note:
        caption += f"\n{r0.cost_note}"
    t = Table(title=title or f"{r0.dataset} ({r0.protocol})", caption=caption)
    for col in ("router", "accuracy", f"$/query{est}", "gap closed", "AIQ", "matched $/query", "matched share",
                "matched share, tolerance"):
        t.add_column(col, justify="left" if col == "router" else "right")
    for r in results:
        if not r.many:
            continue
        mm, matched = r.many, r.many.get("matched_best") or {}
        tol = mm.get("matched_best_tolerance") or {}
        t.add_row(escape(r.router), _f(mm["router"]["accuracy"], ".4f"), _f(mm["router"]["cost_per_query"], ".6f"),
                  _f(mm["gap_closed"], ".1%"), _f(mm.get("aiq"), ".4f"), _f(matched.get("cost_per_query"), ".6f"),
                  _f(matched.get("cost_share"), ".1%"), _f(tol.get("cost_share"), ".1%"))
    b, o = m["best_single"], m["oracle"]
    t.add_row(escape(f"best single: {b['model']}"), _f(b["accuracy"], ".4f"), _f(b["cost_per_query"], ".6f"), "0.0%",
              "—", "—", "—", "—")
    t.add_row("oracle, cheapest right model", _f(o["accuracy"], ".4f"), _f(o["cost_per_query"], ".6f"), "100.0%", "—",
              "—", "—", "—")
    return t


def group_table(results: Sequence[RouterResult]):
    """Per group (task): each router's accuracy at maximum quality, the best single model's, the oracle's."""
    from rich.markup import escape
    from rich.table import Table

    rs = [r for r in results if r.many.get("groups")]
    if not rs:
        return None
    groups = rs[0].many["groups"]
    t = Table(title=f"{rs[0].dataset}: accuracy per group (best single: {rs[0].many['best_single']['model']})")
    t.add_column("group")
    t.add_column("n", justify="right")
    for r in rs:
        t.add_column(escape(r.router), justify="right")
    t.add_column("best single", justify="right")
    t.add_column("oracle", justify="right")
    for g, row in groups.items():
        t.add_row(escape(g), str(row["n"]), *[_f(r.many["groups"][g]["router"]) for r in rs], _f(row["best_single"]),
                  _f(row["oracle"]))
    return t


def plot_many(ax, results: Sequence[RouterResult]) -> None:
    """Draw accuracy against dollars per query: each router's frontier, every single model, the oracle."""
    r0 = next(r for r in results if r.many)
    for r in results:
        f = r.many.get("frontier")
        if f:
            ax.plot(f["cost_per_query"], f["accuracy"], marker=".", markersize=3,
                    label=f"{r.router} (max-quality {r.many['router']['accuracy']:.3f})")
    for name, v in r0.many["models"].items():
        ax.scatter([v["cost_per_query"]], [v["accuracy"]], marker="x", color="grey", zorder=3)
        ax.annotate(name, (v["cost_per_query"], v["accuracy"]), fontsize=6, color="grey")
    o = r0.many["oracle"]
    ax.scatter([o["cost_per_query"]], [o["accuracy"]], marker="*", color="red", s=60, label="oracle", zorder=3)
    est = " (estimated)" if r0.cost_note.startswith("estimated") else ""
    ax.set(xlabel=f"cost per query ($){est}", ylabel="accuracy", title=f"{r0.dataset}: {len(r0.many['models'])} models")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def plot_groups(ax, results: Sequence[RouterResult]) -> None:
    """Accuracy per group: the most accurate router's choice, the best single model, the oracle."""
    import numpy as np

    routers = [r for r in results if r.many.get("groups") and not r.constant and not r.oracle]
    r = max(routers, key=lambda r: r.many["router"]["accuracy"]) if routers else None
    if r is None:
        ax.axis("off")
        return
    groups = list(r.many["groups"])
    y = np.arange(len(groups))
    for k, (key, label) in enumerate((("router", r.router), ("best_single", r.many["best_single"]["model"]),
                                      ("oracle", "oracle"))):
        ax.barh(y + (k - 1) * 0.27, [r.many["groups"][g][key] for g in groups], height=0.27, label=label)
    ax.set_yticks(y, groups, fontsize=7)
    ax.set(xlabel="accuracy", title=f"{r.dataset}: per group")
    ax.legend(fontsize=7)
