"""``graphroute eval``: evaluate routers on recorded outcomes (and learning curves, and graph files)."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from pathlib import Path
from typing import Any, Callable, Optional, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from graphroute.cli.graphs import eval_graph
from graphroute.costs import CostModel
from graphroute.datasets import RoutingDataset, load_dataset
from graphroute.errors import MissingExtraError
from graphroute.evaluation import evaluate, learning_curve
from graphroute.evaluation.learning import check_fractions
from graphroute.evaluation.many_report import group_table, many_table
from graphroute.evaluation.report import atomic_write, curve_table, plot, plot_curves, results_table, write_json, write_scores
from graphroute.routers import make_router, router_names

DEFAULT_DATA = "routellm-mmlu,routellm-gsm8k,llmrouter-9"


def default_routers(data: RoutingDataset) -> list[str]:
    """The main job's routers: the recommended one for the data (the cascade where the weak model's
    answers are recorded; among more than two models the per-model logistic heads, which fit in
    seconds; else the classifier) beside random and the oracle."""
    if data.responses and data.weak in data.responses:
        recommended = "cascade"
    elif len(data.models) > 2:
        recommended = "logistic"
    else:
        recommended = "classifier"
    return ["random", recommended, "oracle"]


@contextlib.contextmanager
def progress_bar(console, total: int):
    """A transient rich progress bar: yields ``(progress, task)``."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        yield progress, progress.add_task("evaluating", total=total)


def eval_command(
    graph: Optional[Path] = typer.Argument(None, help="A graph YAML file: evaluate the whole graph offline on --data instead of routers."),
    data: str = typer.Option(DEFAULT_DATA, "--data", "-d", help="Comma-separated built-in names or paths (RouteLLM dir, MT-Bench JSONL, wide CSV/JSONL)."),
    router: Optional[str] = typer.Option(None, "--router", "-r", help="Comma-separated router specs: a registered name, with parameters as 'knn:k=400,temperature=0.2'. Default: random, the recommended router (classifier, or cascade on data with recorded answers) and oracle."),
    cv: int = typer.Option(5, "--cv", help="K for grouped K-fold cross-validation (ignored with --test)."),
    full: bool = typer.Option(False, "--full", help="Evaluate slow routers (classifier) on every fold too; without it they are fitted once and tested on fold 1, and the table says so."),
    cv_groups: str = typer.Option("prompt", "--cv-groups", help="'prompt' (identical prompts together) or 'group' (the dataset's groups, e.g. MMLU subjects: leave-subjects-out)."),
    test: Optional[str] = typer.Option(None, "--test", help="Train on --data, test on this dataset instead of CV."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write all figures and curves to this JSON file."),
    scores_path: Optional[Path] = typer.Option(None, "--scores", help="Write one row per test prompt (prompt,score,...) to this CSV."),
    plot_path: str = typer.Option("graphroute-eval.png", "--plot", help="Cost-quality PNG ('' to skip)."),
    prices: Optional[Path] = typer.Option(None, "--prices", help="Price file (YAML); default: graphroute's costs/prices.yaml."),
    quality_target: float = typer.Option(0.95, "--quality-target", help="Cost saving is reported at this share of the best model's quality."),
    prompt_column: Optional[str] = typer.Option(None, "--prompt-column", help="Prompt column of wide CSV/JSONL files (default 'prompt')."),
    weak: Optional[str] = typer.Option(None, "--weak", help="Weak model of the pair (default: lowest mean score)."),
    strong: Optional[str] = typer.Option(None, "--strong", help="Strong model of the pair (default: highest mean score)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold split."),
    learning: Optional[str] = typer.Option(None, "--learning-curve", help="Comma-separated training shares (e.g. 0.25,0.5,0.75,1): APGR against the number of training prompts, same test folds; --plot draws the curves."),
    repeats: int = typer.Option(1, "--repeats", help="With --learning-curve: subsets drawn per share below 1."),
    target: Optional[float] = typer.Option(None, "--target-apgr", help="With --learning-curve: extrapolate the training rows this APGR would need."),
    draw_by: str = typer.Option("prompt", "--draw-by", help="With --learning-curve: draw training shares by 'prompt' or by the dataset's 'group' (MMLU subjects)."),
) -> None:
    """Evaluate routers with grouped K-fold CV (or train/test) and print RouteLLM's metrics and costs;
    or, with --learning-curve, APGR against the share of training prompts; or, given a graph file, run every
    prompt of --data through the graph offline."""
    if graph is not None:
        return eval_graph(graph, data if data != DEFAULT_DATA else "routellm-gsm8k", cv, json_path, seed)
    console = Console() if Console().is_terminal else Console(width=170)
    started = time.perf_counter()
    specs = router_names(router) if router is not None else None
    if cv_groups not in ("prompt", "group"):
        raise typer.BadParameter("must be 'prompt' or 'group'", param_hint="--cv-groups")
    cost_model = CostModel.from_yaml(prices) if prices else CostModel.default()

    def load(spec: str) -> RoutingDataset:
        return load_dataset(spec, weak=weak, strong=strong, prompt_column=prompt_column)

    datasets = [load(s.strip()) for s in data.split(",") if s.strip()]
    bar: Callable = lambda total: progress_bar(console, total)  # noqa: E731
    if learning is not None:
        fractions = _learning_options(learning, test, repeats, draw_by)
        run_learning_curves(console, datasets, specs or ["classifier"], fractions, cv=cv, cv_groups=cv_groups,
                            seed=seed, repeats=repeats, draw_by=draw_by, target=target, json_path=json_path,
                            plot_path=plot_path, progress_factory=bar)
        console.print(f"done in {time.perf_counter() - started:.1f} s")
        return
    test_data = load(test) if test else None
    plan = [(ds, specs or default_routers(ds)) for ds in datasets]
    slow = None if full or test_data is not None else 1
    steps = sum(sum(_fits(s, cv, slow, test_data is not None) for s in names) for _, names in plan)
    runs, per_data = {}, {}
    with bar(steps) as (progress, task):
        for ds, names in plan:
            def step(name: str, ds=ds) -> None:
                progress.update(task, advance=1, description=f"{ds.name}: {name}")

            results = evaluate(names, ds, cv=cv, test=test_data, group_by=cast(Any, cv_groups), seed=seed, cost_model=cost_model,
                               quality_target=quality_target, slow_folds=slow, on_step=step)
            key = ds.name if test_data is None else f"{ds.name} -> {test_data.name}"
            runs[key] = results
            per_data[key] = (test_data.select_models(ds.models) if test_data is not None else ds, results)
    for results in runs.values():
        if any(r.many for r in results):  # more than two models: the router's own choice among them
            console.print(many_table(results))
            groups = group_table(results)
            if groups is not None:
                console.print(groups)
        else:
            console.print(results_table(results))
    if slow and any(r.protocol != runs[k][0].protocol for k in runs for r in runs[k]):
        console.print("Slow routers were fitted once and tested on fold 1 (labelled); --full evaluates every fold.")
    meta = {"routers": {k: [r.router for r in v] for k, v in runs.items()}, "seed": seed, "prices": cost_model.source,
            "curve_methods": ["routellm", "tie_safe"], "seconds": round(time.perf_counter() - started, 2)}
    if json_path:
        write_json(json_path, runs, meta)
        console.print(f"wrote {json_path}")
    if scores_path:
        write_scores(scores_path, per_data)
        console.print(f"wrote {scores_path}")
    if plot_path:
        _plot(lambda: plot(plot_path, runs), plot_path, console)
    console.print(f"done in {time.perf_counter() - started:.1f} s")


def _plot(draw: Callable[[], None], path: str, console: Console) -> None:
    """Draw the plot, or say which extra draws it (the tables and JSON need none)."""
    try:
        draw()
    except MissingExtraError as exc:
        console.print(f"[yellow]no plot: {escape(str(exc))}[/yellow]")
        return
    console.print(f"wrote {path}")


def _fits(spec: str, cv: int, slow: int | None, train_test: bool) -> int:
    if train_test:
        return 1
    return min(slow, cv) if slow and make_router(spec).slow else cv


def _learning_options(learning: str, test: Optional[str], repeats: int, draw_by: str) -> list[float]:
    try:
        fractions = check_fractions([float(x) for x in learning.split(",") if x.strip()])
    except ValueError as e:
        raise typer.BadParameter(str(e).replace("learning curve: ", ""), param_hint="--learning-curve") from None
    if test:
        raise typer.BadParameter("cannot be combined with --test (a learning curve uses CV folds)", param_hint="--learning-curve")
    if repeats < 1:
        raise typer.BadParameter("must be >= 1", param_hint="--repeats")
    if draw_by not in ("prompt", "group"):
        raise typer.BadParameter("must be 'prompt' or 'group'", param_hint="--draw-by")
    return fractions


def run_learning_curves(console, datasets: list[RoutingDataset], specs: list[str], fractions: list[float], *,
                        cv: int, cv_groups: str, seed: int, repeats: int, draw_by: str, target: Optional[float],
                        json_path: Optional[Path], plot_path: str, progress_factory: Callable) -> None:
    """Fit, print one table per dataset and router, write the JSON and the plot if asked."""
    below = sum(f < 1.0 for f in fractions)
    fits = cv * (below * repeats + (len(fractions) - below))
    curves = []
    with progress_factory(len(datasets) * len(specs) * fits) as (progress, task):
        for ds in datasets:
            for spec in specs:
                def step(ds=ds, spec=spec) -> None:
                    progress.update(task, advance=1, description=f"{ds.name}: {spec}")

                curves.append(learning_curve(functools.partial(make_router, spec), ds, fractions, k=cv,
                                             group_by=cast(Any, cv_groups), seed=seed, repeats=repeats,
                                             draw_by=cast(Any, draw_by), name=spec, on_fit=step))
    for lc in curves:
        console.print(curve_table(lc, target))
    if json_path:
        atomic_write(Path(json_path), json.dumps({"learning_curves": [lc.to_dict() for lc in curves]}, indent=1))
        console.print(f"wrote {json_path}")
    if plot_path:
        _plot(lambda: plot_curves(Path(plot_path), curves), plot_path, console)
