"""The ``graphroute`` command line (typer): ``eval``, ``collect``, ``fit``, ``route``, ``run``, ``validate``,
``serve``, ``replay-server``, ``keys new``, ``experiment report|ope``, ``datasets``, ``stats``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import typer

from graphroute.cli.eval import eval_command
from graphroute.cli.experiment import experiment_app
from graphroute.cli.graphs import run_command, validate_command
from graphroute.cli.own import collect_command, fit_command, from_logs_command, route_command
from graphroute.cli.serve import keys_new_command, replay_server_command, serve_command
from graphroute.datasets import BUILTINS, load_dataset
from graphroute.errors import ConfigError, GraphRouteError
from graphroute.runtime.telemetry import summarise
from graphroute.storage import read_events

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Model routing for LangGraph workflows.")
app.command("eval")(eval_command)
app.command("collect")(collect_command)
dataset_app = typer.Typer(no_args_is_help=True, help="Make datasets: from production logs.")
app.add_typer(dataset_app, name="dataset")
dataset_app.command("from-logs")(from_logs_command)
app.command("fit")(fit_command)
app.command("route")(route_command)
app.command("run")(run_command)
app.command("validate")(validate_command)
app.command("serve")(serve_command)
app.command("replay-server")(replay_server_command)
keys_app = typer.Typer(no_args_is_help=True, help="API keys for graphroute serve.")
app.add_typer(keys_app, name="keys")
keys_app.command("new")(keys_new_command)
app.add_typer(experiment_app, name="experiment")


@app.command("datasets")
def datasets_command(spec: str = typer.Argument(None, help="A built-in name or path; omit to list the built-ins.")) -> None:
    """List the built-in datasets, or summarise one dataset."""
    for name in ([spec] if spec else list(BUILTINS)):
        typer.echo(json.dumps(load_dataset(name).summary(), indent=2))


@app.command("stats")
def stats_command(path: str = typer.Argument(..., help="A telemetry JSONL file (graphroute.runtime.JsonlSink), or the "
                                                       "postgresql:// URL graphroute serve writes telemetry to."),
                  as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Summarise telemetry: calls, cost, latency percentiles, model mix, errors."""
    if path.startswith(("postgresql://", "postgres://")):
        s = summarise(read_events(path))
    else:
        if not Path(path).is_file():
            raise ConfigError("telemetry file not found", path=path)
        try:
            s = summarise(path)
        except ValueError as exc:
            raise ConfigError(f"not a telemetry JSONL file: {exc}", path=path) from None
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    lat = s["latency_ms"]
    typer.echo(f"{s['calls']} calls, {s['decisions']} decisions, cost ${s['cost_total']:.6f} (${s['cost_per_call']:.6f}/call)")
    typer.echo("latency ms: " + ", ".join(f"{k} {v:.1f}" for k, v in lat.items() if v is not None))
    typer.echo("model mix: " + ", ".join(f"{m} {v:.1%}" for m, v in s["model_mix"].items()))
    typer.echo("errors: " + (", ".join(f"{k} {v}" for k, v in s["errors"].items()) or "none"))


def main() -> None:
    """Entry point: typed graphroute errors print one line and exit 2, without a traceback."""
    try:
        rc = app(standalone_mode=False)  # a command's typer.Exit(code) comes back as its return value
    except GraphRouteError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(rc, int) and rc:
        sys.exit(rc)


if __name__ == "__main__":
    main()
