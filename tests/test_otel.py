"""OpenTelemetry: the spans and metrics of ``http_fetch`` calls (sprockets_http.otel).

Against real Tornado upstreams on 127.0.0.1, with both clients, recorded by
the SDK's in-memory exporters (tests/otelsupport.py). The same with
``opentelemetry-instrumentation-tornado`` active is in test_otel_tornado.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
from typing import Any, List

import pytest

pytest.importorskip(
    "opentelemetry.sdk",
    reason="opentelemetry-sdk is not installed (the test extra brings it): "
    "the OpenTelemetry tests are skipped",
)

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from otelsupport import (  # noqa: E402
    parent_id,
    span_id,
    switched_on,
    trace_id,
    traceparent_parts,
)
from tornado import testing, web

from sprockets_http import HTTPClientMixin, _transport
from sprockets_http.events import AttemptEnded, AttemptStarted, CallEnded, CallStarted

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def telemetry():
    yield from switched_on()


SCOPE = "sprockets_http"
CONNECTION_ERRORS = {"simple": "ConnectionRefusedError", "curl": "CurlError"}


class Caller(HTTPClientMixin):
    pass


class Flaky(web.RequestHandler):
    """Answers the queued statuses, then 200; keeps each request's headers."""

    def initialize(self, state: dict) -> None:
        self.state = state

    def get(self) -> None:
        self.state["headers"].append(dict(self.request.headers))
        if self.state["statuses"]:
            status = self.state["statuses"].pop(0)
            self.set_status(status)
            if status == 503 and len(self.state["headers"]) == 1:
                self.set_header("Retry-After", "2")
            return
        self.write({"ok": True})


@pytest.fixture
def flaky(serve):
    state = {"statuses": [], "headers": []}
    return serve([("/", Flaky, {"state": state})]), state


def closed_port() -> int:
    sock, port = testing.bind_unused_port()
    sock.close()
    return port


def attributes(span: Any) -> dict:
    return dict(span.attributes or {})


def by_kind(spans: List[Any], kind: SpanKind) -> List[Any]:
    return [s for s in spans if s.kind is kind]


# --- a call retried twice ---------------------------------------------------------


async def test_503_503_200_spans(client_kind, telemetry, flaky, sleeps):
    url, state = flaky
    state["statuses"] = [503, 503]
    port = int(url.rsplit(":", 1)[1])

    response = await Caller().http_fetch(f"{url}/", retry_timeout=3)

    assert response.code == 200 and response.attempts == 3
    spans = telemetry.spans(SCOPE)
    [call] = by_kind(spans, SpanKind.INTERNAL)
    attempts = by_kind(spans, SpanKind.CLIENT)
    assert len(spans) == 4 and len(attempts) == 3

    # The call span: the whole call, and what it ended with.
    assert call.name == "http_fetch GET"
    assert parent_id(call) is None
    assert attributes(call) == {
        "http.request.method": "GET",
        "url.full": f"{url}/",
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 200,
        "sprockets_http.attempts": 3,
        "sprockets_http.reason": "success",
    }
    assert call.status.status_code is StatusCode.UNSET
    # One event per wait: Retry-After first, then the backoff (3 s doubled).
    assert [(e.name, dict(e.attributes)) for e in call.events] == [
        ("sprockets_http.retry_wait", {
            "sprockets_http.wait.seconds": 2.0,
            "sprockets_http.wait.source": "retry-after",
            "sprockets_http.retry.reason": "retryable_status",
            "http.request.resend_count": 1,
        }),
        ("sprockets_http.retry_wait", {
            "sprockets_http.wait.seconds": 6.0,
            "sprockets_http.wait.source": "backoff",
            "sprockets_http.retry.reason": "retryable_status",
            "http.request.resend_count": 2,
        }),
    ]
    assert sleeps == [2.0, 6.0]

    # The attempts: under the call span, in order, retries marked.
    assert [parent_id(a) for a in attempts] == [span_id(call)] * 3
    assert {trace_id(a) for a in attempts} == {trace_id(call)}
    assert [a.name for a in attempts] == ["GET"] * 3
    common = {
        "http.request.method": "GET",
        "url.full": f"{url}/",
        "server.address": "127.0.0.1",
        "server.port": port,
    }
    assert [attributes(a) for a in attempts] == [
        {**common, "http.response.status_code": 503, "error.type": "503"},
        {**common, "http.request.resend_count": 1, "http.response.status_code": 503,
         "error.type": "503"},
        {**common, "http.request.resend_count": 2, "http.response.status_code": 200},
    ]
    assert [a.status.status_code for a in attempts] == [
        StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET
    ]
    assert all(call.start_time <= a.start_time and a.end_time <= call.end_time
               for a in attempts)

    # Each request carried its own attempt span as the parent.
    sent = [traceparent_parts(h.get("Traceparent")) for h in state["headers"]]
    assert [parts[1] for parts in sent] == [trace_id(call)] * 3
    assert [parts[2] for parts in sent] == [span_id(a) for a in attempts]

    # The metrics: one duration per attempt, one count per retry.
    durations = telemetry.points("http.client.request.duration", SCOPE)
    base = {"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": port}
    assert sorted((p["attributes"].get("http.response.status_code"), p["count"])
                  for p in durations) == [(200, 1), (503, 2)]
    assert {json.dumps(p["attributes"], sort_keys=True) for p in durations} == {
        json.dumps({**base, "http.response.status_code": 503, "error.type": "503"},
                   sort_keys=True),
        json.dumps({**base, "http.response.status_code": 200}, sort_keys=True),
    }
    assert {p["unit"] for p in durations} == {"s"}
    assert all(p["sum"] > 0 for p in durations)
    retries = telemetry.points("sprockets_http.client.retries", SCOPE)
    assert [(p["attributes"], p["value"]) for p in retries] == [
        ({**base, "error.type": "503", "sprockets_http.retry.reason": "retryable_status"}, 2)
    ]


async def test_a_call_under_a_span_is_its_child_and_the_span_stays_current(
    telemetry, flaky, sleeps
):
    url, state = flaky
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("handler") as handler:
        await Caller().http_fetch(f"{url}/")
        assert trace.get_current_span() is handler
    assert _transport.attempt_traced.get() is False
    [call] = [s for s in telemetry.spans(SCOPE) if s.kind is SpanKind.INTERNAL]
    assert parent_id(call) == format(handler.get_span_context().span_id, "016x")
    assert trace_id(call) == format(handler.get_span_context().trace_id, "032x")


async def test_subscribers_run_inside_the_spans(telemetry, flaky, sleeps):
    # The OpenTelemetry subscribers open their spans before the others see
    # CallStarted/AttemptStarted and close them after AttemptEnded/CallEnded,
    # so a subscriber that logs can read the trace and span ids.
    url, state = flaky
    state["statuses"] = [503]
    current = []

    def record(event):
        current.append((type(event).__name__,
                        format(trace.get_current_span().get_span_context().span_id, "016x")))

    record.event_types = (CallStarted, AttemptStarted, AttemptEnded, CallEnded)

    class Recording(HTTPClientMixin):
        HTTP_EVENT_SUBSCRIBERS = (record,)

    await Recording().http_fetch(f"{url}/")
    spans = telemetry.spans(SCOPE)
    [call] = by_kind(spans, SpanKind.INTERNAL)
    first, second = by_kind(spans, SpanKind.CLIENT)
    assert current == [
        ("CallStarted", span_id(call)),
        ("AttemptStarted", span_id(first)),
        ("AttemptEnded", span_id(first)),
        ("AttemptStarted", span_id(second)),
        ("AttemptEnded", span_id(second)),
        ("CallEnded", span_id(call)),
    ]


# --- failures ----------------------------------------------------------------------


async def test_connection_refused(client_kind, telemetry, sleeps):
    port = closed_port()
    # A password in the URL reaches no attribute, status or event.
    url = f"http://ada:s3cr3t@127.0.0.1:{port}/"

    response = await Caller().http_fetch(url, retry_timeout=0.5)

    assert not response.ok and response.attempts == 3
    expected_error = CONNECTION_ERRORS[client_kind]
    spans = telemetry.spans(SCOPE)
    [call] = by_kind(spans, SpanKind.INTERNAL)
    attempts = by_kind(spans, SpanKind.CLIENT)
    assert len(attempts) == 3
    assert attributes(call) == {
        "http.request.method": "GET",
        "url.full": f"http://[redacted]@127.0.0.1:{port}/",
        "server.address": "127.0.0.1",
        "server.port": port,
        "error.type": expected_error,
        "sprockets_http.attempts": 3,
        "sprockets_http.reason": "attempts_exhausted",
    }
    assert call.status.status_code is StatusCode.ERROR
    assert call.status.description.startswith(expected_error)
    assert [attributes(a).get("error.type") for a in attempts] == [expected_error] * 3
    assert [attributes(a).get("http.request.resend_count") for a in attempts] == [None, 1, 2]
    assert all("http.response.status_code" not in attributes(a) for a in attempts)
    assert [a.status.status_code for a in attempts] == [StatusCode.ERROR] * 3
    assert [dict(e.attributes)["sprockets_http.retry.reason"] for e in call.events] == [
        "error", "error"
    ]
    for span in spans:
        text = repr((span.attributes, span.status.description, [e.attributes for e in span.events]))
        assert "s3cr3t" not in text

    durations = telemetry.points("http.client.request.duration", SCOPE)
    assert [(p["attributes"], p["count"]) for p in durations] == [(
        {"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": port,
         "error.type": expected_error},
        3,
    )]
    retries = telemetry.points("sprockets_http.client.retries", SCOPE)
    assert [(p["attributes"]["sprockets_http.retry.reason"], p["attributes"]["error.type"],
             p["value"]) for p in retries] == [("error", expected_error, 2)]


async def test_a_final_4xx_is_an_error_and_not_retried(telemetry, serve, sleeps):
    class Missing(web.RequestHandler):
        def get(self) -> None:
            self.set_status(404)

    url = serve([("/", Missing)])
    response = await Caller().http_fetch(f"{url}/")
    assert response.code == 404
    [call] = by_kind(telemetry.spans(SCOPE), SpanKind.INTERNAL)
    [attempt] = by_kind(telemetry.spans(SCOPE), SpanKind.CLIENT)
    for span in (call, attempt):
        assert attributes(span)["error.type"] == "404"
        assert attributes(span)["http.response.status_code"] == 404
        assert span.status.status_code is StatusCode.ERROR
    assert attributes(call)["sprockets_http.reason"] == "final_status"
    assert telemetry.points("sprockets_http.client.retries", SCOPE) == []


async def test_cancelled_call(client_kind, telemetry, serve):
    arrived, release = asyncio.Event(), asyncio.Event()

    class Hanging(web.RequestHandler):
        async def get(self) -> None:
            arrived.set()
            await release.wait()

    url = serve([("/", Hanging)])
    after: List[Any] = []

    async def call() -> None:
        try:
            await Caller().http_fetch(f"{url}/", request_timeout=60)
        except asyncio.CancelledError:
            # Back in the caller's task: nothing of the call is current.
            after.append((trace.get_current_span(), _transport.attempt_traced.get()))
            raise

    task = asyncio.ensure_future(call())
    await asyncio.wait_for(arrived.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()

    assert after == [(trace.INVALID_SPAN, False)]
    spans = telemetry.spans(SCOPE)
    [call_span] = by_kind(spans, SpanKind.INTERNAL)
    [attempt] = by_kind(spans, SpanKind.CLIENT)
    assert call_span.end_time is not None and attempt.end_time is not None
    assert parent_id(attempt) == span_id(call_span)
    assert attributes(call_span)["sprockets_http.reason"] == "cancelled"
    for span in (call_span, attempt):
        assert attributes(span)["error.type"] == "CancelledError"
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "cancelled by the caller"
    durations = telemetry.points("http.client.request.duration", SCOPE)
    assert [(p["attributes"]["error.type"], p["count"]) for p in durations] == [
        ("CancelledError", 1)
    ]


# --- what the caller controls ---------------------------------------------------------


async def test_the_class_attribute_turns_it_off(client_kind, telemetry, flaky, sleeps):
    url, state = flaky
    state["statuses"] = [503]

    class Quiet(HTTPClientMixin):
        OPENTELEMETRY = False

    response = await Quiet().http_fetch(f"{url}/")

    assert response.attempts == 2
    assert telemetry.spans() == []
    assert telemetry.points("http.client.request.duration") == []
    assert telemetry.points("sprockets_http.client.retries") == []
    assert [h.get("Traceparent") for h in state["headers"]] == [None, None]
    # ... and on for the others.
    await Caller().http_fetch(f"{url}/")
    assert len(telemetry.spans(SCOPE)) == 2


async def test_a_traceparent_from_the_caller_is_kept(telemetry, flaky, sleeps):
    url, state = flaky
    state["statuses"] = [503]
    theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    await Caller().http_fetch(f"{url}/", request_headers={"TraceParent": theirs})

    assert [h.get("Traceparent") for h in state["headers"]] == [theirs, theirs]
    assert len(by_kind(telemetry.spans(SCOPE), SpanKind.CLIENT)) == 2


async def test_a_nonstandard_method(telemetry, serve):
    class Purge(web.RequestHandler):
        SUPPORTED_METHODS = ("PURGE",)

        def purge(self) -> None:
            self.write("gone")

    url = serve([("/", Purge)])
    response = await Caller().http_fetch(
        f"{url}/", method="PURGE", allow_nonstandard_methods=True
    )
    assert response.code == 200
    [call] = by_kind(telemetry.spans(SCOPE), SpanKind.INTERNAL)
    [attempt] = by_kind(telemetry.spans(SCOPE), SpanKind.CLIENT)
    assert (call.name, attempt.name) == ("http_fetch HTTP", "HTTP")
    for span in (call, attempt):
        assert attributes(span)["http.request.method"] == "_OTHER"
        assert attributes(span)["http.request.method_original"] == "PURGE"


# --- without an SDK, and without opentelemetry ----------------------------------------

_UPSTREAM = """
import asyncio, sys
from tornado import web
from sprockets_http import HTTPClientMixin
from sprockets_http.testing import serve_loopback

class Echo(web.RequestHandler):
    def get(self):
        self.write({"traceparent": self.request.headers.get("Traceparent")})

async def call():
    server, url = serve_loopback(web.Application([("/", Echo)]))
    try:
        response = await HTTPClientMixin().http_fetch(url + "/")
    finally:
        server.stop()
    return response.body["traceparent"]
"""


def run_python(code: str) -> List[str]:
    result = subprocess.run(
        [sys.executable, "-c", _UPSTREAM + code],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_without_opentelemetry_nothing_is_imported():
    lines = run_python(
        "sys.modules['opentelemetry'] = None  # as if not installed\n"
        "print(asyncio.run(call()))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.', "
        "'sprockets_http.otel'))))\n"
    )
    assert lines == ["None", "[]"]


def test_without_an_sdk_nothing_is_emitted_until_one_is_configured():
    lines = run_python(
        "from sprockets_http import events, otel\n"
        "print(asyncio.run(call()))\n"
        "print(otel.configured())\n"
        "dispatch = events.dispatch_for((), otel=True)\n"
        "print(dispatch.call_started, dispatch.attempt_started)\n"
        # Configured later: the next call is traced, nothing else to do.
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import "
        "InMemorySpanExporter\n"
        "exporter = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "header = asyncio.run(call())\n"
        "spans = exporter.get_finished_spans()\n"
        "print([s.name for s in spans])\n"
        "print(header.split('-')[2] == format(spans[0].context.span_id, '016x'))\n"
    )
    assert lines == ["None", "False", "() ()", "['GET', 'http_fetch GET']", "True"]


async def test_the_class_attribute_turns_it_off_after_other_calls_were_traced(
    telemetry, flaky, sleeps
):
    # Once a traced call has loaded sprockets_http.otel, a class that turned
    # OpenTelemetry off still gets no span and no metric.
    url, state = flaky
    await Caller().http_fetch(f"{url}/")
    traced = len(telemetry.spans(SCOPE))
    assert traced == 2  # the call span and its one attempt span

    class Quiet(HTTPClientMixin):
        OPENTELEMETRY = False

    state["statuses"] = [503]
    response = await Quiet().http_fetch(f"{url}/")
    assert response.attempts == 2
    assert len(telemetry.spans(SCOPE)) == traced
    assert [h.get("Traceparent") for h in state["headers"][1:]] == [None, None]
