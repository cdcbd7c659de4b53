"""Routers: the protocol (``Router``), the registry of router names (``ROUTERS``), the
baselines, the learned routers, semantic routes and the cascade evaluated on recorded answers.

A router spec is a registered name with optional parameters: ``make_router("knn:k=400")``.

Examples:
    >>> from graphroute.routers import ROUTERS, make_router
    >>> make_router("random")
    RandomRouter(seed=0)
    >>> "classifier" in ROUTERS.names()
    True
"""

from graphroute.routers.base import ROUTERS, Router, as_dataset, make_router, router_class, router_names
from graphroute.routers.baselines import AlwaysRouter, OracleRouter, RandomRouter
from graphroute.routers.calibration import calibrate
from graphroute.routers.embedding import EmbeddingRouter, PromptOnlyRouter
from graphroute.routers.knn import KNNRouter
from graphroute.routers.heads import HeadRouter
from graphroute.routers.factors import FactorRouter
from graphroute.routers.wins import WinRouter
from graphroute.routers.trees import FEATURES, FeatureRouter, prompt_features
from graphroute.routers.text import TextRouter, word_ngrams
from graphroute.routers.classifier import DEFAULT_MEMBERS, StackedRouter
from graphroute.routers.domains import DomainRouter
from graphroute.routers.cascade_router import CascadeRouter
from graphroute.routers.fitting import fit_router, split_for_calibration
from graphroute.routers.policy import (
    POLICIES,
    CostPolicy,
    Policy,
    TargetQualityPolicy,
    ThresholdPolicy,
    TolerancePolicy,
)
from graphroute.routers.semantic import Route, SemanticRouter

__all__ = [
    "DEFAULT_MEMBERS",
    "DomainRouter",
    "FEATURES",
    "POLICIES",
    "ROUTERS",
    "AlwaysRouter",
    "CascadeRouter",
    "CostPolicy",
    "EmbeddingRouter",
    "FactorRouter",
    "FeatureRouter",
    "HeadRouter",
    "KNNRouter",
    "OracleRouter",
    "Policy",
    "PromptOnlyRouter",
    "RandomRouter",
    "Route",
    "Router",
    "SemanticRouter",
    "StackedRouter",
    "TargetQualityPolicy",
    "TextRouter",
    "ThresholdPolicy",
    "TolerancePolicy",
    "WinRouter",
    "as_dataset",
    "calibrate",
    "fit_router",
    "make_router",
    "prompt_features",
    "router_class",
    "router_names",
    "split_for_calibration",
    "word_ngrams",
]
