"""Your own models on the command line: ``collect`` outcomes, ``fit`` a router on them, ``route`` a prompt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer

from graphroute.collect import collect, load_models
from graphroute.datasets import from_logs, load_dataset, write_logged
from graphroute.errors import ConfigError
from graphroute.registry import parse_value
from graphroute.routers import Router, fit_router
from graphroute.routers.fitting import held_out_count
from graphroute.routers.calibration import TARGETS, check_target


def collect_command(
    models: Path = typer.Option(..., "--models", help="The models file (YAML: models, optional judges)."),
    prompts: Path = typer.Option(..., "--prompts", help="CSV or JSONL with a prompt column (and a reference column)."),
    grader: str = typer.Option(..., "--grader", help="exact | numeric | choice | regex[:pattern=...] | judge:<model> | pairwise:<model>"),
    out: Path = typer.Option(..., "--out", help="The dataset to write (CSV), readable by load_dataset and graphroute eval."),
    prompt_column: str = typer.Option("prompt", "--prompt-column"),
    reference_column: str = typer.Option("reference", "--reference-column"),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Calls in flight at once."),
    budget: float = typer.Option(None, "--budget", min=0, help="Dollars; the collection stops before exceeding it."),
    cache: Path = typer.Option(None, "--cache", help="The call cache (JSONL; default <out>.calls.jsonl)."),
    timeout_s: float = typer.Option(120.0, "--timeout", help="Seconds per call."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Run every model on every prompt, grade the answers and write a routing dataset."""
    spec = load_models(models)
    res = collect(spec.models, prompts, grader, out, judges=spec.judges, prompt_column=prompt_column,
                  reference_column=reference_column, concurrency=concurrency, budget=budget,
                  cost_model=spec.cost_model, cache=cache, timeout_s=timeout_s,
                  max_output_tokens=spec.max_output_tokens, progress=progress)
    typer.echo(f"wrote {res.path}: {res.rows} prompts x {len(spec.models)} models; {res.calls} calls "
               f"(+{res.cached} from the cache), ${res.cost:.6f}")
    if res.ungraded:
        typer.echo(f"{res.ungraded} prompts left out: the judge's verdict could not be read")
    for m, n in res.failed.items():
        typer.echo(f"{n} prompts left out: {m} did not answer (after retries)")
    if res.stopped == "budget":
        typer.echo(f"stopped: the budget of ${budget} would have been exceeded; rerun with a larger --budget "
                   "to continue (cached calls are not repeated)")
        raise typer.Exit(3)


def from_logs_command(
    path: str = typer.Argument(..., help="A telemetry JSONL file with decision and feedback events, or the "
                                         "postgresql:// URL of the telemetry tables."),
    out: Path = typer.Option(..., "--out", help="The logged table to write (CSV): one row per request with feedback."),
) -> None:
    """Turn logged decisions and feedback into partial-label training data (``graphroute fit`` reads it)."""
    rows, counts = from_logs(path)
    write_logged(rows, out)
    typer.echo(f"wrote {out}: {counts['joined']} requests with feedback ({counts['without_feedback']} decisions "
               f"without feedback, {counts['orphan_feedback']} feedback events without a decision left out)")


def _target(text: str) -> dict[str, float | str]:
    """``key=value`` pairs: one target (strong_share, quality, best_share, budget or cost_per_query),
    optionally ``rule=tolerance`` (more than two models)."""
    out: dict[str, float | str] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or key not in (*TARGETS, "rule"):
            raise ConfigError(f"--calibrate takes one of {', '.join(f'{t}=X' for t in TARGETS)} (and rule=lambda|tolerance"
                              f" among more than two models), not {text!r}", field="--calibrate")
        out[key] = value.strip() if key == "rule" else float(parse_value(value))
    try:
        return check_target(out)
    except ValueError as exc:
        raise ConfigError(f"--calibrate {text!r}: {exc}", field="--calibrate") from None


def fit_command(
    data: str = typer.Argument(..., help="A dataset: a built-in name, a CSV/JSONL file (e.g. from graphroute collect)."),
    router: str = typer.Option("classifier", "--router", help="A router spec, e.g. 'knn:k=50'."),
    out: Path = typer.Option(..., "--out", help="The folder to save the router to."),
    calibrate: str = typer.Option(None, "--calibrate", help="strong_share=X | quality=X | best_share=X | "
                                  "cost_per_query=X (budget=X), and rule=tolerance among more than two models"),
    holdout: float = typer.Option(0.2, "--holdout", min=0.0, max=0.9,
                                  help="Share of prompts kept out of the fit to calibrate on (with --calibrate)."),
    prompt_column: str = typer.Option(None, "--prompt-column"),
    seed: int = typer.Option(0, "--seed"),
    add_model: str = typer.Option(None, "--add-model", help="Place this model (a column of DATA: its outcomes on a few "
                                  "probe prompts) among the models of the saved router --into, without refitting."),
    into: Path = typer.Option(None, "--into", help="With --add-model: the saved router (an 'mf' router) to add it to."),
    cost: float = typer.Option(None, "--cost", help="With --add-model: the new model's dollars per call."),
) -> None:
    """Fit a router on a dataset, calibrate it on held-out prompts, and save it; or, with
    --add-model, place a new model in a saved router from its outcomes on a few probe prompts."""
    ds = load_dataset(data, **({"prompt_column": prompt_column} if prompt_column else {}))
    if add_model or into:
        if not (add_model and into):
            raise ConfigError("--add-model NAME and --into SAVED_ROUTER go together", field="--add-model")
        _add_model(ds, add_model, into, out, cost)
        return
    target = _target(calibrate) if calibrate else None
    if target is not None and ds.meta.get("partial") and "strong_share" not in target:
        raise ConfigError("logged feedback knows one model's outcome per prompt: calibrate it with strong_share=X",
                          field="--calibrate")
    r = fit_router(router, ds, calibrate=target, holdout=holdout, seed=seed)
    n_cal = held_out_count(len(ds), holdout) if target is not None else 0
    typer.echo(f"fitted {r.name} on {len(ds) - n_cal if holdout else len(ds)} prompts, models {list(r.models_)}")
    if r.calibration_ is not None:
        typer.echo(f"calibrated on {n_cal} held-out prompts: {r.calibration_.explanation}")
    r.save(out)
    typer.echo(f"saved to {out}")


def _add_model(ds, name: str, into: Path, out: Path, cost: float | None) -> None:
    r = Router.load(into)
    r.add_model(name, ds, cost=cost)
    lo, hi = r.predict_interval(ds.prompts)  # type: ignore[attr-defined]
    j = r.models_.index(name)
    typer.echo(f"placed {name} among {len(r.models_) - 1} models from {int((~np.isnan(ds.scores[:, ds.index(name)])).sum())}"
               f" probe prompts; its predicted quality on them: 90 % interval half-width "
               f"{float(np.mean(hi[:, j] - lo[:, j])) / 2:.3f}")
    r.save(out)
    typer.echo(f"saved to {out}")


def route_command(
    path: Path = typer.Argument(..., help="A saved router folder (graphroute fit --out)."),
    prompts: list[str] = typer.Argument(..., help="One or more prompts."),
    as_json: bool = typer.Option(False, "--json", help="Print each decision as JSON."),
) -> None:
    """Print the router's decision for each prompt, with its reason."""
    r = Router.load(path)
    for p, d in zip(prompts, r.decide(prompts)):
        if as_json:
            typer.echo(json.dumps({"prompt": p, **d.to_dict()}))
        else:
            fam = "" if d.familiarity is None else f"  familiarity {d.familiarity:.3f}{' (unfamiliar)' if d.unfamiliar else ''}"
            typer.echo(f"{d.model}  <- {p[:60]!r}\n  {d.reason}{fam}")
