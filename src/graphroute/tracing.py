"""OpenTelemetry traces of what the router does: a span per routing decision, per upstream try
(the GenAI semantic conventions: ``gen_ai.request.model``, ``gen_ai.usage.input_tokens`` /
``output_tokens``, ``error.type``), per cascade stage and per graph step, plus the server's span
per request.

graphroute is a library, so it only *emits* spans through the OpenTelemetry API, to whatever
tracer provider the application set (LangSmith, Langfuse, Phoenix and Jaeger all take OTLP).
With no provider set, or without the ``opentelemetry-api`` package, every ``span`` is a no-op that
costs one check. ``configure`` (the ``otel`` extra: the SDK and the OTLP/HTTP exporter) sets a
provider up, as ``graphroute serve`` does when its file has ``serve.otel``; the SDK's standard
environment variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_SERVICE_NAME``) apply. Prompts are not recorded unless ``record_prompts`` is set, and then
redacted like telemetry (``graphroute.redaction``).

Examples:
    >>> from graphroute.tracing import span
    >>> with span("graphroute.route", {"graphroute.model": "gpt4"}) as s:   # no provider: nothing is recorded
    ...     s.set_attribute("graphroute.reason", "threshold")
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Mapping
from typing import Any

from graphroute.extras import require
from graphroute.redaction import redact

__all__ = ["configure", "current_span", "decision_attributes", "enabled", "prompt_attribute", "span", "stage_attributes"]

#: Set by ``configure``: whether spans carry the (redacted) prompt.
_settings: dict[str, Any] = {"record_prompts": False}
_api: Any = None  # opentelemetry.trace once imported; False when the package is absent


class _Off:
    """The span of a process without a tracer provider: takes attributes, records nothing."""

    def set_attribute(self, key: str, value: Any) -> None:
        return None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        return None

    def record_exception(self, exc: BaseException) -> None:
        return None

    def is_recording(self) -> bool:
        return False


_OFF = _Off()


def _trace() -> Any:
    global _api
    if _api is None:
        if importlib.util.find_spec("opentelemetry") is None or importlib.util.find_spec("opentelemetry.trace") is None:
            _api = False
        else:
            from opentelemetry import trace

            _api = trace
    return _api


_tracer_of: list[Any] = [None, None]  # the provider last seen and its graphroute tracer


def _tracer() -> Any:
    """graphroute's tracer from the process's provider, or None when none is set (one lookup per span)."""
    api = _trace()
    if not api:
        return None
    provider = api.get_tracer_provider()
    if isinstance(provider, (api.ProxyTracerProvider, api.NoOpTracerProvider)):
        return None
    if _tracer_of[0] is not provider:
        _tracer_of[:] = [provider, provider.get_tracer("graphroute")]
    return _tracer_of[1]


def enabled() -> bool:
    """Whether an OpenTelemetry tracer provider is set in this process (spans are then recorded)."""
    return _tracer() is not None


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attributes without the empty ones (None or ""): each attribute costs a validation per span."""
    return {k: v for k, v in (attributes or {}).items() if v is not None and v != ""}


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None, *, kind: str = "internal",
         headers: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A span named ``name`` under the current one (a no-op without a tracer provider).

    An exception leaving the block is recorded on the span, which ends with status ERROR and an
    ``error.type`` attribute (the exception's class name).

    Args:
        name: the span's name (``graphroute.route``, ``chat gpt-4o``, ...).
        attributes: set at the start; ``None`` values are left out.
        kind: ``internal``, ``client`` (an upstream call) or ``server`` (a served request).
        headers: a served request's headers: a W3C ``traceparent`` in them makes the span a child
            of the caller's span (the trace continues across the client's call).
    """
    tracer = _tracer()
    if tracer is None:
        yield _OFF
        return
    api = _trace()
    parent = None
    if headers is not None and "traceparent" in headers:
        from opentelemetry import propagate

        parent = propagate.extract(headers)
    with tracer.start_as_current_span(name, context=parent, kind=getattr(api.SpanKind, kind.upper()),
                                      attributes=_clean(attributes), record_exception=False,
                                      set_status_on_exception=False) as s:
        try:
            yield s
        except BaseException as exc:
            s.set_attribute("error.type", getattr(exc, "kind", None) or type(exc).__name__)
            s.record_exception(exc)
            s.set_status(api.Status(api.StatusCode.ERROR, str(type(exc).__name__)))
            raise


def current_span() -> Any:
    """The span now current (a no-op one without a tracer provider)."""
    return _trace().get_current_span() if enabled() else _OFF


def prompt_attribute(prompt: str) -> dict[str, str]:
    """``{"graphroute.prompt": <redacted prompt>}`` when prompts are recorded (``configure``), else ``{}``."""
    return {"graphroute.prompt": redact(prompt)[:2000]} if _settings["record_prompts"] else {}


def decision_attributes(decision: Any, *, virtual_model: str | None = None, arm: str | None = None,
                        top: int = 3) -> dict[str, Any]:
    """A routing decision as span attributes: the chosen model, reason, policy, familiarity, the
    propensity of the choice and the predicted scores of the ``top`` models."""
    scores = sorted((getattr(decision, "scores", None) or {}).items(), key=lambda kv: -kv[1])[:top]
    attrs: dict[str, Any] = {
        "graphroute.virtual_model": virtual_model,
        "graphroute.model": decision.model,
        "graphroute.reason": str(decision.reason)[:500],
        "graphroute.policy": getattr(decision, "policy", None),
        "graphroute.familiarity": getattr(decision, "familiarity", None),
        "graphroute.unfamiliar": getattr(decision, "unfamiliar", None),
        "graphroute.propensity": getattr(decision, "probability", None),
        "graphroute.experiment.arm": arm,
        "graphroute.scores.models": [m for m, _ in scores] or None,
        "graphroute.scores.values": [float(v) for _, v in scores] or None,
    }
    return _clean(attrs)


def stage_attributes(attempt: Any) -> dict[str, Any]:
    """A cascade stage's try as span attributes: its model, confidence, threshold, acceptance,
    dollars and tokens (summed over the stage's calls, the scorer's own included)."""
    calls = getattr(attempt, "calls", None) or []
    return _clean({
        "gen_ai.response.model": attempt.model or None,
        "graphroute.confidence": attempt.score,
        "graphroute.threshold": attempt.threshold,
        "graphroute.accepted": attempt.accepted,
        "graphroute.cost_usd": attempt.cost,
        "gen_ai.usage.input_tokens": sum(c.input_tokens for c in calls) if calls else None,
        "gen_ai.usage.output_tokens": sum(c.output_tokens for c in calls) if calls else None,
        "error.type": attempt.error.split(":", 1)[0] if attempt.error else None,
    })


def configure(*, endpoint: str | None = None, service_name: str | None = None, headers: Mapping[str, str] | None = None,
              record_prompts: bool = False, exporter: Any = None, batch: bool = True) -> Any:
    """Set this process's tracer provider: spans go to an OTLP/HTTP endpoint (the ``otel`` extra).

    Args:
        endpoint: the collector's traces URL (``http://localhost:4318/v1/traces``); default: the
            SDK's ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT``.
        service_name: ``service.name`` of the spans (default ``OTEL_SERVICE_NAME`` or ``graphroute``).
        headers: sent with each export (a LangSmith or Langfuse key); never logged.
        record_prompts: put each routed prompt, redacted, on the decision span.
        exporter: a span exporter to use instead of OTLP (the SDK's ``InMemorySpanExporter`` in tests).
        batch: export in the background (``BatchSpanProcessor``); ``False`` exports each span as it ends.

    Returns:
        The SDK ``TracerProvider`` (call its ``shutdown()`` to flush at exit).

    Raises:
        MissingExtraError: the ``otel`` extra is not installed.
    """
    require("opentelemetry.sdk.trace", "tracing")
    if exporter is None:
        require("opentelemetry.exporter.otlp.proto.http", "tracing to an OTLP endpoint")
    import os

    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint, headers=dict(headers) if headers else None)
    name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "graphroute"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    _set_provider(trace, provider)
    _settings["record_prompts"] = record_prompts
    return provider


def _set_provider(trace: Any, provider: Any) -> None:
    """Replace the global provider (the API sets it once per process; a server rebuilt in the same
    process, as in tests, sets it again)."""
    setter = getattr(trace, "_TRACER_PROVIDER_SET_ONCE", None)
    if setter is not None and getattr(setter, "_done", False):
        setter._done = False
    trace.set_tracer_provider(provider)
