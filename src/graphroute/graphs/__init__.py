"""Declarative graphs: YAML files compiled to LangGraph workflows in which every step and retrieval
query picks its model, under one budget per run. See ``graphroute.graphs.schema``."""

from graphroute.graphs.build import Runtime, build_runtime, make_models
from graphroute.graphs.compiler import GraphRunError, compile_file, compile_graph, io_keys, run_graph
from graphroute.graphs.schema import GraphSpec
from graphroute.graphs.validate import load_graph, validate_file

__all__ = ["GraphRunError", "GraphSpec", "Runtime", "build_runtime", "compile_file", "compile_graph", "io_keys",
           "load_graph", "make_models", "run_graph", "validate_file"]
