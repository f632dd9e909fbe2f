"""What happens in an ``http_fetch`` call, as a stream of events.

:meth:`~sprockets_http.HTTPClientMixin.http_fetch` describes every call as it
goes: :class:`CallStarted`; for each attempt :class:`AttemptStarted`,
:class:`AttemptEnded` and the policy's :class:`RetryDecided`; before each
retry :class:`WaitStarted`; and :class:`CallEnded`, always last (also when
the caller cancels the call). A *subscriber* is any callable that takes one
event. The package's own logging is a subscriber, and so are the
OpenTelemetry integration, the command line's live output and the testing
helpers.

Register a subscriber for the whole process with :func:`subscribe` (or for a
block with :func:`subscribed`), or for one class with the
:attr:`~sprockets_http.HTTPClientMixin.HTTP_EVENT_SUBSCRIBERS` class
attribute::

    from sprockets_http import events

    def count_retries(event: events.Event) -> None:
        if isinstance(event, events.RetryDecided) and event.retry:
            RETRIES.labels(event.call.method, event.reason.value).inc()

    count_retries.event_types = (events.RetryDecided,)  # optional: only these
    events.subscribe(count_retries)

Subscribers are called synchronously, in the task of the call, in order:
the built-in ones, then the process's, then the class's. When OpenTelemetry
is on (:mod:`sprockets_http.otel`), its spans are opened before all of them
and closed after, so that every subscriber runs inside the call's span and,
for an attempt's events, the attempt's. A subscriber must
be quick and must not block. One that raises is logged once (at ERROR, with
the traceback) and never breaks the call. A subscriber with an
``event_types`` attribute (a collection of event classes) receives only
those, and costs nothing for the others.

Events never carry a credential: :attr:`Call.url` is redacted, and
:meth:`Call.describe_error` gives an exception's text with the call's
credentials removed (the exception objects themselves are the client's,
unchanged).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Collection,
    Dict,
    FrozenSet,
    Iterator,
    List,
    MutableMapping,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from sprockets_http._log import (
    LOGGER,
    SECRET_QUERY_PARAMETERS,
    describe_outcome,
    redact_url,
    secrets_of,
)
from sprockets_http.retry import Reason, Step

if TYPE_CHECKING:  # pragma: no cover
    from tornado import httpclient

    from sprockets_http.response import HTTPResponse

__all__ = [
    "AttemptEnded",
    "AttemptStarted",
    "Call",
    "CallEnded",
    "CallStarted",
    "Event",
    "Reason",
    "RetryDecided",
    "Subscriber",
    "WaitStarted",
    "subscribe",
    "subscribed",
    "unsubscribe",
]


class Call:
    """One ``http_fetch`` call, as its subscribers see it.

    The same object is in every event of the call, so a subscriber can keep
    per-call state in a dict (or a :class:`weakref.WeakKeyDictionary`) keyed
    by it. Compared and hashed by identity.
    """

    __slots__ = (
        "__weakref__",
        "_auth_password",
        "_headers",
        "_other_secrets",
        "_raw_url",
        "_redacted",
        "_secret_parameters",
        "_secrets",
        "max_attempts",
        "method",
        "owner",
        "started",
    )

    def __init__(
        self,
        method: str,
        url: str,
        max_attempts: int,
        started: float,
        owner: Any,
        headers: Any,
        auth_password: Optional[str],
        secret_parameters: Collection[str] = SECRET_QUERY_PARAMETERS,
        other_secret: Optional[str] = None,
    ) -> None:
        #: The request method (``"GET"``).
        self.method = method
        #: Attempts allowed in all.
        self.max_attempts = max_attempts
        #: When the call started, on the monotonic clock ``http_fetch`` uses.
        self.started = started
        #: The object whose ``http_fetch`` made the call (a handler, a
        #: consumer, ...).
        self.owner = owner
        self._raw_url = url
        self._redacted: Optional[str] = None
        self._headers = headers
        self._auth_password = auth_password
        self._secret_parameters = secret_parameters
        self._other_secrets = (other_secret,)
        self._secrets: Optional[FrozenSet[str]] = None

    def __repr__(self) -> str:
        return f"<Call {self.method} {self.url}>"

    @property
    def url(self) -> str:
        """The URL of the current attempt, credentials redacted (userinfo and
        secret query parameters; see :func:`sprockets_http.redact_url`)."""
        if self._redacted is None:
            self._redacted = redact_url(self._raw_url, self._secret_parameters)
        return self._redacted

    def describe_error(self, error: BaseException) -> str:
        """``"TypeName: text"`` for *error*, with this call's credentials
        (URL password, ``auth_password``, credential headers) removed."""
        return describe_outcome(error, self._secrets_now())

    def _secrets_now(self) -> FrozenSet[str]:
        if self._secrets is None:
            self._secrets = self._secrets_of(self._raw_url, self._headers)
        return self._secrets

    def _secrets_of(self, url: str, headers: Any) -> FrozenSet[str]:
        return secrets_of(
            url,
            headers,
            self._auth_password,
            secret_parameters=self._secret_parameters,
            other_secrets=self._other_secrets,
        )

    def _moving(self) -> None:
        # Called before a retry hook runs: the hook may change a credential,
        # even in the headers' own mapping, and texts must keep scrubbing the
        # old one, so the secrets are read while they are still there.
        self._secrets_now()

    def _moved(self, url: str, headers: Any) -> None:
        # After the retry hook: later events describe the new URL, and the
        # secrets of the old URL and headers and of the new ones are all
        # scrubbed (_moving read the old ones, so _headers is not needed
        # again).
        if url != self._raw_url:
            self._raw_url, self._redacted = url, None
        self._secrets = self._secrets_now() | self._secrets_of(url, headers)


class CallStarted(NamedTuple):
    """A call is starting, before its first attempt."""

    call: Call


class AttemptStarted(NamedTuple):
    """An attempt is about to be sent."""

    call: Call
    #: 1 for the first attempt.
    number: int
    #: The request headers of this attempt, live: the mapping the attempt
    #: sends, which a later attempt may change (copy it to keep it). A
    #: subscriber may add a header (trace context propagation does), never
    #: change or remove one.
    headers: MutableMapping[str, str]


class AttemptEnded(NamedTuple):
    """An attempt got a response (:attr:`status`) or raised (:attr:`error`)."""

    call: Call
    #: 1 for the first attempt.
    number: int
    #: The response's status, or ``None`` when the attempt raised.
    status: Optional[int]
    #: The exception the attempt raised, or ``None``. Describe it with
    #: :meth:`Call.describe_error`, which removes credentials from its text.
    error: Optional[BaseException]
    #: Seconds the attempt took (redirects it followed included).
    duration: float
    #: The tornado response, or ``None`` when the attempt raised.
    response: Optional[httpclient.HTTPResponse]

    @property
    def error_type(self) -> Optional[str]:
        """The exception's class name (``"ConnectionRefusedError"``), or None."""
        return None if self.error is None else type(self.error).__name__

    @property
    def reason_phrase(self) -> str:
        """The response's reason phrase (``"Service Unavailable"``), or ``""``."""
        return "" if self.response is None else (self.response.reason or "")


class RetryDecided(NamedTuple):
    """The policy decided, after an attempt, to retry or to stop, and why."""

    call: Call
    #: The attempt the decision is about.
    attempt: AttemptEnded
    #: True: another attempt follows after :attr:`wait` seconds.
    retry: bool
    #: Why: a :class:`~sprockets_http.retry.Reason`.
    reason: Reason
    #: Seconds to wait before the next attempt when :attr:`retry`; for a
    #: stop for ``DEADLINE`` or ``BUDGET``, the wait that was refused (None
    #: when the deadline passed during a wait that had fit); else None.
    wait: Optional[float]
    #: Where :attr:`wait` came from: ``"retry-after"`` or ``"backoff"``, or
    #: None.
    wait_source: Optional[str]


def _decided(call: Call, attempt: AttemptEnded, step: Step) -> RetryDecided:
    wait = step.wait
    return RetryDecided(
        call,
        attempt,
        step.retry,
        step.reason,
        None if wait is None else wait.seconds,
        None if wait is None else wait.source,
    )


class WaitStarted(NamedTuple):
    """``http_fetch`` starts waiting before the next attempt."""

    call: Call
    #: The number of the attempt that will follow the wait.
    next_attempt: int
    #: Seconds of the wait.
    seconds: float
    #: ``"retry-after"`` or ``"backoff"``.
    source: str
    #: True in the testing mode (:func:`sprockets_http.testing.instant_retries`),
    #: where the wait is recorded but not slept.
    instant: bool


class CallEnded(NamedTuple):
    """A call ended: it returns :attr:`response`, or was cancelled."""

    call: Call
    #: What ``http_fetch`` returns (when cancelled: what it had recorded).
    response: HTTPResponse
    #: Why it ended: the reason of the last decision, or
    #: :attr:`~sprockets_http.retry.Reason.CANCELLED`.
    reason: Reason
    #: Seconds the call took, waits included.
    duration: float


#: Any of the events.
Event = Union[CallStarted, AttemptStarted, AttemptEnded, RetryDecided, WaitStarted, CallEnded]
#: A callable that takes an event; it may have an ``event_types`` attribute.
Subscriber = Callable[[Any], None]

_EVENT_TYPES: Tuple[type, ...] = (
    CallStarted,
    AttemptStarted,
    AttemptEnded,
    RetryDecided,
    WaitStarted,
    CallEnded,
)

_lock = threading.Lock()
_process: Tuple[Subscriber, ...] = ()
_builtin: Tuple[Subscriber, ...] = ()
_version = 0


def subscribe(subscriber: Subscriber) -> None:
    """Send every call's events, in this process, to *subscriber* too.

    Subscribing the same callable twice has no further effect.
    """
    global _process, _version
    if not callable(subscriber):
        raise ValueError(f"a subscriber must be callable, not {subscriber!r}")
    with _lock:
        if subscriber not in _process:
            _process = (*_process, subscriber)
            _version += 1


def unsubscribe(subscriber: Subscriber) -> None:
    """Stop sending events to *subscriber*; no error if it was not subscribed."""
    global _process, _version
    with _lock:
        if subscriber in _process:
            _process = tuple(s for s in _process if s != subscriber)
            _version += 1


@contextlib.contextmanager
def subscribed(subscriber: Subscriber) -> Iterator[Subscriber]:
    """Subscribe *subscriber* for the ``with`` block (yielding it)."""
    subscribe(subscriber)
    try:
        yield subscriber
    finally:
        unsubscribe(subscriber)


def _add_builtin(subscriber: Subscriber) -> None:
    """Register one of the package's own subscribers (logging, tracing)."""
    global _builtin, _version
    with _lock:
        if subscriber not in _builtin:
            _builtin = (*_builtin, subscriber)
            _version += 1


class Dispatch:
    """The subscribers of one class, sorted by the events each wants.

    Built once per distinct set of subscribers and reused by every call, so
    an event nobody wants is never built.
    """

    __slots__ = (
        "attempt_ended",
        "attempt_started",
        "call_ended",
        "call_started",
        "retry_decided",
        "wait_started",
    )

    def __init__(self, subscribers: Sequence[Subscriber]) -> None:
        wanted: Dict[type, List[Subscriber]] = {kind: [] for kind in _EVENT_TYPES}
        for subscriber in subscribers:
            kinds = getattr(subscriber, "event_types", None)
            for kind in _EVENT_TYPES if kinds is None else kinds:
                if kind in wanted:
                    wanted[kind].append(subscriber)
        self.call_started = tuple(wanted[CallStarted])
        self.attempt_started = tuple(wanted[AttemptStarted])
        self.attempt_ended = tuple(wanted[AttemptEnded])
        self.retry_decided = tuple(wanted[RetryDecided])
        self.wait_started = tuple(wanted[WaitStarted])
        self.call_ended = tuple(wanted[CallEnded])


_dispatch_cache: Dict[Tuple[Any, ...], Dispatch] = {}


def dispatch_for(
    class_subscribers: Sequence[Subscriber], builtins: bool = True, otel: bool = False
) -> Dispatch:
    """The :class:`Dispatch` for a class's subscribers (and the built-in and
    process-wide ones).

    With *otel*, and when ``opentelemetry-api`` is installed and the
    application has configured a tracer or meter provider, the subscribers
    of :mod:`sprockets_http.otel` too: they open their spans before every
    other subscriber sees a ``CallStarted`` or ``AttemptStarted``, and close
    them after every other one has seen an ``AttemptEnded`` or ``CallEnded``.
    """
    if otel:
        otel = _otel_configured()
    key = (class_subscribers, builtins, otel, _version)
    try:
        return _dispatch_cache[key]
    except (KeyError, TypeError):  # new, or a list (unhashable)
        pass
    first, last = _otel_subscribers if otel else ((), ())
    found = Dispatch(
        (
            *first,
            *(_builtin if builtins else ()),
            *_process,
            *class_subscribers,
            *last,
        )
    )
    try:
        if len(_dispatch_cache) > 256:  # bounded: subscribers change rarely
            _dispatch_cache.clear()
        _dispatch_cache[key] = found
    except TypeError:
        pass
    return found


def _never() -> bool:
    return False


def _load_otel() -> bool:
    """Import :mod:`sprockets_http.otel` on the first call that asks for it.

    Without ``opentelemetry-api`` nothing is imported, and from then on
    :func:`dispatch_for` pays one call to :func:`_never`.
    """
    global _otel_configured, _otel_subscribers
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        _otel_configured = _never
        return False
    try:
        from sprockets_http import otel
    except Exception:  # noqa: BLE001 - an API too old or broken: calls go on
        LOGGER.warning(
            "opentelemetry-api is installed, but sprockets_http.otel cannot be "
            "imported; calls are not traced",
            exc_info=True,
        )
        _otel_configured = _never
        return False
    _otel_subscribers = ((otel.open_spans,), (otel.close_spans,))
    _otel_configured = otel.configured
    return otel.configured()


_otel_configured: Callable[[], bool] = _load_otel
_otel_subscribers: Tuple[Tuple[Subscriber, ...], Tuple[Subscriber, ...]] = ((), ())


_failed: Set[Any] = set()
_failed_lock = threading.Lock()


def emit(subscribers: Tuple[Subscriber, ...], event: Any) -> None:
    """Send *event* to each subscriber; one that raises is logged once."""
    for subscriber in subscribers:
        try:
            subscriber(event)
        except Exception:  # noqa: BLE001 - a subscriber never breaks a call
            _report_failure(subscriber, event)


def _report_failure(subscriber: Subscriber, event: Any) -> None:
    try:
        key: Any = subscriber
        hash(key)
    except TypeError:
        key = id(subscriber)
    with _failed_lock:
        if key in _failed:
            return
        _failed.add(key)
    LOGGER.log(
        logging.ERROR,
        "Event subscriber %r raised on %s; it is kept, and its further errors are not logged",
        subscriber,
        type(event).__name__,
        exc_info=True,
    )
