"""Cascades: ask cheap models first and escalate on low confidence (FrugalGPT-style), as LangGraph
nodes or subgraphs, calibrated on recorded outcomes. Everything is a method of ``Cascade``:
``invoke``/``ainvoke``/``batch``, ``node()``, ``as_graph()``, ``calibrate()``, ``save()``/``load()``,
``from_config()``; its results are ``CascadeResult`` values.

Examples:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from graphroute.cascade import Cascade, Stage
    >>> from graphroute.scorers import FormatScorer
    >>> c = Cascade([Stage(FakeListChatModel(responses=["12"]), name="gpt-4o-mini", scorer=FormatScorer(kind="integer")),
    ...              Stage(FakeListChatModel(responses=["12"]), name="gpt-4o")])
    >>> c.invoke("3 * 4?").model
    'gpt-4o-mini'
"""

from graphroute.cascade.cascade import Cascade
from graphroute.cascade.graph import CascadeState
from graphroute.cascade.stage import Stage

__all__ = ["Cascade", "CascadeState", "Stage"]
