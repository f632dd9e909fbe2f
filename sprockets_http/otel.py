"""OpenTelemetry traces and metrics for every ``http_fetch`` call.

Installed with the ``otel`` extra (``pip install 'sprockets-http-client[otel]'``,
which brings ``opentelemetry-api`` only), this module is used without being
imported or called: every :meth:`~sprockets_http.HTTPClientMixin.http_fetch`
call emits through the global tracer and meter providers. Those do nothing
until the application configures the OpenTelemetry SDK (or runs under
``opentelemetry-instrument``); until then a call costs one check. Set
:attr:`~sprockets_http.HTTPClientMixin.OPENTELEMETRY` to ``False`` on a class
to turn it off there. Without ``opentelemetry-api`` nothing of this is
imported.

Spans
-----

One span for the call (kind ``INTERNAL``: the logical operation, which the
HTTP semantic conventions keep apart from the requests it sends), and under it
one span per attempt (kind ``CLIENT``: one request sent, with the redirects it
followed). Each attempt carries the W3C trace context of *its* span
(``traceparent``, through the global propagator), so the upstream's server
span is the attempt span's child. A ``traceparent`` (or other propagation
header) the caller put in ``request_headers`` is left as it is.

With ``opentelemetry-instrumentation-tornado`` active, its client span for
each ``AsyncHTTPClient.fetch`` is not made for ``http_fetch``'s requests (the
attempt spans above take their place, with the retry attributes it lacks), and
neither is its ``http.client`` duration metric: one span and one measurement
per request, never two. Its server spans are unaffected, and the call span is
the child of the handler's server span.

==============================  =========================================================
Span                            Attributes
==============================  =========================================================
call: ``http_fetch GET``,       ``http.request.method``, ``url.full`` (credentials
``INTERNAL``                    redacted), ``server.address``, ``server.port``;
                                when it ends: ``http.response.status_code`` (last
                                response), ``error.type`` (when the call failed),
                                ``sprockets_http.attempts`` (attempts made),
                                ``sprockets_http.reason`` (why it ended: a
                                :class:`~sprockets_http.retry.Reason` value). An event
                                ``sprockets_http.retry_wait`` for each wait before a
                                retry: ``sprockets_http.wait.seconds``,
                                ``sprockets_http.wait.source`` (``"retry-after"`` or
                                ``"backoff"``), ``sprockets_http.retry.reason``,
                                ``http.request.resend_count`` (of the attempt after it).
attempt: ``GET``, ``CLIENT``    ``http.request.method``, ``url.full``,
                                ``server.address``, ``server.port``,
                                ``http.request.resend_count`` (1 on the second attempt;
                                absent on the first), ``http.response.status_code``,
                                ``error.type``.
==============================  =========================================================

``error.type`` is the status code as a string for a status of 400 or more, or
the exception's class name (``"ConnectionRefusedError"``,
``"HTTPTimeoutError"``, ``"CancelledError"`` for a call its caller
cancelled). A span with an ``error.type`` has the status ``ERROR`` (for an
exception, with its text, credentials removed, as the description); others
leave it unset. A method outside the standard ones is
``http.request.method="_OTHER"`` with ``http.request.method_original``, and
its spans are named ``HTTP``.

Metrics
-------

``http.client.request.duration`` (histogram, seconds): one measurement per
attempt, with ``http.request.method``, ``server.address``, ``server.port``,
and ``http.response.status_code`` and/or ``error.type``.

``sprockets_http.client.retries`` (counter, ``{retry}``): one per retry sent, with
``http.request.method``, ``server.address``, ``server.port``, ``error.type``
(what failed: ``"503"``, ``"ConnectionRefusedError"``) and
``sprockets_http.retry.reason`` (``"retryable_status"`` or ``"error"``). A
counter rather than a ``http.request.resend_count`` attribute on the duration
histogram: it says how often each upstream is retried and why, in one series
per cause, without multiplying the histogram's series by the attempt number.
"""

from __future__ import annotations

import contextvars
import time
import urllib.parse
from typing import Any, Dict, Optional, Tuple

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from sprockets_http import _transport
from sprockets_http._headers import find_header
from sprockets_http._version import __version__
from sprockets_http.events import (
    AttemptEnded,
    AttemptStarted,
    Call,
    CallEnded,
    CallStarted,
    RetryDecided,
    WaitStarted,
)
from sprockets_http.retry import Reason

__all__ = [
    "DURATION_METRIC",
    "RETRIES_METRIC",
    "SCOPE",
    "WAIT_EVENT",
    "configured",
]

#: The instrumentation scope (tracer and meter name) of the spans and metrics.
SCOPE = "sprockets_http"
#: The histogram of attempt durations, in seconds.
DURATION_METRIC = "http.client.request.duration"
#: The counter of retries.
RETRIES_METRIC = "sprockets_http.client.retries"
#: The name of the call span's event for each wait before a retry.
WAIT_EVENT = "sprockets_http.retry_wait"

# The semantic conventions' bucket advice for HTTP durations.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
_KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CANCELLED = "CancelledError"
_CANCELLED_TEXT = "cancelled by the caller"

_tracer = trace.get_tracer(SCOPE, __version__)
_meter = metrics.get_meter(SCOPE, __version__)
try:
    _duration = _meter.create_histogram(
        DURATION_METRIC,
        unit="s",
        description="Duration of HTTP client requests.",
        # Unknown to the annotations of an API before 1.23 (tox -e oldest).
        explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,  # type: ignore[call-arg,unused-ignore]
    )
except TypeError:  # an opentelemetry-api without bucket advice (before 1.23)
    _duration = _meter.create_histogram(
        DURATION_METRIC, unit="s", description="Duration of HTTP client requests."
    )
_retries = _meter.create_counter(
    RETRIES_METRIC,
    unit="{retry}",
    description="Retries made by http_fetch, by upstream and cause.",
)

# The suppression key that HTTP client instrumentations read; set for each
# attempt, so that one which honours it makes no span of its own.
_SUPPRESS_HTTP = getattr(otel_context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None)

# Whether an SDK is configured, read from the API's globals: the public
# get_tracer_provider() and get_meter_provider() read os.environ on every call
# while nothing is configured (microseconds each), which is the very case that
# must cost nothing. Not found in some future API: assume configured (slower,
# still right).
_metrics_internal: Any
try:
    from opentelemetry.metrics import _internal as _metrics_internal
except ImportError:  # pragma: no cover - a future API
    _metrics_internal = None
_configured = False


def configured() -> bool:
    """Whether the application has set a tracer or a meter provider.

    Until then ``http_fetch`` emits nothing to OpenTelemetry and no
    subscriber of this module is called. Once true, it stays true (the API
    allows a provider to be set only once).
    """
    global _configured
    if _configured:
        return True
    if (
        getattr(trace, "_TRACER_PROVIDER", True) is None
        and getattr(_metrics_internal, "_METER_PROVIDER", True) is None
    ):
        return False
    _configured = True
    return True


def _tracing() -> bool:
    """Whether a tracer provider is set (else spans are not recorded, and
    their attributes need not be computed)."""
    return getattr(trace, "_TRACER_PROVIDER", True) is not None


# Providers named by environment variables (OTEL_PYTHON_TRACER_PROVIDER) are
# loaded when the API is first asked for them; ask once, here.
trace.get_tracer_provider()
metrics.get_meter_provider()


class _Attempt:
    """The open span of one attempt."""

    __slots__ = ("context_token", "marker_token", "number", "span", "started")

    def __init__(
        self,
        span: trace.Span,
        number: int,
        context_token: object,
        marker_token: contextvars.Token[bool],
    ) -> None:
        self.span = span
        self.number = number
        self.context_token = context_token
        self.marker_token = marker_token
        self.started = time.monotonic()


class _Call:
    """What this module keeps about a call between its events."""

    __slots__ = (
        "address",
        "attempt",
        "caller_fields",
        "context",
        "last",
        "method",
        "method_original",
        "port",
        "retry_reason",
        "span",
        "token",
        "url",
    )

    def __init__(self, call: Call) -> None:
        self.method, self.method_original = _method(call.method)
        self.url = ""
        self.address: Optional[str] = None
        self.port: Optional[int] = None
        self.moved_to(call.url)
        self.span: trace.Span = trace.INVALID_SPAN
        self.context: Any = None
        self.token: object = None
        self.attempt: Optional[_Attempt] = None
        self.last: Optional[AttemptEnded] = None
        self.retry_reason: Optional[str] = None
        # Propagation headers the caller sent: never overwritten.
        self.caller_fields: Optional[frozenset[str]] = None

    def moved_to(self, url: str) -> None:
        if url != self.url:
            self.url = url
            self.address, self.port = _server(url)

    def attributes(self) -> Dict[str, Any]:
        """The attributes every span and measurement of the call has."""
        found: Dict[str, Any] = {"http.request.method": self.method}
        if self.address is not None:
            found["server.address"] = self.address
        if self.port is not None:
            found["server.port"] = self.port
        return found

    def span_attributes(self) -> Dict[str, Any]:
        found = self.attributes()
        found["url.full"] = self.url
        if self.method_original is not None:
            found["http.request.method_original"] = self.method_original
        return found


def _method(method: str) -> Tuple[str, Optional[str]]:
    if method in _KNOWN_METHODS:
        return method, None
    return "_OTHER", method


def _server(url: str) -> Tuple[Optional[str], Optional[int]]:
    # Without the userinfo: the redacted password ("[redacted]") has the
    # brackets of an IPv6 address.
    scheme, _, rest = url.partition("://")
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{netloc.rpartition('@')[2]}")
        port = parts.port
    except ValueError:  # checked before sending; a retry hook's URL may not be
        return None, None
    return parts.hostname, port or _DEFAULT_PORTS.get(parts.scheme.lower())


def _error_type(status: Optional[int], error: Optional[BaseException]) -> Optional[str]:
    if error is not None:
        return type(error).__name__
    if status is not None and status >= 400:
        return str(status)
    return None


def _span_name(state: _Call) -> str:
    return "HTTP" if state.method == "_OTHER" else state.method


_calls: Dict[Call, _Call] = {}


def _inject(state: _Call, headers: Any, attempt_context: Any) -> None:
    carrier: Dict[str, str] = {}
    propagate.inject(carrier, context=attempt_context)
    if not carrier:
        return
    if state.caller_fields is None:  # the first attempt: what did the caller send?
        fields = {name.lower() for name in propagate.get_global_textmap().fields}
        state.caller_fields = frozenset(
            name.lower() for name in headers if name.lower() in fields
        )
    for name, value in carrier.items():
        if name.lower() in state.caller_fields:
            continue
        headers[find_header(headers, name) or name] = value


def open_spans(event: Any) -> None:
    """Start the call's span, or an attempt's span, and make it current.

    A subscriber to :class:`~sprockets_http.events.CallStarted` and
    :class:`~sprockets_http.events.AttemptStarted`, called before every
    other subscriber, so that theirs run inside the span.
    """
    kind = type(event)
    if kind is AttemptStarted:
        _attempt_started(event)
    elif kind is CallStarted:
        _call_started(event)


open_spans.event_types = (CallStarted, AttemptStarted)  # type: ignore[attr-defined]


def close_spans(event: Any) -> None:
    """Record an attempt, a retry or a wait; end the spans.

    A subscriber to :class:`~sprockets_http.events.AttemptEnded`,
    :class:`~sprockets_http.events.RetryDecided`,
    :class:`~sprockets_http.events.WaitStarted` and
    :class:`~sprockets_http.events.CallEnded`, called after every other
    subscriber, so that theirs still run inside the span.
    """
    kind = type(event)
    if kind is AttemptEnded:
        _attempt_ended(event)
    elif kind is RetryDecided:
        _retry_decided(event)
    elif kind is WaitStarted:
        _wait_started(event)
    elif kind is CallEnded:
        _call_ended(event)


close_spans.event_types = (  # type: ignore[attr-defined]
    AttemptEnded,
    RetryDecided,
    WaitStarted,
    CallEnded,
)


def _call_started(event: CallStarted) -> None:
    state = _Call(event.call)
    # Attributes are given at the start, for samplers, and only when a
    # tracer provider is set (there is nothing to sample otherwise).
    attributes = state.span_attributes() if _tracing() else None
    state.span = _tracer.start_span(
        f"http_fetch {_span_name(state)}", kind=SpanKind.INTERNAL, attributes=attributes
    )
    state.context = trace.set_span_in_context(state.span)
    _calls[event.call] = state
    state.token = otel_context.attach(state.context)


def _attempt_started(event: AttemptStarted) -> None:
    state = _calls.get(event.call)
    if state is None:
        return
    if state.attempt is not None:  # an AttemptEnded went missing
        _end_attempt(state)
    state.moved_to(event.call.url)
    if event.number > 1:
        _count_retry(state)
    span = _tracer.start_span(
        _span_name(state),
        context=state.context,
        kind=SpanKind.CLIENT,
        attributes=_attempt_attributes(state, event.number),
    )
    attempt_context = trace.set_span_in_context(span, state.context)
    if _SUPPRESS_HTTP is not None:
        attempt_context = otel_context.set_value(_SUPPRESS_HTTP, True, attempt_context)
    token = otel_context.attach(attempt_context)
    state.attempt = _Attempt(span, event.number, token, _transport.attempt_traced.set(True))
    _inject(state, event.headers, attempt_context)


def _attempt_attributes(state: _Call, number: int) -> Optional[Dict[str, Any]]:
    if not _tracing():
        return None
    attributes = state.span_attributes()
    if number > 1:
        attributes["http.request.resend_count"] = number - 1
    return attributes


def _attempt_ended(event: AttemptEnded) -> None:
    state = _calls.get(event.call)
    if state is None:
        return
    state.last = event
    error_type = _error_type(event.status, event.error)
    if state.attempt is not None:
        description = None if event.error is None else event.call.describe_error(event.error)
        _end_attempt(state, event.status, error_type, description)
    attributes = state.attributes()
    if event.status is not None:
        attributes["http.response.status_code"] = event.status
    if error_type is not None:
        attributes["error.type"] = error_type
    _duration.record(event.duration, attributes)


def _end_attempt(
    state: _Call,
    status: Optional[int] = None,
    error_type: Optional[str] = None,
    description: Optional[str] = None,
) -> None:
    attempt, state.attempt = state.attempt, None
    assert attempt is not None
    try:
        span = attempt.span
        if span.is_recording():
            ended: Dict[str, Any] = {}
            if status is not None:
                ended["http.response.status_code"] = status
            if error_type is not None:
                ended["error.type"] = error_type
                span.set_status(Status(StatusCode.ERROR, description))
            if ended:
                span.set_attributes(ended)
        span.end()
    finally:
        _transport.attempt_traced.reset(attempt.marker_token)
        otel_context.detach(attempt.context_token)  # type: ignore[arg-type,unused-ignore]


def _retry_decided(event: RetryDecided) -> None:
    if event.retry:
        state = _calls.get(event.call)
        if state is not None:
            state.retry_reason = event.reason.value


def _count_retry(state: _Call) -> None:
    # Counted when the retry is sent, not when it is decided: the deadline
    # can pass during the wait.
    attributes = state.attributes()
    last = state.last
    error_type = None if last is None else _error_type(last.status, last.error)
    if error_type is not None:
        attributes["error.type"] = error_type
    if state.retry_reason is not None:
        attributes["sprockets_http.retry.reason"] = state.retry_reason
    _retries.add(1, attributes)


def _wait_started(event: WaitStarted) -> None:
    state = _calls.get(event.call)
    if state is None or not state.span.is_recording():
        return
    attributes: Dict[str, Any] = {
        "sprockets_http.wait.seconds": float(event.seconds),
        "sprockets_http.wait.source": event.source,
        "http.request.resend_count": event.next_attempt - 1,
    }
    if state.retry_reason is not None:
        attributes["sprockets_http.retry.reason"] = state.retry_reason
    state.span.add_event(WAIT_EVENT, attributes)


def _call_ended(event: CallEnded) -> None:
    state = _calls.pop(event.call, None)
    if state is None:
        return
    try:
        cancelled = event.reason is Reason.CANCELLED
        if state.attempt is not None:  # cancelled during an attempt
            _end_cancelled_attempt(state)
        span = state.span
        if span.is_recording():
            last = state.last
            status = None if last is None else last.status
            error = None if last is None else last.error
            error_type = _CANCELLED if cancelled else _error_type(status, error)
            ended: Dict[str, Any] = {
                "sprockets_http.attempts": event.response.attempts,
                "sprockets_http.reason": event.reason.value,
            }
            if status is not None:
                ended["http.response.status_code"] = status
            if error_type is not None:
                ended["error.type"] = error_type
                if cancelled:
                    description: Optional[str] = _CANCELLED_TEXT
                elif error is not None:
                    description = event.call.describe_error(error)
                else:
                    description = None
                span.set_status(Status(StatusCode.ERROR, description))
            span.set_attributes(ended)
        span.end()
    finally:
        otel_context.detach(state.token)  # type: ignore[arg-type,unused-ignore]


def _end_cancelled_attempt(state: _Call) -> None:
    attempt = state.attempt
    assert attempt is not None
    duration = time.monotonic() - attempt.started
    _end_attempt(state, None, _CANCELLED, _CANCELLED_TEXT)
    attributes = state.attributes()
    attributes["error.type"] = _CANCELLED
    _duration.record(duration, attributes)
