"""Cascades: ask cheap models first and escalate on low confidence (FrugalGPT-style), as LangGraph
nodes or subgraphs, calibrated on recorded outcomes.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade import Cascade, Stage
    >>> from graphroute.cascade.scorers import FormatScorer
    >>> c = Cascade([Stage(FakeListChatModel(responses=["12"]), name="gpt-4o-mini", scorer=FormatScorer(kind="integer")),
    ...              Stage(FakeListChatModel(responses=["12"]), name="gpt-4o")])
    >>> c.invoke("3 * 4?").model
    'gpt-4o-mini'
"""

from graphroute.cascade.base import Answer, Attempt, Call, CascadeError, CascadeResult
from graphroute.cascade.calibrate import Calibration, search_thresholds, simulate
from graphroute.cascade.cascade import Cascade, Stage
from graphroute.cascade.config import cascade_from_config, load_cascade, save_cascade
from graphroute.cascade.graph import CascadeNode, CascadeState, cascade_graph
from graphroute.cascade.offline import calibrate_cascade, recorded_matrices
from graphroute.cascade.router import CascadeRouter

__all__ = ["Answer", "Attempt", "Calibration", "Call", "Cascade", "CascadeError", "CascadeNode", "CascadeResult",
           "CascadeRouter", "CascadeState", "Stage", "calibrate_cascade", "cascade_from_config", "cascade_graph",
           "load_cascade", "recorded_matrices", "save_cascade", "search_thresholds", "simulate"]
