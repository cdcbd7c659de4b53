"""Runtime strategies and reliability: static (round-robin, weighted random, consistent hashing),
privacy routing, hybrid rules + learned, model profiles, runtime latency and least-busy routing,
a Thompson-sampling bandit with feedback; and the reliable :class:`Gateway` (fallbacks, retries with
backoff, circuit breakers, budgets, semantic cache, telemetry)."""

from graphroute.runtime.adaptive import LatencyTracker, LeastBusyRouter, RuntimeRouter
from graphroute.runtime.bandit import ThompsonRouter
from graphroute.routers.strategy import StrategyRouter
from graphroute.runtime.breaker import CircuitBreaker
from graphroute.runtime.budgets import BudgetManager
from graphroute.runtime.cache import SemanticCache
from graphroute.runtime.failures import BudgetExceededError, NoModelAvailableError, ProviderError, classify, redact
from graphroute.runtime.gateway import Gateway, GatewayResult
from graphroute.runtime.hybrid import HybridRouter, ProfileRouter
from graphroute.runtime.privacy import PIIDetector, PrivacyRouter
from graphroute.runtime.static import ConsistentHashRouter, RoundRobinRouter, WeightedRandomRouter
from graphroute.runtime.telemetry import JsonlSink, MemorySink, TelemetryHandler, summarise

__all__ = ["BudgetExceededError", "BudgetManager", "CircuitBreaker", "ConsistentHashRouter", "Gateway", "GatewayResult",
           "HybridRouter", "JsonlSink", "LatencyTracker", "LeastBusyRouter", "MemorySink", "NoModelAvailableError",
           "PIIDetector", "PrivacyRouter", "ProfileRouter", "ProviderError", "RoundRobinRouter", "RuntimeRouter",
           "SemanticCache", "StrategyRouter", "TelemetryHandler", "ThompsonRouter", "WeightedRandomRouter", "classify",
           "redact", "summarise"]
