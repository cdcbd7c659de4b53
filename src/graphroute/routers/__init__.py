"""Routers: the protocol (``Router``), the baselines and the learned routers, by family.

Example:
    >>> from graphroute.routers import make_router
    >>> make_router("random")
    RandomRouter(seed=0)
"""

from graphroute.routers.base import MAX_PROMPT_CHARS, Router, check_prompts
from graphroute.routers.baselines import AlwaysRouter, OracleRouter, RandomRouter
from graphroute.routers.embedding import EmbeddingRouter, PromptOnlyRouter
from graphroute.routers.ensemble import StackedRouter
from graphroute.routers.features import FeatureRouter, prompt_features
from graphroute.routers.heads import HeadRouter
from graphroute.routers.knn import KNNRouter
from graphroute.routers.text import TextRouter, word_ngrams
from graphroute.routers.calibration import Calibration, calibrate
from graphroute.routers.policy import CostPolicy, Decision, TargetQualityPolicy, ThresholdPolicy
from graphroute.routers.registry import ROUTERS, make_router, router_names

__all__ = [
    "MAX_PROMPT_CHARS",
    "ROUTERS",
    "AlwaysRouter",
    "Calibration",
    "CostPolicy",
    "Decision",
    "TargetQualityPolicy",
    "ThresholdPolicy",
    "calibrate",
    "EmbeddingRouter",
    "FeatureRouter",
    "HeadRouter",
    "KNNRouter",
    "PromptOnlyRouter",
    "TextRouter",
    "word_ngrams",
    "StackedRouter",
    "prompt_features",
    "OracleRouter",
    "RandomRouter",
    "Router",
    "check_prompts",
    "make_router",
    "router_names",
]
