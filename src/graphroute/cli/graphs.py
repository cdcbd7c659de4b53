"""``graphroute run``, ``graphroute validate`` and ``graphroute eval GRAPH``: graph files on the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from graphroute.collect.models_file import ModelsFile
from graphroute.datasets import load_dataset
from graphroute.errors import ConfigError
from graphroute.graphs import compile_file, run_graph, validate_file
from graphroute.serve.settings import load_serve_config
from graphroute.yamlconf import load_yaml_model, read_yaml
from graphroute.graphs.crossval import evaluate_graph


def file_kind(path: Path) -> str:
    """What a YAML file is, by its top-level keys: ``graph`` (nodes/edges), ``serve`` (a serve block
    or graphs), ``models`` (models and judges only, for collect)."""
    _, data = read_yaml(path)
    keys = set(data) if isinstance(data, dict) else set()
    if keys & {"nodes", "edges", "state"}:
        return "graph"
    if keys & {"serve", "graphs"} or ("routers" in keys and "models" in keys):
        return "serve"
    if keys and keys <= {"models", "judges"}:
        return "models"
    raise ConfigError("not a graph (nodes, edges), serve (serve, graphs, routers) or models file (models, "
                      f"judges): top-level keys {sorted(keys) or 'none'}", path=path)


def validate_command(path: Path = typer.Argument(..., help="A graph, serve or models YAML file."),
                     trust_code: bool = typer.Option(False, "--trust-code", help="Import the modules python steps "
                                                     "name to check them (runs their code); by default their source "
                                                     "is read, never run.")) -> None:
    """Check a graph, serve or models file (told apart by their top-level keys) without running any
    of it; print every problem as file:line:column: field.path: message (exit 2)."""
    kind = file_kind(path)
    if kind == "graph":
        s = validate_file(path, trust_code)
        typer.echo(f"{path}: valid graph {s['name']!r}: {s['models']} models, {s['routers']} routers, "
                   f"{s['nodes']} nodes, {s['edges']} edges")
    elif kind == "serve":
        cfg = load_serve_config(path)
        for name, graph in cfg.graphs.items():  # the graphs it serves, checked the same way
            validate_file(cfg.base / graph, trust_code)
        typer.echo(f"{path}: valid serve file: {len(cfg.models)} models, {len(cfg.routers)} routers, "
                   f"{len(cfg.graphs)} graphs, {len(cfg.serve.aliases)} aliases, "
                   f"{len(cfg.serve.experiments)} experiments")
    else:
        spec = load_yaml_model(path, ModelsFile)
        typer.echo(f"{path}: valid models file: {len(spec.models)} models, {len(spec.judges)} judges")


def run_command(
    path: Path = typer.Argument(..., help="A graph YAML file."),
    input_text: Optional[str] = typer.Option(None, "--input", "-i", help="The run's input (goes to the graph's input state key)."),
    row: Optional[int] = typer.Option(None, "--row", min=0, help="Use prompt ROW of --data as the input (a recorded "
                                                                 "prompt: offline models replay their answers to it)."),
    offline: bool = typer.Option(False, "--offline", help="Replay recorded answers (--data) or fake models; no provider calls."),
    data: Optional[str] = typer.Option(None, "--data", help="Dataset whose recorded answers offline models replay."),
    budget: Optional[float] = typer.Option(None, "--budget", help="Dollars for this run (default: the file's budget.per_run)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run a graph once and print the answer, the path taken and each step's model, cost and latency."""
    ds = None
    if data:
        ds = load_dataset(data)
    if (input_text is None) == (row is None):
        raise ConfigError("give the run's input as exactly one of --input TEXT or --row N (prompt N of --data)",
                          field="--input")
    if row is not None:
        if ds is None or row >= len(ds):
            raise ConfigError(f"--row {row} needs --data with more than {row} prompts", field="--row")
        input_text = ds.prompts[row]
    assert input_text is not None
    t0 = time.perf_counter()
    app = compile_file(path, offline=offline, data=ds)
    compiled = time.perf_counter() - t0
    r = run_graph(app, input_text, budget=budget)
    if as_json:
        typer.echo(json.dumps({k: v for k, v in r.items() if k != "state"}, indent=2, default=str))
        return
    console = Console()
    table = Table(title=f"{path.name}: {r['outcome']}" + (f" at {r['stopped_at']}" if r["stopped_at"] else ""))
    for col in ("step", "type", "model", "cost $", "latency ms", "reason"):
        table.add_column(col)
    for t in r["trace"]:
        table.add_row(escape(t["node"]), t["type"], escape(str(t.get("model") or "-")), f"{t.get('cost') or 0:.6f}",
                      f"{t.get('latency_ms') or 0:.1f}", escape(str(t.get("reason", ""))[:60]))
    console.print(table)
    console.print(f"path: {' -> '.join(t['node'] for t in r['trace'])}   total ${r['cost']:.6f}   compiled in {compiled:.2f} s")
    console.print("answer:")
    console.print(str(r["answer"]), markup=False, highlight=False)


def eval_graph(path: Path, data: str, cv: int, json_path: Optional[Path], seed: int) -> None:
    """Body of ``graphroute eval GRAPH --data D``."""
    console = Console()
    results = []
    for name in [s.strip() for s in data.split(",") if s.strip()]:
        ds = load_dataset(name)
        results.append(evaluate_graph(path, ds, cv=cv, seed=seed))
    for r in results:
        table = Table(title=f"{r['graph']} on {r['dataset']} (n={r['n']}, {r['cv']}-fold: fitted parts see training folds only)")
        for col in ("quality", "answered", "$/query", "model mix", "outcomes", "each model alone"):
            table.add_column(col)
        table.add_row(f"{r['quality']:.4f}", f"{r['answered']:.1%}", f"{r['cost_per_query']:.6f}",
                      ", ".join(f"{m} {v:.1%}" for m, v in r["model_mix"].items()),
                      ", ".join(f"{k} {v}" for k, v in r["outcomes"].items()),
                      ", ".join(f"{m} {v:.4f}" for m, v in r["model_quality"].items()))
        console.print(table)
    if json_path:
        json_path.write_text(json.dumps(results, indent=2))
        console.print(f"wrote {json_path}")
