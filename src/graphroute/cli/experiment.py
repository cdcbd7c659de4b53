"""``graphroute experiment report LOGS`` and ``graphroute experiment ope LOGS --candidate R``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from graphroute.errors import ConfigError
from graphroute.experiments import ExperimentBlock, experiments_in, off_policy, read_records, report
from graphroute.experiments.render import plot, table
from graphroute.routers import Router
from graphroute.serve.compose import config_routers
from graphroute.serve.settings import load_serve_config

experiment_app = typer.Typer(no_args_is_help=True, help="Experiments: report an A/B test, evaluate a router off-policy.")


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise ConfigError(f"{option} takes name=value, got {v!r}", field=option)
        k, _, x = v.partition("=")
        out[k.strip()] = x.strip()
    return out


def _block(records: list[dict[str, Any]], name: str, config: Path | None) -> ExperimentBlock:
    if config is not None:
        cfg = load_serve_config(config)
        if name not in cfg.serve.experiments:
            raise ConfigError(f"no experiment {name!r} in serve.experiments; experiments: "
                              f"{', '.join(cfg.serve.experiments) or 'none'}", path=config, field="serve.experiments")
        return cfg.serve.experiments[name]
    weights = next((r["weights"] for r in records if r.get("event") == "experiment" and r.get("experiment") == name
                    and r.get("weights")), None)
    if not weights:
        raise ConfigError(f"the logs of {name!r} do not say its split; give --config", field="--config")
    return ExperimentBlock.model_validate({"arms": {a: {"target": a, "weight": w} for a, w in weights.items()}})


@experiment_app.command("report")
def report_command(
    logs: str = typer.Argument(..., help="Telemetry: a JSONL file or the postgresql:// URL graphroute serve writes to."),
    experiment: str = typer.Option(None, "--experiment", "-e", help="Its name (default: the only one in the logs)."),
    config: Path = typer.Option(None, "--config", help="The serve config that defines it (split, metrics, min_effect)."),
    min_effect: list[str] = typer.Option([], "--min-effect", help="metric=value: smallest difference worth detecting."),
    metrics: str = typer.Option(None, "--metrics", help="Comma-separated: feedback, judge, cost, latency."),
    alpha: float = typer.Option(None, "--alpha", min=0.0001, max=0.5),
    power: float = typer.Option(None, "--power", min=0.05, max=0.999),
    png: Path = typer.Option(None, "--png", help="Also write the figure here."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of the table."),
) -> None:
    """Per-arm quality, cost and latency with intervals, the test per metric, the split check, the sample
    size still needed and the verdict."""
    records = list(read_records(logs))
    names = experiments_in(records)
    if experiment is None:
        if len(names) != 1:
            raise ConfigError(f"the logs hold experiments {names}: name one with --experiment", field="--experiment")
        experiment = names[0]
    block = _block(records, experiment, config)
    changes: dict[str, Any] = {}
    if metrics:
        changes["metrics"] = [m.strip() for m in metrics.split(",") if m.strip()]
        changes["primary"] = None if block.primary not in changes["metrics"] else block.primary
    if min_effect:
        changes["min_effect"] = {**block.min_effect, **{k: float(v) for k, v in _pairs(min_effect, "--min-effect").items()}}
    for k, v in (("alpha", alpha), ("power", power)):
        if v is not None:
            changes[k] = v
    if changes:
        block = ExperimentBlock.model_validate({**block.model_dump(), **changes})
    rep = report(records, experiment, block)
    if png is not None:
        plot(rep, png)
    if as_json:
        typer.echo(json.dumps(rep.to_dict(), indent=2, default=str))
        return
    Console(width=160).print(table(rep))
    if png is not None:
        typer.echo(f"figure: {png}")


@experiment_app.command("ope")
def ope_command(
    logs: str = typer.Argument(..., help="Telemetry of a randomised router (decisions with probabilities + feedback)."),
    candidate: str = typer.Option(..., "--candidate", help="A router of --config, or a saved router folder."),
    config: Path = typer.Option(None, "--config", help="The serve config whose router --candidate names."),
    mapping: list[str] = typer.Option([], "--map", help="router model=served model id (a saved router's names)."),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0001, max=0.5),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Estimate a candidate router's quality and cost on traffic another, randomised router served:
    IPS, SNIPS and doubly robust, with intervals."""
    maps = _pairs(mapping, "--map")
    if Path(candidate).is_dir():
        router = Router.load(candidate)
    else:
        if config is None:
            raise ConfigError(f"{candidate!r} is not a saved router folder; to name a router of a serve config give "
                              f"--config", field="--candidate")
        routers, all_maps = config_routers(load_serve_config(config))
        if candidate not in routers:
            raise ConfigError(f"no router {candidate!r}; routers: {', '.join(routers)}", path=config, field="routers")
        router, maps = routers[candidate], {**all_maps.get(candidate, {}), **maps}
    res = off_policy(read_records(logs), router, name=candidate, mapping=maps, alpha=alpha)
    if as_json:
        typer.echo(json.dumps(res.to_dict(), indent=2))
        return
    typer.echo(f"{res.n} scored requests; the candidate chose the logged model on {res.matched:.1%}; "
               f"the logging policy got quality {res.logged['quality']:.4f}, cost ${res.logged['cost']:.6f}")
    for what, est in (("quality", res.quality), ("cost", res.cost)):
        for k, e in est.items():
            typer.echo(f"  {what:7s} {k:5s} {e['value']:.6f}  [{e['low']:.6f}, {e['high']:.6f}]  "
                       f"effective sample size {e['ess']:.0f}")
