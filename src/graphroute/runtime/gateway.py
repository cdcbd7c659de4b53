"""The reliable gateway: route a request, then call it through a fallback chain with retries
(tenacity: exponential backoff with jitter), a circuit breaker per model, budgets reserved before
each call, a semantic cache, context-window checks, privacy limits and telemetry.

Every request ends with an answer or a typed error (``ProviderError``,
``BudgetExceededError``, ``NoModelAvailableError``), never a hang or a silent loss.

In the example, fake providers stand in and the first one is down.

Examples:
    >>> import asyncio
    >>> from langchain_core.language_models import FakeListChatModel
    >>> from langchain_core.runnables import RunnableLambda
    >>> from graphroute.runtime import Gateway
    >>> from graphroute.strategies import RoundRobinRouter
    >>> def down(_): raise ConnectionError("HTTP 503 service unavailable")
    >>> gw = Gateway({"a": RunnableLambda(down), "b": FakeListChatModel(responses=["fine"])},
    ...              RoundRobinRouter(["a"]) , fallbacks={"a": ["b"]}, retries=1, backoff_s=0.001)
    >>> r = gw.invoke("hello")
    >>> r.text, r.model, [a.error is not None for a in r.attempts]
    ('fine', 'b', [True, True, False])
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

from tenacity import AsyncRetrying, RetryError, retry_if_exception, stop_after_attempt, wait_random_exponential

from graphroute.costs import CostModel, count_tokens
from graphroute.errors import GraphRouteError, StateUnavailableError
from graphroute.prompts import check_prompts
from graphroute.runtime.breaker import CircuitBreaker, SlowStart
from graphroute.runtime.budgets import BudgetManager, Reservation
from graphroute.events import DecisionEvent
from graphroute.runtime.ledger import Ledger
from graphroute.runtime.failures import BudgetExceededError, NoModelAvailableError, ProviderError, classify, no_model, refusal
from graphroute.runtime.loop import run_sync
from graphroute.runtime.telemetry import log_feedback
from graphroute.tracing import decision_attributes, prompt_attribute, span
from graphroute.types import CallAttempt, GatewayResult

T = TypeVar("T")


@dataclass
class Reply:
    """One successful model call: the answer text, token counts, provider time and (for an HTTP
    upstream) the raw response ``payload``."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    provider_ms: float = 0.0
    ttft_ms: float | None = None
    payload: Any = None


class Gateway:
    """Answers requests through a router and a fallback chain (see the module docstring).

    Args:
        models: name -> chat model (or Runnable).
        router: picks the first model (a router, a strategy; ``decide`` may take ``context``).
        fallbacks: model -> ordered alternatives, or one list for all.
        cost_model: prices per model (default: the built-in price list).
        context_windows: model -> context window in tokens; a prompt that does not fit moves on.
        max_output_tokens: the output bound a budget reservation assumes.
        retries: tries per model after the first, for retryable failures (tenacity).
        backoff_s: the exponential backoff's base (with jitter); backoff_max_s: its cap.
        timeout_s: per call.
        breaker: circuit breaker settings (``failures``, ``window_s``, ``cooldown_s``).
        budgets: a ``BudgetManager`` (global, per session and per request dollars).
        cache: a ``SemanticCache``; telemetry: a ``TelemetryHandler``; tracker: a ``LatencyTracker``.
        validate: ``validate(text)`` may raise to mark a malformed answer.
        stream: stream each call, so the tracker learns time to first token as well.
        state: a shared state backend (``graphroute.state``) for breakers across workers.
    """

    def __init__(self, models: dict[str, Any], router: Any, *, fallbacks: dict[str, list[str]] | list[str] | None = None,
                 cost_model: CostModel | None = None, context_windows: dict[str, int] | None = None,
                 max_output_tokens: int = 1024, retries: int = 2, backoff_s: float = 0.2, backoff_max_s: float = 5.0,
                 timeout_s: float = 60.0, breaker: dict[str, float] | None = None, budgets: BudgetManager | None = None,
                 cache: Any = None, telemetry: Any = None, tracker: Any = None,
                 validate: Callable[[str], Any] | None = None, stream: bool = False, state: Any = None) -> None:
        self.models, self.router = dict(models), router
        self.fallbacks = fallbacks or {}
        self.cost_model = cost_model or CostModel.default()
        self.context_windows = context_windows or {}
        self.max_output_tokens, self.retries, self.backoff_s, self.backoff_max_s = max_output_tokens, retries, backoff_s, backoff_max_s
        self.timeout_s, self.budgets, self.cache, self.telemetry, self.tracker = timeout_s, budgets, cache, telemetry, tracker
        self.validate, self.stream = validate, stream
        # breakers in this process, or shared through a state backend (graphroute.state: Redis)
        opts: dict[str, Any] = dict(breaker or {})
        self.breakers = {m: (state.breaker(m, **opts) if state is not None else CircuitBreaker(**opts)) for m in models}
        # in this process: a model that has shown no success since its last trouble gets few calls at a time
        self.gates = {m: SlowStart(first=int((breaker or {}).get("failures", 3))) for m in models}
        self._takes_context = router is not None and "context" in inspect.signature(router.decide).parameters

    # ------------------------------------------------------------------ helpers
    def chain(self, first: str) -> list[str]:
        """``first`` and its fallbacks, in order, among the gateway's models."""
        alts = self.fallbacks.get(first, []) if isinstance(self.fallbacks, dict) else list(self.fallbacks)
        order = [first] + [m for m in alts if m != first]
        return [m for m in dict.fromkeys(order) if m in self.models]

    def _allowed(self, prompt: str, context: dict[str, Any]) -> list[str]:
        if hasattr(self.router, "allowed_models"):  # privacy: holds for fallbacks too
            return self.router.allowed_models(prompt, context)
        return list(self.models)

    def _worst(self, model: str, tokens: int, max_output_tokens: int | None = None) -> float:
        if not self.cost_model.has(model):
            return 0.0
        return float(self.cost_model.cost(model, tokens, max_output_tokens or self.max_output_tokens))

    async def _stream(self, model: str, prompt: str, t0: float) -> tuple[Any, float]:
        """Stream the answer, noting the time to the first token."""
        first, merged = None, None
        async for chunk in self.models[model].astream(prompt):
            if first is None:
                first = (time.perf_counter() - t0) * 1000
            merged = chunk if merged is None else merged + chunk
        return merged, (first if first is not None else (time.perf_counter() - t0) * 1000)

    async def _call(self, model: str, prompt: str) -> Reply:
        t0 = time.perf_counter()
        ttft = None
        if self.stream:
            msg, ttft = await asyncio.wait_for(self._stream(model, prompt, t0), timeout=self.timeout_s)
        else:
            msg = await asyncio.wait_for(self.models[model].ainvoke(prompt), timeout=self.timeout_s)
        provider_ms = (time.perf_counter() - t0) * 1000
        text = msg.content if hasattr(msg, "content") else str(msg)
        if not isinstance(text, str) or not text.strip():
            raise ProviderError("malformed", "empty or non-text answer", model)
        if self.validate is not None:
            try:
                self.validate(text)
            except Exception as exc:
                raise ProviderError("malformed", f"answer failed validation: {exc}", model) from None
        usage = getattr(msg, "usage_metadata", None) or {}
        return Reply(text, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), provider_ms, ttft)

    @staticmethod
    def window_miss(model: str, tokens: int, window: int | None, attempts: list[CallAttempt]) -> ProviderError:
        """Record that ``tokens`` do not fit ``model``'s window; the error to raise for it."""
        attempts.append(CallAttempt(model=model, error="context_length", message=f"{tokens} tokens > window {window}"))
        return ProviderError("context_length", f"{tokens} prompt tokens do not fit {window}", model)

    async def first_answer(self, chain: list[str], answer: Callable[[str], Awaitable[T]],
                           attempts: list[CallAttempt]) -> tuple[str, T]:
        """The one fallback loop: ``answer(model)`` for each model of ``chain`` in turn until one
        returns; a provider failure (recorded by ``attempt``) or a refusal (budget, state outage,
        recorded here) moves on to the next model.

        Args:
            chain: the models to try, in order.
            answer: makes one model's whole try (usually through ``attempt``).
            attempts: every try is appended here.

        Returns:
            The model that answered and what ``answer`` returned.

        Raises:
            BudgetExceededError: every model was refused by a budget.
            NoModelAvailableError: no model answered.
        """
        last: Exception | None = None
        for model in chain:
            try:
                return model, await answer(model)
            except (BudgetExceededError, StateUnavailableError) as exc:  # refused before any call
                attempts.append(CallAttempt(model=model, error=refusal(exc), message=str(exc)))
                last = exc
            except ProviderError as exc:
                last = exc
        raise no_model(attempts, last)

    async def attempt(self, model: str, call: Callable[[], Awaitable[Reply]], *, tokens: int, request: Ledger,
                      attempts: list[CallAttempt], defer: bool = False,
                      reserve_tokens: int | None = None) -> tuple[Reply, Reservation | None]:
        """Call ``model`` through its breaker, the budgets and retries (tenacity): ``call()`` makes one
        try and returns a ``Reply``. The budget reservation is the worst case of ``reserve_tokens``
        (default ``tokens``) in and ``request.max_output_tokens`` (default: the gateway's) out; the
        call is settled to the usage the reply reports (``tokens`` in when it reports none).
        ``defer=True`` (a stream still running): the budget reservation is returned and ``settle``
        must be called with the final reply."""
        breaker = self.breakers[model]
        budgets = self.budgets

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, ProviderError) and exc.retryable and breaker.state == "closed"

        retrying = AsyncRetrying(stop=stop_after_attempt(self.retries + 1), reraise=True, retry=retry_if_exception(retryable),
                                 wait=wait_random_exponential(multiplier=self.backoff_s, max=self.backoff_max_s))
        try:
            async for attempt in retrying:
                with attempt:
                    # the budget first, the breaker last: nothing awaits between admission and the call, so
                    # calls admitted before a failure opens the breaker are as few as can be
                    res = await budgets.areserve(self._worst(model, reserve_tokens or tokens, request.max_output_tokens),
                                                 request.session, request.budget,
                                                 request.spent) if budgets is not None else None
                    gate = self.gates[model]
                    started = await gate.acquire(self.timeout_s)
                    ticket = await breaker.aallow() if started is not None else 0
                    if not ticket:
                        if started is not None:
                            gate.release(started, None)
                        if res is not None and budgets is not None:
                            await budgets.arelease(res)
                        raise ProviderError("other", "circuit open" if started is not None else
                                            "slow start: no call slot freed in time", model)
                    assert started is not None
                    t0 = time.perf_counter()
                    with span(f"chat {model}", {"gen_ai.operation.name": "chat", "gen_ai.request.model": model},
                              kind="client") as sp:
                        try:
                            reply = await call()
                        except BaseException as exc:
                            if res is not None and budgets is not None:
                                await budgets.arelease(res)
                            if isinstance(exc, asyncio.CancelledError) or getattr(exc, "client_fault", False):
                                gate.release(started, None)
                                await breaker.arelease(ticket)
                                raise  # the client went away or sent what no model accepts: not the provider's fault
                            err = classify(exc if not isinstance(exc, asyncio.TimeoutError) else TimeoutError("timed out"),
                                           model)
                            try:  # the breaker hears of the failure before the slot frees for the next call
                                await breaker.arecord_failure(ticket)
                            finally:
                                gate.release(started, False)
                            ms = (time.perf_counter() - t0) * 1000
                            request.add(cost=0.0, provider_ms=ms)
                            if self.tracker is not None:
                                self.tracker.observe(model, latency_ms=ms, error=True)
                            attempts.append(CallAttempt(model=model, error=err.kind, message=str(err), latency_ms=ms))
                            raise err from None
                        gate.release(started, True)
                        await breaker.arecord_success(ticket)
                        if defer:
                            return reply, res
                        cost = await self.settle(model, res, reply, request, attempts, tokens=tokens)
                        sp.set_attributes({"gen_ai.response.model": model, "graphroute.cost_usd": cost,
                                           "gen_ai.usage.input_tokens": attempts[-1].input_tokens,
                                           "gen_ai.usage.output_tokens": attempts[-1].output_tokens})
                        return reply, None
        except RetryError as exc:  # pragma: no cover - reraise=True makes tenacity raise the last error
            raise exc.last_attempt.exception() or exc from None
        raise ProviderError("other", "no attempt made", model)

    async def settle(self, model: str, res: Reservation | None, reply: Reply, request: Ledger,
                     attempts: list[CallAttempt], *, tokens: int = 0) -> float:
        """Replace a call's reservation by its actual cost (from the reply's token counts); returns the cost."""
        tout = reply.output_tokens or (int(count_tokens([reply.text])[0]) if reply.text else 0)
        cost = float(self.cost_model.cost(model, reply.input_tokens or tokens, tout)) if self.cost_model.has(model) else 0.0
        if res is not None and self.budgets is not None:
            await self.budgets.acommit(res, cost)
        request.add(cost=cost, provider_ms=reply.provider_ms)
        if self.tracker is not None:
            self.tracker.observe(model, latency_ms=reply.provider_ms, ttft_ms=reply.ttft_ms, output_tokens=tout or None)
        attempts.append(CallAttempt(model=model, cost=cost, latency_ms=reply.provider_ms,  # the tokens billed
                                    input_tokens=reply.input_tokens or tokens, output_tokens=tout))
        return cost

    # ------------------------------------------------------------------ requests
    async def ainvoke(self, prompt: str, *, session: str | None = None, user: str | None = None, private: bool = False,
                      budget: float | None = None, context: dict[str, Any] | None = None) -> GatewayResult:
        """Answer one request, or raise a typed error (traced: a ``graphroute.gateway`` span with the
        decision's and each try's spans under it)."""
        with span("graphroute.gateway") as sp:
            r = await self._ainvoke(prompt, session=session, user=user, private=private, budget=budget, context=context)
            sp.set_attributes({"graphroute.model": r.model, "graphroute.cost_usd": r.cost, "graphroute.cached": r.cached})
            return r

    async def _ainvoke(self, prompt: str, *, session: str | None, user: str | None, private: bool,
                       budget: float | None, context: dict[str, Any] | None) -> GatewayResult:
        t0 = time.perf_counter()
        prompt = check_prompts([prompt])[0]
        ctx = {**(context or {}), "session": session, "user": user, "private": private}
        scope = f"user:{user or session}" if private and (user or session) else ("private" if private else "public")
        with span("graphroute.route", prompt_attribute(prompt)) as ds:
            if self._takes_context:
                decision = self.router.decide([prompt], context=ctx)[0]
            elif hasattr(self.router, "adecide"):  # a learned router: off the loop, batched with concurrent requests
                decision = (await self.router.adecide([prompt]))[0]
            else:
                decision = self.router.decide([prompt])[0]
            ds.set_attributes(decision_attributes(decision))
        allowed = self._allowed(prompt, ctx)
        if decision.model is None or decision.model not in allowed:
            raise NoModelAvailableError(f"no allowed model for this request ({decision.reason})")
        tokens = int(count_tokens([prompt])[0])
        ledger = Ledger(session=session, budget=budget)
        attempts: list[CallAttempt] = []

        async def answer(model: str) -> tuple[str, bool]:
            window = self.context_windows.get(model)
            if window is not None and tokens + self.max_output_tokens > window:
                raise self.window_miss(model, tokens, window, attempts)
            if self.cache is not None:
                hit = await self.cache.aget(prompt, model, scope)
                if hit is not None:
                    return hit, True
            reply, _ = await self.attempt(model, lambda: self._call(model, prompt), tokens=tokens, request=ledger,
                                          attempts=attempts)
            if self.cache is not None:
                await self.cache.aput(prompt, model, reply.text, scope)
            return reply.text, False

        model, (text, cached) = await self.first_answer([m for m in self.chain(decision.model) if m in allowed],
                                                        answer, attempts)
        r = GatewayResult(text=text, model=model, cost=0.0 if cached else ledger.spent,
                          latency_ms=(time.perf_counter() - t0) * 1000, provider_ms=ledger.provider_ms, cached=cached,
                          reason=decision.reason, attempts=attempts, run_id=str(ctx.get("run_id") or uuid.uuid4().hex))
        if self.telemetry is not None:
            # what learning from feedback needs: the prompt, who answered and the chance the router had
            # of choosing it (unknown when a fallback answered: such rows are left out of training data)
            chosen = model == decision.model
            p = getattr(decision, "probability", None)
            self.telemetry.decision(DecisionEvent(run_id=r.run_id, prompt=prompt, model=model, reason=r.reason,
                                                  cost=r.cost, latency_ms=r.latency_ms, cached=cached,
                                                  fallback=not chosen,
                                                  probability=(1.0 if p is None else p) if chosen else None,
                                                  attempts=[(a.model, a.error) for a in attempts]))
        return r

    def feedback(self, run_id: str, score: float) -> None:
        """Record the outcome of request ``run_id`` in the telemetry (see ``graphroute dataset from-logs``)."""
        if self.telemetry is None:
            raise ValueError("feedback needs the gateway's telemetry (Gateway(..., telemetry=TelemetryHandler(sink)))")
        log_feedback(self.telemetry.sink, run_id, score)

    def invoke(self, prompt: str, **kwargs: Any) -> GatewayResult:
        """Sync ``ainvoke``."""
        return run_sync(self.ainvoke(prompt, **kwargs))

    def node(self, *, input_key: str = "question", output_key: str = "answer", error_key: str = "error",
             session_key: str = "session", user_key: str = "user"):
        """An async LangGraph node: answers ``state[input_key]``; a typed failure is written to
        ``state[error_key]`` (kind and message, secrets redacted) instead of raising."""

        async def answer(state: dict) -> dict:
            try:
                r = await self.ainvoke(str(state.get(input_key, "")), session=state.get(session_key), user=state.get(user_key))
            except GraphRouteError as exc:
                return {error_key: {"type": type(exc).__name__, "message": str(exc)}}
            return {output_key: r.text, "gateway": {"model": r.model, "cost": r.cost, "latency_ms": r.latency_ms,
                                                    "provider_ms": r.provider_ms, "cached": r.cached,
                                                    "attempts": [(a.model, a.error) for a in r.attempts]}}

        return answer
