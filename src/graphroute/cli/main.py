"""The ``graphroute`` command line (typer). Subcommands import their work lazily."""

from __future__ import annotations

import sys

import typer

from graphroute.cli.eval import eval_command
from graphroute.cli.graphs import run_command, validate_command

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Model routing for LangGraph workflows.")
app.command("eval")(eval_command)
app.command("run")(run_command)
app.command("validate")(validate_command)


@app.command("datasets")
def datasets_command(spec: str = typer.Argument(None, help="A built-in name or path; omit to list the built-ins.")) -> None:
    """List the built-in datasets, or summarise one dataset."""
    import json

    from graphroute.datasets import BUILTINS, load_dataset

    for name in ([spec] if spec else list(BUILTINS)):
        typer.echo(json.dumps(load_dataset(name).summary(), indent=2))


def main() -> None:
    """Entry point: typed graphroute errors print one line and exit 2, without a traceback."""
    from graphroute.errors import GraphRouteError

    try:
        app(standalone_mode=False)
    except GraphRouteError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
