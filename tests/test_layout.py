"""The package's shape, checked: files small enough to read, one name per role, layers that import
downwards only (no graphroute import placed inside a function), a short README."""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "graphroute"


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = p.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _targets(mod: str, path: Path, node: ast.AST, mods: dict[str, Path]) -> set[str]:
    """graphroute modules an import statement loads (the deepest module each name resolves to)."""
    if isinstance(node, ast.ImportFrom):
        base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        if node.level:
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names = [target] + [f"{target}.{a.name}" for a in node.names]
    else:
        names = [a.name for a in node.names]
    out = set()
    for n in names:
        while n and n not in mods:
            n = n.rpartition(".")[0]
        if n.startswith("graphroute"):
            out.add(n)
    return out


def _imports() -> tuple[dict[str, set[str]], list[str]]:
    mods = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    inside: list[str] = []
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_func = {id(x) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for x in ast.walk(f)}
        typing_only = {id(x) for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
                       for x in ast.walk(n)}  # annotations only: never imported at run time
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in typing_only:
                targets = _targets(mod, path, node, mods) - {mod}
                edges[mod] |= targets
                if id(node) in in_func and targets:
                    inside.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {', '.join(sorted(targets))}")
    return edges, inside


def test_no_file_under_src_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_no_graphroute_import_inside_a_function():
    _, inside = _imports()
    assert not inside, "\n".join(inside)


def test_no_import_cycles_between_modules_or_packages():
    edges, _ = _imports()
    mods = _modules()

    def cycle(graph: dict[str, set[str]]) -> list[str] | None:
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(v: str) -> list[str] | None:
            state[v] = 1
            stack.append(v)
            for w in sorted(graph.get(v, ())):
                if state.get(w) == 1:
                    return stack[stack.index(w):] + [w]
                if not state.get(w) and (found := visit(w)):
                    return found
            state[v] = 2
            stack.pop()
            return None

        for v in sorted(graph):
            if not state.get(v) and (found := visit(v)):
                return found
        return None

    # a package's __init__ re-exporting its own submodules is not a cycle between roles
    def is_reexport(a: str, b: str) -> bool:
        return mods[b].name == "__init__.py" and a.startswith(b + ".")

    assert cycle({a: {b for b in bs if not is_reexport(a, b)} for a, bs in edges.items()}) is None

    def package(m: str) -> str:
        return ".".join(m.split(".")[:2])

    packages: dict[str, set[str]] = defaultdict(set)
    for a, bs in edges.items():
        packages[package(a)] |= {package(b) for b in bs if package(b) != package(a)}
    assert cycle(packages) is None


def test_file_names_name_one_role():
    names = Counter(p.name for p in SRC.rglob("*.py"))
    shared = {n for n, c in names.items() if c > 1} - {"__init__.py", "base.py"}  # base.py: each folder's protocol
    assert not shared, shared


def test_readme_is_short_and_keeps_its_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert "python3 -m pip install torch==2.13.0 && python3 -m pip install -e '.[plots]' && graphroute eval" in text
    assert "python3 -m pip install -e '.[test,docs,live]' -c constraints.txt && python3 -m pytest" in text
    assert "-e '.[test,docs,live]' -c constraints.txt && python3 -m pytest" in (ROOT / ".ci" / "run").read_text()  # CI runs it


def test_every_error_is_defined_in_errors_py_under_graphroute_error():
    import inspect

    import graphroute.errors as errors

    strays = []
    for path in SRC.rglob("*.py"):
        if path.name == "errors.py" and path.parent == SRC:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            bases = [ast.unparse(b) for b in getattr(node, "bases", [])]
            if isinstance(node, ast.ClassDef) and (node.name.endswith(("Error", "Exception"))
                                                   or any(b.endswith(("Error", "Exception")) for b in bases)):
                strays.append(f"{path.relative_to(SRC)}: {node.name}")
    assert not strays, strays
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert sorted(c.__name__ for c in classes) == sorted(errors.__all__)
    assert all(issubclass(c, errors.GraphRouteError) for c in classes if not issubclass(c, Warning))
    # an outage is not a budget refusal; the old import paths still name the same classes
    assert not issubclass(errors.StateUnavailableError, errors.BudgetExceededError)
    from graphroute.models.replay import ReplayMissError
    from graphroute.runtime import BudgetExceededError, ProviderError
    from graphroute.serve.api_errors import APIError
    from graphroute.serve.upstreams import UpstreamStatusError
    from graphroute.state import StateUnavailableError

    assert (ReplayMissError, BudgetExceededError, ProviderError, APIError, UpstreamStatusError, StateUnavailableError) == (
        errors.ReplayMissError, errors.BudgetExceededError, errors.ProviderError, errors.APIError,
        errors.UpstreamStatusError, errors.StateUnavailableError)


def test_docstrings_use_markdown_not_sphinx_roles():
    import re

    roles = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj):`")
    found = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
             if roles.search(line)]
    assert not found, f"Sphinx roles render raw on the mkdocstrings pages: {found[:10]}"


def test_ruff_passes_and_the_package_says_it_is_typed():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "scripts", "conftest.py"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (SRC / "py.typed").exists()


def test_mypy_passes_with_the_public_modules_strict():
    """mypy over src/graphroute as pyproject configures it (strict flags on types, errors, events, ...)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Success" in run.stdout


def test_only_the_route_modules_define_server_routes():
    """FastAPI's bigger-applications layout: one router module per resource under serve/routes/; the
    app factory assembles them and defines none itself."""
    verbs = ("get", "post", "put", "patch", "delete", "api_route", "websocket")
    defining = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in verbs \
                    and node.args and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("/"):
                defining.add(path.relative_to(SRC).as_posix())
    served = {p for p in defining if p.startswith("serve/")}
    assert served and all(p.startswith("serve/routes/") for p in served), sorted(served)
    assert defining - served <= {"testing/replay_app.py"}, sorted(defining - served)  # the replay server, a test double


def test_one_reservation_type_for_local_and_shared_budgets():
    from graphroute.runtime.budgets import Reservation
    from graphroute.state import Reservation as SharedReservation

    defined = [p for p in SRC.rglob("*.py") if "class Reservation" in p.read_text()]
    assert len(defined) == 1 and SharedReservation is Reservation
