"""``graphroute eval``: evaluate routers on recorded outcomes."""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path
from typing import Optional

import typer

DEFAULT_DATA = "routellm-mmlu,routellm-gsm8k"
DEFAULT_ROUTERS = "random,knn,oracle,always-weak,always-strong"


@contextlib.contextmanager
def progress_bar(console, total: int):
    """A transient rich progress bar: yields ``(progress, task)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        yield progress, progress.add_task("evaluating", total=total)


def eval_command(
    graph: Optional[Path] = typer.Argument(None, help="A graph YAML file: evaluate the whole graph offline on --data instead of routers."),
    data: str = typer.Option(DEFAULT_DATA, "--data", "-d", help="Comma-separated built-in names or paths (RouteLLM dir, MT-Bench JSONL, wide CSV/JSONL)."),
    router: str = typer.Option(DEFAULT_ROUTERS, "--router", "-r", help="Comma-separated registered router names."),
    cv: int = typer.Option(5, "--cv", help="K for grouped K-fold cross-validation (ignored with --test)."),
    cv_groups: str = typer.Option("prompt", "--cv-groups", help="'prompt' (identical prompts together) or 'group' (the dataset's groups, e.g. MMLU subjects: leave-subjects-out)."),
    test: Optional[str] = typer.Option(None, "--test", help="Train on --data, test on this dataset instead of CV."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write all figures and curves to this JSON file."),
    scores_path: Optional[Path] = typer.Option(None, "--scores", help="Write one row per test prompt (prompt,score,...) to this CSV."),
    plot_path: str = typer.Option("graphroute-eval.png", "--plot", help="Cost-quality PNG ('' to skip)."),
    prices: Optional[Path] = typer.Option(None, "--prices", help="Price file (YAML); default: graphroute's costs/prices.yaml."),
    quality_target: float = typer.Option(0.95, "--quality-target", help="Cost saving is reported at this share of the best model's quality."),
    prompt_column: str = typer.Option("prompt", "--prompt-column", help="Prompt column of wide CSV/JSONL files."),
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
        from graphroute.cli.graphs import eval_graph

        return eval_graph(graph, data if data != DEFAULT_DATA else "routellm-gsm8k", cv, json_path, seed)
    from rich.console import Console

    from graphroute.costs import CostModel
    from graphroute.datasets import load_dataset
    from graphroute.evaluation import evaluate
    from graphroute.evaluation.report import plot, results_table, write_json, write_scores
    from graphroute.routers import router_names

    console = Console() if Console().is_terminal else Console(width=170)
    started = time.perf_counter()
    names = router_names(router)
    if cv_groups not in ("prompt", "group"):
        raise typer.BadParameter("must be 'prompt' or 'group'", param_hint="--cv-groups")
    cost_model = CostModel.from_yaml(prices) if prices else CostModel.default()

    def load(spec: str):
        kwargs = {"weak": weak, "strong": strong}
        if Path(spec).suffix.lower() in (".csv", ".jsonl", ".ndjson", ".json"):
            kwargs["prompt_column"] = prompt_column
        return load_dataset(spec, **kwargs)

    fractions = None
    if learning is not None:
        from graphroute.cli.learning import parse_fractions, run_learning_curves

        fractions = parse_fractions(learning)
        if test:
            raise typer.BadParameter("cannot be combined with --test (a learning curve uses CV folds)",
                                     param_hint="--learning-curve")
        if repeats < 1:
            raise typer.BadParameter("must be >= 1", param_hint="--repeats")
        if draw_by not in ("prompt", "group"):
            raise typer.BadParameter("must be 'prompt' or 'group'", param_hint="--draw-by")
    datasets = [load(s.strip()) for s in data.split(",") if s.strip()]
    bar = functools.partial(progress_bar, console)
    if fractions is not None:
        run_learning_curves(console, datasets, names, fractions, cv=cv, cv_groups=cv_groups, seed=seed,
                            repeats=repeats, draw_by=draw_by, target=target, json_path=json_path, plot_path=plot_path,
                            progress_factory=bar)
        console.print(f"done in {time.perf_counter() - started:.1f} s")
        return
    test_data = load(test) if test else None
    runs, per_data = {}, {}
    steps = len(datasets) * len(names) * (1 if test_data is not None else cv)
    with bar(steps) as (progress, task):
        for ds in datasets:
            def step(name: str, ds=ds) -> None:
                progress.update(task, advance=1, description=f"{ds.name}: {name}")

            results = evaluate(names, ds, cv=cv, test=test_data, group_by=cv_groups, seed=seed,
                               cost_model=cost_model, quality_target=quality_target, on_step=step)
            key = ds.name if test_data is None else f"{ds.name} -> {test_data.name}"
            runs[key] = results
            per_data[key] = (test_data.select_models(ds.models) if test_data is not None else ds, results)
    mode = f"train/test on {test_data.name}" if test_data is not None else f"{cv}-fold CV grouped by {cv_groups}"
    for key, results in runs.items():
        console.print(results_table(results, title=f"{key} ({mode})"))
    meta = {"mode": mode, "routers": names, "seed": seed, "prices": cost_model.source,
            "curve_methods": ["routellm", "tie_safe"], "seconds": round(time.perf_counter() - started, 2)}
    if json_path:
        write_json(json_path, runs, meta)
        console.print(f"wrote {json_path}")
    if scores_path:
        write_scores(scores_path, per_data)
        console.print(f"wrote {scores_path}")
    if plot_path:
        plot(plot_path, runs)
        console.print(f"wrote {plot_path}")
    console.print(f"done in {time.perf_counter() - started:.1f} s")
