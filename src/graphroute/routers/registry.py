"""Router names, registered in one place: ``graphroute eval --router a,b,c`` reads this table.

A new router is one file plus one line in ``ROUTERS``. ``always-<model>`` names any model
(``always-weak``/``always-strong`` the pair's ends).
"""

from __future__ import annotations

from typing import Callable

from graphroute.errors import UnknownRouterError
from graphroute.routers.base import Router
from graphroute.routers.baselines import AlwaysRouter, OracleRouter, RandomRouter
from graphroute.routers.ensemble import DEFAULT_MEMBERS, StackedRouter
from graphroute.routers.features import FeatureRouter
from graphroute.routers.heads import HeadRouter
from graphroute.routers.knn import KNNRouter
from graphroute.routers.text import TextRouter



def _cascade(scorer: str = "learned", gain: bool = True, **params) -> Router:
    from graphroute.cascade.router import CascadeRouter  # lazy: the cascade package pulls in LangChain

    return CascadeRouter(scorer, params or None, gain=gain)


ROUTERS: dict[str, Callable[[], Router]] = {
    "random": lambda: RandomRouter(seed=0),
    "oracle": OracleRouter,
    "always-weak": lambda: AlwaysRouter("weak"),
    "always-strong": lambda: AlwaysRouter("strong"),
    "knn": lambda: KNNRouter(k=50),
    "knn-wide": lambda: KNNRouter(k=400, temperature=0.2),
    "knn-pca": lambda: KNNRouter(k=400, temperature=0.2, dims=64),
    "logistic": lambda: HeadRouter("logistic", C=0.3),
    # on MiniLM's layers 1-6 mean-pooled (encoders/batching.py)
    "logistic-layers": lambda: HeadRouter("logistic", C=0.3, encoder="layers"),
    "ridge": lambda: HeadRouter("ridge", alpha=100.0),
    "ridge-math": lambda: HeadRouter("ridge", alpha=30.0, prompt_features="math"),
    "mlp": lambda: HeadRouter("mlp", hidden=64, alpha=10.0),
    "features": FeatureRouter,
    "features-math": lambda: FeatureRouter(features="form+math"),
    "features-options": lambda: FeatureRouter(features="form+options"),
    "text": TextRouter,
    "stacked-knn-logistic": lambda: StackedRouter(members=[["knn", {"k": 400, "temperature": 0.2}],
                                                           ["head", {"head": "logistic", "C": 0.3}]], encoder=None),
    # the recommended configuration: see routers/ensemble.py DEFAULT_MEMBERS
    "classifier": StackedRouter,
    # the previous release's: the six members on the top layer's embedding only
    "classifier-top-layer": lambda: StackedRouter(members=[list(m) for m in DEFAULT_MEMBERS[:6]], encoder=None),
    # the same stack on the distilled static encoder (encoders/static.py): batch routing at thousands
    # of prompts/s, somewhat lower quality; one layer, so without the multi-layer member
    "classifier-static": lambda: StackedRouter(members=[list(m) for m in DEFAULT_MEMBERS[:6]], encoder="static"),
    # cascades score the weak model's recorded answer (datasets with responses, e.g. routellm-gsm8k)
    "cascade": _cascade,
    "cascade-confidence": lambda: _cascade("learned", gain=False),
    "cascade-features": lambda: _cascade("learned", embeddings=False),
    "cascade-arithmetic": lambda: _cascade("arithmetic"),
    "cascade-format": lambda: _cascade("format"),
}


def make_router(name: str) -> Router:
    """A fresh, unfitted router for a registered name."""
    name = name.strip()
    if name in ROUTERS:
        return ROUTERS[name]()
    if name.startswith("always-") and len(name) > len("always-"):
        return AlwaysRouter(name[len("always-"):])
    raise UnknownRouterError(name, list(ROUTERS) + ["always-<model>"])


def router_names(spec: str) -> list[str]:
    """Split ``"a,b,c"`` and check every name is known (errors before any work starts)."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise UnknownRouterError(spec, list(ROUTERS))
    for n in names:
        make_router(n)
    return names
