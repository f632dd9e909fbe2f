"""The OpenTelemetry SDK for the tests, with in-memory exporters.

The API lets a process set its tracer and meter providers once, so the first
test that asks installs them for the rest of the session. Between the tests
that use them they are switched off (a sampler that records nothing, and a
propagator that injects nothing), so the other test modules see no trace
headers in their requests whatever the order the tests run in.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest

#: Why the OpenTelemetry tests skip where the SDK is not installed.
SKIP_REASON = (
    "opentelemetry-sdk is not installed (the test extra brings it): "
    "the OpenTelemetry tests are skipped"
)
pytest.importorskip("opentelemetry.sdk", reason=SKIP_REASON)

from opentelemetry import metrics, propagate, trace  # noqa: E402
from opentelemetry.propagators.composite import CompositePropagator  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.sampling import (  # noqa: E402
    ALWAYS_ON,
    Decision,
    Sampler,
    SamplingResult,
)


class Switch(Sampler):
    """Samples everything while on, nothing while off."""

    on = False

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        if self.on:
            return ALWAYS_ON.should_sample(*args, **kwargs)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "Switch"


class Telemetry:
    """What the SDK recorded during one test."""

    def __init__(self) -> None:
        self.sampler = Switch()
        self.exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider(sampler=self.sampler)
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        # Cumulative (the default, on every SDK version): a test reads the
        # difference from the totals at its start.
        self.reader = InMemoryMetricReader()
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[self.reader]))
        assert trace.get_tracer_provider() is tracer_provider, "a tracer provider was set before"
        self.propagator = propagate.get_global_textmap()
        self._points: Optional[List[Dict[str, Any]]] = None
        self._baseline: Dict[Any, Dict[str, Any]] = {}

    def start(self) -> None:
        self.exporter.clear()
        self._baseline = self._totals()  # what other tests measured
        self._points = None
        self.sampler.on = True
        propagate.set_global_textmap(self.propagator)

    def stop(self) -> None:
        self.sampler.on = False
        propagate.set_global_textmap(CompositePropagator([]))
        self.exporter.clear()

    # --- reading what was recorded

    def spans(self, scope: Optional[str] = None) -> List[ReadableSpan]:
        """The finished spans, in the order they ended (of one scope)."""
        found = list(self.exporter.get_finished_spans())
        if scope is not None:
            found = [s for s in found if s.instrumentation_scope.name == scope]
        return found

    def points(self, name: str, scope: Optional[str] = None) -> List[Dict[str, Any]]:
        """The data points of metric *name* measured in this test: each a
        dict with ``attributes`` and ``count``/``sum`` (histogram) or
        ``value`` (counter)."""
        if self._points is None:
            self._points = []
            for key, total in self._totals().items():
                before = self._baseline.get(key, {})
                point = dict(total)
                for field in ("count", "sum", "value"):
                    if point[field] is not None:
                        point[field] -= before.get(field) or 0
                if point["count"] or point["value"]:
                    self._points.append(point)
        return [
            p
            for p in self._points
            if p["name"] == name and (scope is None or p["scope"] == scope)
        ]

    def _totals(self) -> Dict[Any, Dict[str, Any]]:
        totals: Dict[Any, Dict[str, Any]] = {}
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.data.data_points:
                        attributes = dict(point.attributes or {})
                        key = (metric.name, scope_metrics.scope.name,
                               tuple(sorted(attributes.items())))
                        totals[key] = {
                            "name": metric.name,
                            "scope": scope_metrics.scope.name,
                            "unit": metric.unit,
                            "attributes": attributes,
                            "count": getattr(point, "count", None),
                            "sum": getattr(point, "sum", None),
                            "value": getattr(point, "value", None),
                        }
        return totals


_telemetry: Optional[Telemetry] = None


def switched_on() -> Iterator[Telemetry]:
    """The session's SDK, switched on until the generator is closed: a test
    module's ``telemetry`` fixture yields from it."""
    global _telemetry
    if _telemetry is None:
        _telemetry = Telemetry()
    _telemetry.start()
    try:
        yield _telemetry
    finally:
        _telemetry.stop()


def span_id(span: ReadableSpan) -> str:
    return format(span.context.span_id, "016x")


def parent_id(span: ReadableSpan) -> Optional[str]:
    return None if span.parent is None else format(span.parent.span_id, "016x")


def trace_id(span: ReadableSpan) -> str:
    return format(span.context.trace_id, "032x")


def traceparent_parts(value: Optional[str]) -> Sequence[str]:
    """``(version, trace id, parent span id, flags)`` of a traceparent header."""
    assert value is not None, "no traceparent header"
    parts = value.split("-")
    assert len(parts) == 4, value
    return parts
