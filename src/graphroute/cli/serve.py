"""``graphroute serve``, ``graphroute replay-server`` and ``graphroute keys new``."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from typing import Any

import typer

from graphroute.datasets import load_dataset
from graphroute.errors import ConfigError
import graphroute.serve as serving
import graphroute.testing as testing
from graphroute.extras import require
from graphroute.serve import hash_key, load_serve_config
from graphroute.serve.settings import load_keys

#: the environment variable worker processes read the config path from
CONFIG_ENV = "GRAPHROUTE_SERVE_CONFIG"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(config: str = typer.Argument(..., help="A serve YAML (models, routers, graphs, serve block)."),
                  host: str = typer.Option("127.0.0.1", help="Address to listen on."),
                  port: int = typer.Option(8000, help="Port to listen on."),
                  workers: int = typer.Option(1, min=1, help="Worker processes; with serve.state: redis://... they "
                                                            "share breakers, budgets, rate limits and feedback."),
                  log_level: str = typer.Option("info", help="uvicorn's log level.")) -> None:
    """Serve an OpenAI-compatible routing API: real models, router-<router>-<threshold>, aliases, graph:<name>."""
    uvicorn = require("uvicorn", "graphroute serve")
    _log_to_stderr(log_level)
    cfg = load_serve_config(config)
    if load_keys(cfg) is None and not _loopback(host) and not cfg.serve.open:
        raise ConfigError(f"refusing to serve without API keys on {host}: add serve.keys (graphroute keys new) "
                          f"or set serve.open: true", path=config, field="serve.keys")
    if workers == 1:
        uvicorn.run(serving.create_app(cfg), host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
        return
    if not cfg.serve.state or cfg.serve.state.startswith("memory://"):
        typer.secho(f"warning: {workers} workers without serve.state: redis://... each keep their own breakers, budgets "
                    f"and rate limits (a budget may be spent {workers} times)", fg="yellow", err=True)
    serving.create_app(cfg)  # fit and cache every router once, before the workers load them
    os.environ[CONFIG_ENV] = os.path.abspath(config)
    uvicorn.run("graphroute.cli.serve:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, timeout_graceful_shutdown=5)


def _log_to_stderr(level: str) -> None:
    """graphroute's own log lines (a first start's router fits, Redis outages) beside uvicorn's."""
    logger = logging.getLogger("graphroute")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
    known = logging.getLevelName(level.upper())  # a number for the standard names (uvicorn's "trace" is not)
    logger.setLevel(known if isinstance(known, int) else logging.INFO)


def app_from_env():
    """A worker's app (``uvicorn --factory graphroute.cli.serve:app_from_env``, config path in $GRAPHROUTE_SERVE_CONFIG)."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"environment variable {CONFIG_ENV} (the serve config path) is not set")
    return serving.create_app(path)


def replay_server_command(data: str = typer.Argument(..., help="A built-in dataset name or a path with responses."),
                          host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8100),
                          latency_ms: float = typer.Option(0.0, help="Wait per call (replayed timing)."),
                          log_level: str = typer.Option("warning")) -> None:
    """Serve a dataset's recorded outcomes as an OpenAI-compatible API (one model per recorded model)."""
    uvicorn = require("uvicorn", "graphroute replay-server")

    uvicorn.run(testing.create_replay_app(load_dataset(data), latency_ms=latency_ms), host=host, port=port, log_level=log_level)


def keys_new_command(name: str = typer.Option(..., help="The key's name (shown in errors and metrics)."),
                     models: str = typer.Option("*", help="Comma-separated virtual models it may use (fnmatch patterns)."),
                     budget: float = typer.Option(None, help="Dollars it may spend."),
                     rate_limit: str = typer.Option(None, help="e.g. 600/minute")) -> None:
    """Make a new API key: prints the key once, and the entry (its SHA-256, never the key) for serve.keys."""
    key = "gr-" + secrets.token_urlsafe(32)
    entry: dict[str, Any] = {"name": name, "sha256": hash_key(key), "models": [m.strip() for m in models.split(",") if m.strip()]}
    if budget is not None:
        entry["budget"] = budget
    if rate_limit:
        entry["rate_limit"] = rate_limit
    typer.echo(f"key (shown once, give it to the client): {key}")
    typer.echo("add to serve.keys:")
    typer.echo("  - " + "{" + ", ".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}" for k, v in entry.items())
               .replace("'", '"') + "}")
