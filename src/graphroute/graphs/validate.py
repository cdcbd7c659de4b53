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

import importlib
import string
from pathlib import Path
from typing import Any


from graphroute.graphs.schema import (AllocatorBlock, AllocatorNodeSpec, CascadeBlock, CascadeNodeSpec, ClassifierBlock,
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
        if isinstance(block, ClassifierBlock):
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
            if block.kind == "hybrid":
                learned = block.params.get("learned")
                if not isinstance(routers.get(str(learned)), ClassifierBlock):
                    issues.append((loc + ("params",), f"hybrid: 'learned' must name a classifier router, got {learned!r}"))
                rules = block.params.get("rules") or []
                for m in [r.get("model") for r in rules if isinstance(r, dict)] + [block.params.get("default")]:
                    need_model(loc + ("params",), str(m))
                continue
            try:
                strategy = make_strategy({"kind": block.kind, **block.params})
            except ConfigError as exc:
                issues.append((loc + ((exc.field.split(".")[0],) if exc.field else ()), str(exc)))
            else:
                for m in strategy.models_:
                    need_model(loc + ("params",), m)
    return issues


def check(spec: GraphSpec, base: Path | None = None) -> list[tuple[tuple, str]]:
    """Cross-reference and shape problems of a schema-valid spec: (location, message) pairs."""
    issues = check_routers(spec.models, spec.routers, base)
    models = set(spec.models)
    known_keys = set(spec.state) | _outputs(spec) | BUILTIN_KEYS

    def need_model(loc: tuple, name: str) -> None:
        if name not in models:
            issues.append((loc, f"unknown model {name!r}; models: {', '.join(sorted(models))}"))

    want = {LLMNode: None, RouterStep: (ClassifierBlock, RulesBlock, StrategyBlock), CascadeNodeSpec: (CascadeBlock,),
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
        if getattr(node, "router", None) is not None:
            if node.router not in spec.routers:
                issues.append((loc + ("router",), f"missing router {node.router!r}; routers: {', '.join(spec.routers) or 'none'}"))
            else:
                allowed = want.get(type(node)) or (ClassifierBlock, RulesBlock, StrategyBlock)
                block = spec.routers[node.router]
                if not isinstance(block, allowed):
                    kinds = "/".join(a.model_fields["type"].annotation.__args__[0] for a in allowed)
                    issues.append((loc + ("router",), f"router {node.router!r} is a {block.type}, a {node.type} node needs a {kinds}"))
        if isinstance(node, (RetrievalNode, RouterStep, CascadeNodeSpec, AllocatorNodeSpec)) and node.input not in known_keys:
            issues.append((loc + ("input",), f"input {node.input!r} is not a state key"))
        if isinstance(node, RetrievalNode) and base is not None and not (base / node.corpus).is_file():
            issues.append((loc + ("corpus",), f"corpus file {node.corpus!r} not found"))
        if isinstance(node, PythonNode):
            module, _, attr = node.call.partition(":")
            try:
                if not callable(getattr(importlib.import_module(module), attr)):
                    raise AttributeError
            except (ImportError, AttributeError, ValueError):
                issues.append((loc + ("call",), f"{node.call!r} is not an importable callable (module:function)"))
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


def load_graph(path: str | Path) -> GraphSpec:
    """Parse and fully validate a graph file; raises ConfigError listing every problem."""
    path = Path(path)
    return load_checked(path, GraphSpec, lambda spec: check(spec, path.parent))


def validate_file(path: str | Path) -> dict[str, Any]:
    """A summary of a valid graph (for ``graphroute validate``); raises ConfigError otherwise."""
    spec = load_graph(path)
    return {"name": spec.name, "models": len(spec.models), "routers": len(spec.routers), "nodes": len(spec.nodes),
            "edges": len(spec.edges)}
