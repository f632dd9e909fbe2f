"""OpenTelemetry in a Tornado application whose handlers use HTTPClientMixin.

The application configures the SDK once, at start-up; the handlers have no
tracing code. ``python examples/opentelemetry_app.py`` serves the application
and a stand-in upstream on 127.0.0.1, makes one request whose upstream call
is answered 503, 503, 200, and prints the spans and the metrics.
"""

import asyncio
from collections import defaultdict

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.tornado import TornadoInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tornado import httpclient, web

from sprockets_http import HTTPClientMixin
from sprockets_http.testing import instant_retries, serve_loopback


def configure_opentelemetry(span_exporter: SpanExporter, metric_reader: MetricReader) -> None:
    """Once, before serving. In production the exporter is an
    ``OTLPSpanExporter()`` and the reader a
    ``PeriodicExportingMetricReader(OTLPMetricExporter())``, from the
    opentelemetry-exporter-otlp package."""
    resource = Resource.create({"service.name": "profile-service"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[metric_reader]))
    # Optional: server spans for the handlers, which the calls' spans go under.
    TornadoInstrumentor().instrument()


class ProfileHandler(HTTPClientMixin, web.RequestHandler):
    async def get(self, user_id: str) -> None:
        response = await self.http_fetch(f"{self.settings['users_api']}/users/{user_id}")
        if not response.ok:
            raise web.HTTPError(502)
        self.write({"profile": response.body, "attempts": response.attempts})


def make_app(users_api: str) -> web.Application:
    return web.Application([(r"/profiles/(\w+)", ProfileHandler)], users_api=users_api)


# --- the demonstration: a stand-in upstream, one request, what was recorded


class FlakyUsersAPI(web.RequestHandler):
    statuses = [503, 503]

    def get(self, user_id: str) -> None:
        if self.statuses:
            self.set_status(self.statuses.pop(0))
            return
        self.write({"id": user_id, "name": "Ada"})


def print_tree(spans) -> None:
    """The application's server span and everything under it: each span with
    its kind, status code and a few attributes, the waits in time order."""
    below = defaultdict(list)
    for span in spans:
        below[span.parent.span_id if span.parent else None].append((span.start_time, span))
        for event in span.events:
            below[span.context.span_id].append((event.timestamp, event))

    def show(item, prefix: str, branch: str, indent: str) -> None:
        attributes = item.attributes
        if not hasattr(item, "kind"):  # an event: a wait before a retry
            print(f"{prefix}{branch}wait {attributes['sprockets_http.wait.seconds']} s "
                  f"({attributes['sprockets_http.wait.source']})")
            return
        status = attributes.get("http.response.status_code", attributes.get("http.status_code"))
        line = f"{prefix}{branch}{item.name}  {item.kind.name}  {status}"
        for name in ("error.type", "http.request.resend_count", "sprockets_http.reason"):
            if name in attributes:
                line += f"  {name}={attributes[name]}"
        print(line)
        children = [child for _, child in sorted(below[item.context.span_id], key=lambda p: p[0])]
        for number, child in enumerate(children):
            last = number == len(children) - 1
            show(child, prefix + indent, "└── " if last else "├── ", "    " if last else "│   ")

    [root] = [span for span in spans if span.name.startswith("GET /profiles")]
    show(root, "", "", "")


async def demonstrate() -> None:
    spans, metric_reader = InMemorySpanExporter(), InMemoryMetricReader()
    configure_opentelemetry(spans, metric_reader)
    users_server, users_api = serve_loopback(
        web.Application([(r"/users/(\w+)", FlakyUsersAPI)])
    )
    app_server, app = serve_loopback(make_app(users_api))
    try:
        with instant_retries():  # the demonstration does not wait 3 + 6 s
            answer = await httpclient.AsyncHTTPClient().fetch(f"{app}/profiles/ada")
    finally:
        app_server.stop()
        users_server.stop()
    print(answer.code, answer.body.decode())
    trace.get_tracer_provider().force_flush()
    print_tree(spans.get_finished_spans())
    for resource_metrics in metric_reader.get_metrics_data().resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            if scope_metrics.scope.name != "sprockets_http":
                continue
            for metric in scope_metrics.metrics:
                for point in sorted(metric.data.data_points, key=lambda p: str(p.attributes)):
                    status = point.attributes.get("http.response.status_code")
                    reason = point.attributes.get("sprockets_http.retry.reason")
                    count = getattr(point, "count", None) or point.value
                    print(f"{metric.name}  {status or reason}  x{count}")


if __name__ == "__main__":
    asyncio.run(demonstrate())
