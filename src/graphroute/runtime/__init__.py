"""Runtime reliability: the ``Gateway`` (fallbacks, retries with backoff, circuit breakers,
budgets, a semantic cache, context-window checks and telemetry). The routing strategies it often
starts from (round-robin, hashing, privacy, bandit, ...) are in ``graphroute.strategies``."""

from graphroute.runtime.breaker import CircuitBreaker
from graphroute.runtime.budgets import BudgetManager
from graphroute.runtime.failures import BudgetExceededError, NoModelAvailableError, ProviderError, classify, redact
from graphroute.runtime.gateway import Gateway
from graphroute.runtime.semantic_cache import SemanticCache
from graphroute.runtime.telemetry import JsonlSink, MemorySink, TelemetryHandler, summarise

__all__ = ["BudgetExceededError", "BudgetManager", "CircuitBreaker", "Gateway", "JsonlSink", "MemorySink",
           "NoModelAvailableError", "ProviderError", "SemanticCache", "TelemetryHandler", "classify", "redact", "summarise"]
