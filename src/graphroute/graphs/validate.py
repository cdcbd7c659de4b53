"""Validating a graph file: the schema first, then every cross-reference and the graph's shape.
All problems are reported at once, each as ``file:line:column: field.path: message``.

Examples:
    >>> import pathlib, tempfile
    >>> from graphroute.graphs import load_graph
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.yaml"
    >>> _ = p.write_text('''
    ... models: {small: {model: "openai:gpt-4o-mini", input_price: 0.15, output_price: 0.6}}
    ... state: {question: str, answer: str}
    ... nodes: {answer: {type: llm, model: big, prompt: "{question}", output: answer}}
    ... edges: [{from: START, to: answer}, {from: answer, to: END}]
    ... ''')
    >>> load_graph(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    graphroute.errors.ConfigError: ...g.yaml:4:36: nodes.answer.model: unknown model 'big'; models: small
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import string
import sys
from pathlib import Path
from typing import Any


from graphroute.graphs.schema import (AllocatorBlock, AllocatorNodeSpec, CascadeBlock, CascadeNodeSpec, LearnedBlock,
                                      GraphSpec, LLMNode, PythonNode, RetrievalNode, RouterStep, RulesBlock, StrategyBlock)
from graphroute.errors import ConfigError
from graphroute.strategies import make_strategy
from graphroute.yamlconf import load_checked

SPECIAL = {"START", "END"}
BUILTIN_KEYS = {"budget_remaining", "trace", "outcome", "stopped_at"}


def _template_keys(template: str) -> list[str]:
    try:
        return [f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError:
        return ["<malformed template>"]


def _outputs(spec: GraphSpec) -> set[str]:
    return {n.output for n in spec.nodes.values() if hasattr(n, "output")}


def check_routers(models: Any, routers: dict[str, Any], base: Path | None = None) -> list[tuple[tuple, str]]:
    """Problems of router blocks over the model ids ``models`` (a graph's or a served config's)."""
    issues: list[tuple[tuple, str]] = []
    models = set(models)

    def need_model(loc: tuple, name: str) -> None:
        if name not in models:
            issues.append((loc, f"unknown model {name!r}; models: {', '.join(sorted(models))}"))

    for rname, block in routers.items():
        loc = ("routers", rname)
        if isinstance(block, LearnedBlock):
            if (block.path is None) == (block.fit is None):
                issues.append((loc, "a classifier needs exactly one of 'path' (saved router) or 'fit'"))
            if block.path and base is not None and not (base / block.path).exists():
                issues.append((loc + ("path",), f"no saved router at {block.path!r}"))
            for k, v in block.models.items():
                need_model(loc + ("models", k), v)
        elif isinstance(block, CascadeBlock):
            if len(block.stages) < 2:
                issues.append((loc + ("stages",), "a cascade needs at least two stages"))
            for i, st in enumerate(block.stages):
                if not isinstance(st, dict) or "model" not in st:
                    issues.append((loc + ("stages", i), "a stage is a mapping with 'model'"))
                    continue
                need_model(loc + ("stages", i, "model"), st["model"])
                if i < len(block.stages) - 1 and not st.get("scorer"):
                    issues.append((loc + ("stages", i), "every stage but the last needs a scorer"))
        elif isinstance(block, AllocatorBlock):
            if base is not None and not (base / block.catalogue).exists():
                issues.append((loc + ("catalogue",), f"catalogue file {block.catalogue!r} not found"))
            for k, v in block.models.items():
                need_model(loc + ("models", k), v)
        elif isinstance(block, RulesBlock):
            need_model(loc + ("default",), block.default)
            for i, r in enumerate(block.rules):
                need_model(loc + ("rules", i, "model"), r.model)
        elif isinstance(block, StrategyBlock):
            if block.name == "hybrid":
                learned = block.params.get("learned")
                if not isinstance(routers.get(str(learned)), LearnedBlock):
                    issues.append((loc + ("params",), f"hybrid: 'learned' must name a classifier router, got {learned!r}"))
                rules = block.params.get("rules") or []
                for m in [r.get("model") for r in rules if isinstance(r, dict)] + [block.params.get("default")]:
                    need_model(loc + ("params",), str(m))
                continue
            try:
                strategy = make_strategy({"name": block.name, **block.params})
            except ConfigError as exc:
                issues.append((loc + ((exc.field.split(".")[0],) if exc.field else ()), str(exc)))
            else:
                for m in strategy.models_:
                    need_model(loc + ("params",), m)
    return issues


def check(spec: GraphSpec, base: Path | None = None, trust_code: bool = False) -> list[tuple[tuple, str]]:
    """Cross-reference and shape problems of a schema-valid spec: (location, message) pairs. A
    python node's callable is looked up in its module's source without importing it, unless
    ``trust_code`` (then it is imported)."""
    issues = check_routers(spec.models, spec.routers, base)
    models = set(spec.models)
    known_keys = set(spec.state) | _outputs(spec) | BUILTIN_KEYS

    def need_model(loc: tuple, name: str) -> None:
        if name not in models:
            issues.append((loc, f"unknown model {name!r}; models: {', '.join(sorted(models))}"))

    want = {LLMNode: None, RouterStep: (LearnedBlock, RulesBlock, StrategyBlock), CascadeNodeSpec: (CascadeBlock,),
            AllocatorNodeSpec: (AllocatorBlock,)}
    for name, node in spec.nodes.items():
        loc = ("nodes", name)
        if name in SPECIAL:
            issues.append((loc, f"{name} is reserved"))
        if isinstance(node, LLMNode):
            if (node.model is None) == (node.router is None):
                issues.append((loc, "an llm node needs exactly one of 'model' or 'router'"))
            if node.model is not None:
                need_model(loc + ("model",), node.model)
            if node.route_on is not None and node.route_on not in known_keys:
                issues.append((loc + ("route_on",), f"route_on {node.route_on!r} is not a state key"))
            for key in _template_keys(node.prompt):
                if key not in known_keys:
                    issues.append((loc + ("prompt",), f"prompt uses {{{key}}}, which is not a state key"))
        router = getattr(node, "router", None)
        if router is not None:
            if router not in spec.routers:
                issues.append((loc + ("router",), f"missing router {router!r}; routers: {', '.join(spec.routers) or 'none'}"))
            else:
                allowed = want.get(type(node)) or (LearnedBlock, RulesBlock, StrategyBlock)
                block = spec.routers[router]
                if not isinstance(block, allowed):
                    kinds = "/".join(getattr(a.model_fields["type"].annotation, "__args__", ("?",))[0] for a in allowed)
                    issues.append((loc + ("router",), f"router {router!r} is a {block.type}, a {node.type} node needs a {kinds}"))
        if isinstance(node, (RetrievalNode, RouterStep, CascadeNodeSpec, AllocatorNodeSpec)) and node.input not in known_keys:
            issues.append((loc + ("input",), f"input {node.input!r} is not a state key"))
        if isinstance(node, RetrievalNode) and base is not None and not (base / node.corpus).is_file():
            issues.append((loc + ("corpus",), f"corpus file {node.corpus!r} not found"))
        if isinstance(node, PythonNode):
            problem = imported_callable(node.call) if trust_code else static_callable(node.call)
            if problem:
                issues.append((loc + ("call",), problem))
    issues += _check_edges(spec, known_keys)
    if spec.input and spec.input not in spec.state:
        issues.append((("input",), f"input {spec.input!r} is not a state key"))
    if spec.output and spec.output not in known_keys:
        issues.append((("output",), f"output {spec.output!r} is not a state key"))
    return issues


def _check_edges(spec: GraphSpec, known_keys: set[str]) -> list[tuple[tuple, str]]:
    issues: list[tuple[tuple, str]] = []
    nodes = set(spec.nodes)
    succ: dict[str, set[str]] = {n: set() for n in nodes | SPECIAL}
    for i, e in enumerate(spec.edges):
        loc = ("edges", i)
        if e.source not in nodes | {"START"}:
            issues.append((loc + ("from",), f"unknown node {e.source!r}"))
            continue
        if (e.to is None) == (e.map is None) or (e.map is not None and e.condition is None):
            issues.append((loc, "an edge has 'to', or 'condition' with 'map'"))
            continue
        targets = [e.to] if e.to is not None else list((e.map or {}).values())
        for t in targets:
            if t not in nodes | {"END"}:
                issues.append((loc + (("to",) if e.to is not None else ("map",)), f"unknown node {t!r}"))
            else:
                succ[e.source].add(t)
        if e.condition is not None and e.condition not in known_keys:
            issues.append((loc + ("condition",), f"condition {e.condition!r} is not a state key"))
    if not succ["START"]:
        issues.append((("edges",), "no edge from START"))
    seen, stack = set(), ["START"]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack += list(succ.get(n, ()))
    for n in sorted(nodes - seen):
        issues.append((("nodes", n), "unreachable from START"))
    for n in sorted(nodes & seen):
        if not succ[n]:
            issues.append((("nodes", n), "no outgoing edge (add one, to END if it is the last step)"))
    # every reachable node must be able to reach END (else a cycle without exit)
    can_end, changed = {"END"}, True
    while changed:
        changed = False
        for n, out in succ.items():
            if n not in can_end and out & can_end:
                can_end.add(n)
                changed = True
    for n in sorted((nodes & seen) - can_end):
        if succ[n]:
            issues.append((("nodes", n), "in a cycle without exit: END is unreachable from here"))
    return issues


def _module_source(module: str) -> tuple[str | None, str | None]:
    """``(source path, problem)`` of ``module`` found on ``sys.path`` the way ``import`` would, with
    no module (nor its packages) executed."""
    if module in sys.builtin_module_names:
        return None, None
    search: list[str] | None = None
    spec = None
    for i, part in enumerate(module.split(".")):
        if not part.isidentifier():
            return None, f"{module!r} is not a module name"
        spec = importlib.machinery.PathFinder.find_spec(part, search)
        if spec is None:
            return None, f"no module {'.'.join(module.split('.')[:i + 1])!r} on the import path"
        search = list(spec.submodule_search_locations or [])
    return (spec.origin if spec is not None else None), None


def static_callable(call: str) -> str | None:
    """None when ``module:function`` names a function, class or name defined at the top level of
    that module's source; else the problem. Nothing is imported.

    Examples:
        >>> static_callable("json:dumps") is None, static_callable("json:nothing")
        (True, "'json:nothing': module 'json' defines no 'nothing' (looked up in its source, not imported)")
    """
    module, _, attr = call.partition(":")
    if not module or not attr.isidentifier():
        return f"{call!r} is not module:function"
    origin, problem = _module_source(module)
    if problem:
        return f"{call!r}: {problem}"
    if origin is None or not origin.endswith(".py"):
        return None  # a compiled or built-in module: it exists; its names are known only by importing it
    try:
        tree = ast.parse(Path(origin).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError) as exc:
        return f"{call!r}: {origin} cannot be read: {exc}"
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    if attr not in names:
        return f"{call!r}: module {module!r} defines no {attr!r} (looked up in its source, not imported)"
    return None


def imported_callable(call: str) -> str | None:
    """``static_callable`` by importing the module (``--trust-code``): its code runs."""
    module, _, attr = call.partition(":")
    try:
        if not callable(getattr(importlib.import_module(module), attr)):
            raise AttributeError
    except (ImportError, AttributeError, ValueError):
        return f"{call!r} is not an importable callable (module:function)"
    return None


def load_graph(path: str | Path, trust_code: bool = False) -> GraphSpec:
    """Parse and fully validate a graph file; raises ConfigError listing every problem. Python
    steps are looked up without importing their modules unless ``trust_code``."""
    path = Path(path)
    return load_checked(path, GraphSpec, lambda spec: check(spec, path.parent, trust_code))


def validate_file(path: str | Path, trust_code: bool = False) -> dict[str, Any]:
    """A summary of a valid graph (for ``graphroute validate``); raises ConfigError otherwise."""
    spec = load_graph(path, trust_code)
    return {"name": spec.name, "models": len(spec.models), "routers": len(spec.routers), "nodes": len(spec.nodes),
            "edges": len(spec.edges)}
