"""OpenTelemetry with ``opentelemetry-instrumentation-tornado`` active.

A handler using the mixin calls an upstream that answers 503, 503, 200. The
instrumentation makes the server spans (the handler's and the upstream's) and
a client span for the test's own ``AsyncHTTPClient.fetch``; sprockets_http
makes the call span and the attempt spans, and the instrumentation makes no
client span of its own for them: one span per request, never two.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

pytest.importorskip(
    "opentelemetry.sdk",
    reason="opentelemetry-sdk is not installed (the test extra brings it): "
    "the OpenTelemetry tests are skipped",
)

from otelsupport import (  # noqa: E402
    parent_id,
    span_id,
    switched_on,
    traceparent_parts,
)

pytest.importorskip(
    "opentelemetry.instrumentation.tornado",
    reason="opentelemetry-instrumentation-tornado is not installed (the test extra "
    "brings it on Python 3.10+): the tests with the instrumentation are skipped",
)

from opentelemetry.instrumentation.tornado import TornadoInstrumentor  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402
from tornado import httpclient, web  # noqa: E402

from sprockets_http import HTTPClientMixin  # noqa: E402

SCOPE = "sprockets_http"
INSTRUMENTATION = "opentelemetry.instrumentation.tornado"


@pytest.fixture
def telemetry():
    yield from switched_on()


@pytest.fixture
def instrumented(telemetry):
    instrumentor = TornadoInstrumentor()
    instrumentor.instrument()
    try:
        yield telemetry
    finally:
        instrumentor.uninstrument()


class Upstream(web.RequestHandler):
    def initialize(self, state: Dict[str, Any]) -> None:
        self.state = state

    def get(self, path: str) -> None:
        self.state["headers"].append(dict(self.request.headers))
        if path == "moved":
            self.redirect("/here")
            return
        if self.state["statuses"]:
            self.set_status(self.state["statuses"].pop(0))
            return
        self.write({"ok": True})


class Front(HTTPClientMixin, web.RequestHandler):
    def initialize(self, upstream: str) -> None:
        self.upstream = upstream

    async def get(self, path: str) -> None:
        response = await self.http_fetch(
            f"{self.upstream}/{path}", follow_redirects=path == "moved"
        )
        self.set_status(200 if response.ok else 502)
        self.write({"attempts": response.attempts})


class QuietFront(Front):
    OPENTELEMETRY = False


@pytest.fixture
def services(serve):
    state: Dict[str, Any] = {"statuses": [], "headers": []}
    upstream = serve([(r"/(\w*)", Upstream, {"state": state})])
    front = serve([
        (r"/front/(\w*)", Front, {"upstream": upstream}),
        (r"/quiet/(\w*)", QuietFront, {"upstream": upstream}),
    ])
    return front, upstream, state


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_503_503_200_with_the_instrumentation(
    client_kind, instrumented, services, sleeps
):
    front, upstream, state = services
    state["statuses"] = [503, 503]

    answer = await httpclient.AsyncHTTPClient().fetch(f"{front}/front/")

    assert answer.code == 200
    spans = instrumented.spans()
    ours = [s for s in spans if s.instrumentation_scope.name == SCOPE]
    theirs = [s for s in spans if s.instrumentation_scope.name == INSTRUMENTATION]
    assert len(ours) + len(theirs) == len(spans)

    [call] = [s for s in ours if s.kind is SpanKind.INTERNAL]
    attempts = [s for s in ours if s.kind is SpanKind.CLIENT]
    assert len(attempts) == 3
    # The instrumentation's client spans: the test's own fetch only.
    [test_fetch] = [s for s in theirs if s.kind is SpanKind.CLIENT]
    assert parent_id(test_fetch) is None
    servers = [s for s in theirs if s.kind is SpanKind.SERVER]
    [front_server] = [s for s in servers if parent_id(s) == span_id(test_fetch)]
    upstream_servers = [s for s in servers if s is not front_server]
    assert len(upstream_servers) == 3 and len(spans) == 1 + 1 + 1 + 3 + 3

    # handler's server span -> call span -> attempt spans -> upstream's server spans
    assert parent_id(call) == span_id(front_server)
    assert [parent_id(a) for a in attempts] == [span_id(call)] * 3
    assert [parent_id(s) for s in upstream_servers] == [span_id(a) for a in attempts]
    assert [dict(a.attributes).get("http.request.resend_count") for a in attempts] == [
        None, 1, 2
    ]
    assert [traceparent_parts(h.get("Traceparent"))[2] for h in state["headers"]] == [
        span_id(a) for a in attempts
    ]

    # Metrics: ours for the attempts; the instrumentation's client duration
    # only for the test's own fetch, none for the upstream.
    ours_duration = instrumented.points("http.client.request.duration", SCOPE)
    assert sum(p["count"] for p in ours_duration) == 3
    theirs_client = [
        p for p in instrumented.points("http.client.duration", INSTRUMENTATION)
        + instrumented.points("http.client.request.duration", INSTRUMENTATION)
    ]
    assert sum(p["count"] for p in theirs_client) == 1
    assert all(f":{port_of(front)}/front/" in str(p["attributes"]) for p in theirs_client)


async def test_a_redirect_is_inside_the_attempt_span(instrumented, services, sleeps):
    front, upstream, state = services

    answer = await httpclient.AsyncHTTPClient().fetch(f"{front}/front/moved")

    assert answer.code == 200
    spans = instrumented.spans()
    [attempt] = [s for s in spans if s.kind is SpanKind.CLIENT
                 and s.instrumentation_scope.name == SCOPE]
    # Both hops were sent with the attempt's trace context, and neither got
    # a client span from the instrumentation.
    assert [traceparent_parts(h.get("Traceparent"))[2] for h in state["headers"]] == [
        span_id(attempt)
    ] * 2
    clients = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert len(clients) == 2  # the attempt and the test's own fetch


async def test_turned_off_the_instrumentation_traces_each_fetch(
    instrumented, services, sleeps
):
    front, upstream, state = services
    state["statuses"] = [503]

    answer = await httpclient.AsyncHTTPClient().fetch(f"{front}/quiet/")

    assert answer.code == 200
    spans = instrumented.spans()
    assert [s for s in spans if s.instrumentation_scope.name == SCOPE] == []
    clients: List[Any] = [s for s in spans if s.kind is SpanKind.CLIENT]
    # The test's fetch, then one per attempt, made by the instrumentation.
    assert len(clients) == 3
    assert [traceparent_parts(h.get("Traceparent"))[2] for h in state["headers"]] == [
        span_id(s) for s in clients if parent_id(s) is not None
    ]


async def test_an_instrumentation_installed_before_the_import_still_traces_each_fetch(
    instrumented, services, sleeps, monkeypatch
):
    # Instrumented before sprockets_http was imported, the fetch the package
    # took for tornado's own is the instrumentation's wrapper: it is still
    # called, not bypassed.
    from sprockets_http import _transport

    wrapper = httpclient.AsyncHTTPClient.__dict__["fetch"]
    assert hasattr(wrapper, "__wrapped__")
    monkeypatch.setattr(_transport, "_TORNADO_FETCH", wrapper)
    front, upstream, state = services
    state["statuses"] = [503]

    answer = await httpclient.AsyncHTTPClient().fetch(f"{front}/quiet/")

    assert answer.code == 200
    clients = [s for s in instrumented.spans() if s.kind is SpanKind.CLIENT]
    assert len(clients) == 3  # the test's fetch and the two attempts
    assert [traceparent_parts(h.get("Traceparent"))[2] for h in state["headers"]] == [
        span_id(s) for s in clients if parent_id(s) is not None
    ]
