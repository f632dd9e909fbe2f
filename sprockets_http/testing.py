"""Helpers for testing code that uses :class:`~sprockets_http.HTTPClientMixin`.

* :class:`ScriptedUpstream` is a fake upstream service: a real HTTP server on
  127.0.0.1 whose routes answer with the :class:`Answer` objects a test
  scripts (statuses, headers, JSON or msgpack bodies, delays, connection
  resets and closes), and that records every request it received
  (:class:`RecordedRequest`), with its decoded body and the attempt it
  belongs to.
* :func:`instant_retries` makes the waits between attempts instant and
  records them, so a test of a failing upstream takes milliseconds and can
  assert on the backoff and on ``Retry-After`` handling.
* :class:`ScriptedUpstreamTestCase` gives :mod:`tornado.testing` test cases
  both, and checks at the end of each test that every scripted answer was
  used. For pytest, installing the package installs a plugin with the same
  as fixtures: ``scripted_upstream`` and ``retry_waits`` (see
  :doc:`testing`).
* :func:`serve_loopback` starts any Tornado application on 127.0.0.1 on a
  free port, for an upstream that needs more than a script.

None of them needs a test framework; they work with pytest,
pytest-tornasync, pytest-asyncio, ``asyncio.run`` and :mod:`tornado.testing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import socket
import struct
import urllib.parse
import warnings
import weakref
from typing import (
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Pattern,
    Sequence,
    Set,
    Tuple,
    Union,
)

from tornado import httpserver, httputil, iostream, testing, web
from tornado.ioloop import IOLoop
from tornado.platform.asyncio import BaseAsyncIOLoop

from sprockets_http import _clock, content
from sprockets_http._log import LOGGER, redact_url
from sprockets_http.events import CallStarted, WaitStarted, subscribe, unsubscribe

__all__ = [
    "Answer",
    "RecordedRequest",
    "Route",
    "ScriptedUpstream",
    "ScriptedUpstreamTestCase",
    "advance_clock",
    "instant_retries",
    "serve_loopback",
]


@contextlib.contextmanager
def instant_retries() -> Iterator[List[float]]:
    """Make ``http_fetch``'s waits before a retry instant, while in the block.

    Yields the list of the waits, in seconds, that ``http_fetch`` asked for,
    in order. This is a testing mode that the retry loop itself consults
    (nothing is patched): a wait returns at once, after yielding to the
    event loop once, and moves the clock ``http_fetch`` reads forward by its
    length, so a ``total_timeout`` deadline and ``HTTPResponse.duration``
    behave as if the time had passed. Other code's ``asyncio.sleep`` (a slow
    fake upstream, say) sleeps as usual. The mode is process-wide, like the
    IOLoop's HTTP client: it reaches calls made by handlers under test in
    tasks the test did not create. Blocks may nest.

    ::

        with instant_retries() as waits:
            response = await client.http_fetch(url)
        assert waits == [3.0, 6.0]
    """
    waits: List[float] = []

    def record(event: Any) -> None:
        waits.append(event.seconds)

    record.event_types = (WaitStarted,)  # type: ignore[attr-defined]
    _clock.enter_testing_mode()
    subscribe(record)
    try:
        yield waits
    finally:
        unsubscribe(record)
        _clock.leave_testing_mode()


def advance_clock(seconds: float) -> None:
    """Move the clock ``http_fetch`` reads forward by *seconds*, inside an
    :func:`instant_retries` block: a test of ``total_timeout`` can make the
    deadline pass at a chosen moment (from a fake upstream's handler, say)
    without waiting for it.

    :raises RuntimeError: outside an :func:`instant_retries` block
    """
    _clock.advance(seconds)


def serve_loopback(
    app: web.Application, **server_options: Any
) -> Tuple[httpserver.HTTPServer, str]:
    """Serve *app* on 127.0.0.1, on a free port, from the current IOLoop.

    Returns the server (call ``stop()`` when done) and its base URL,
    ``http://127.0.0.1:PORT``. *server_options* go to
    :class:`tornado.httpserver.HTTPServer` (``ssl_options``, for one; the URL
    still says ``http``).
    """
    sock = _listening_socket()
    server = httpserver.HTTPServer(app, **server_options)
    server.add_sockets([sock])
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


# --- the scripted upstream: answers ------------------------------------------

#: Headers as a mapping, or as ``(name, value)`` pairs to send a header more
#: than once.
HeadersLike = Union[Mapping[str, str], Iterable[Tuple[str, str]]]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_RESPOND, _RESET, _CLOSE = "respond", "reset", "close"


class Answer:
    """What the upstream does with one request.

    An answer is a response, made of:

    :param status: the status code, 200 to 599
    :param body: the body. ``bytes`` and ``str`` are sent as they are (a
        ``str`` in UTF-8); any other value (a dict, a list, a number) is
        encoded by the answer's Content-Type, JSON for ``application/json``
        and ``+json`` types, msgpack for ``application/msgpack`` and
        ``+msgpack`` types, as :meth:`~sprockets_http.HTTPClientMixin.http_fetch`
        encodes request bodies. ``None``: no body.
    :param headers: response headers, a mapping or ``(name, value)`` pairs
        (a name given twice is sent twice). Tornado's ``Server`` and ``Date``
        are sent unless replaced, and ``Content-Length`` is added.
    :param content_type: the Content-Type, a shortcut for that header. When
        neither gives one: ``application/json`` for a value to encode,
        ``text/plain; charset=utf-8`` for a ``str``, none otherwise.
    :param delay: seconds to wait (a real wait, on the event loop, even in
        :func:`instant_retries`) before answering; a client that gives up
        meanwhile (a ``request_timeout``) is not answered
    :param reason: the reason phrase, by default the status's usual one

    or a broken connection, made by :meth:`reset_connection` or
    :meth:`close_connection`.

    Anything that could not be sent raises :exc:`ValueError` here, when the
    test scripts it, not when the upstream answers.
    """

    __slots__ = ("_body_repr", "action", "content", "delay", "headers", "reason", "status")

    def __init__(
        self,
        status: int = 200,
        body: Any = None,
        *,
        headers: Optional[HeadersLike] = None,
        content_type: Optional[str] = None,
        delay: float = 0.0,
        reason: Optional[str] = None,
    ) -> None:
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError(f"an answer's status must be an int from 200 to 599, not {status!r}")
        pairs = _header_pairs(headers)
        if content_type is not None:
            if any(name.lower() == "content-type" for name, _ in pairs):
                raise ValueError("give the Content-Type either as content_type or in headers")
            _check_header("Content-Type", content_type)
            pairs.append(("Content-Type", content_type))
        if reason is not None and (not isinstance(reason, str) or not _is_reason(reason)):
            raise ValueError(f"reason must be text without control characters, not {reason!r}")
        declared = next((value for name, value in pairs if name.lower() == "content-type"), None)
        if body is not None and status in (204, 304):
            raise ValueError(f"a {status} answer has no body")
        encoded = _encode_answer_body(body, declared, pairs)
        #: ``"respond"``, or ``"reset"`` / ``"close"`` for a broken connection.
        self.action = _RESPOND
        #: The status code.
        self.status = status
        #: The headers sent, as ``(name, value)`` pairs.
        self.headers: Tuple[Tuple[str, str], ...] = tuple(pairs)
        #: The body as sent (``b""`` for none).
        self.content = encoded
        #: Seconds waited before answering.
        self.delay = _check_delay(delay)
        #: The reason phrase, or None for the status's usual one.
        self.reason = reason
        self._body_repr = "" if body is None else f", {_shortened(repr(body))}"

    @classmethod
    def reset_connection(cls, *, delay: float = 0.0) -> Answer:
        """Reset the connection (a TCP RST) instead of answering, after
        *delay* seconds: the client sees ``ConnectionResetError`` or its
        curl equivalent, as from a crashing server or a load balancer."""
        return cls._broken(_RESET, delay)

    @classmethod
    def close_connection(cls, *, delay: float = 0.0) -> Answer:
        """Close the connection (a TCP FIN) without answering, after *delay*
        seconds: the client sees the stream closed, or curl's "empty reply
        from server"."""
        return cls._broken(_CLOSE, delay)

    @classmethod
    def _broken(cls, action: str, delay: float) -> Answer:
        answer = cls()
        answer.action = action
        answer.delay = _check_delay(delay)
        return answer

    def __repr__(self) -> str:
        delay = f", delay={self.delay!r}" if self.delay else ""
        if self.action != _RESPOND:
            return f"Answer.{self.action}_connection({delay[2:]})"
        headers = f", headers={list(self.headers)!r}" if self.headers else ""
        reason = f", reason={self.reason!r}" if self.reason is not None else ""
        return f"Answer({self.status}{self._body_repr}{headers}{delay}{reason})"


AnswerLike = Union[Answer, int]


def _shortened(text: str, limit: int = 80) -> str:
    # An answer's repr names it in the check's message: a large body would drown it.
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_answer(answer: AnswerLike) -> Answer:
    if isinstance(answer, Answer):
        return answer
    if isinstance(answer, int) and not isinstance(answer, bool):
        return Answer(answer)
    raise ValueError(f"an answer is an Answer or a status code, not {answer!r}")


def _check_delay(delay: float) -> float:
    if (
        isinstance(delay, bool)
        or not isinstance(delay, (int, float))
        or not math.isfinite(delay)
        or delay < 0
    ):
        raise ValueError(f"delay must be a finite number of seconds >= 0, not {delay!r}")
    return float(delay)


def _is_reason(text: str) -> bool:
    return _FIELD_VALUE.fullmatch(text) is not None and "\t" not in text


def _check_header(name: Any, value: Any) -> None:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ValueError(f"{name!r} is not a header name")
    if not isinstance(value, str) or not _FIELD_VALUE.fullmatch(value):
        raise ValueError(f"the value of header {name} must be text without control characters")


def _header_pairs(headers: Optional[HeadersLike]) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    given: Any = headers
    if isinstance(given, (str, bytes)):
        raise ValueError("headers must be a mapping or (name, value) pairs, not a string")
    items: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers
    pairs = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise ValueError(f"headers must be a mapping or (name, value) pairs, not {item!r}")
        _check_header(*item)
        pairs.append((item[0], item[1]))
    return pairs


def _encode_answer_body(body: Any, declared: Optional[str], pairs: List[Tuple[str, str]]) -> bytes:
    """The body's bytes; adds the default Content-Type to *pairs*."""
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        if declared is None:
            pairs.append(("Content-Type", "text/plain; charset=utf-8"))
        return body.encode("utf-8")
    if declared is None:
        declared = "application/json"
        pairs.append(("Content-Type", declared))
    if content.media_type(declared).format is None:
        raise ValueError(
            f"an answer body that is not bytes or str needs a JSON or msgpack Content-Type "
            f"to be encoded, not {declared!r}"
        )
    try:
        return content.encode_body(body, declared)
    except ValueError as error:
        raise ValueError(f"cannot encode the answer's body as {declared}: {error}") from None


# --- the scripted upstream: routes and records ---------------------------------

QueryLike = Union[str, Mapping[str, Union[str, Sequence[str]]]]


def _query_pairs(query: QueryLike) -> List[Tuple[str, str]]:
    if isinstance(query, str):
        return sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if not isinstance(query, Mapping):
        raise ValueError(f"query must be a string or a mapping, not {query!r}")
    pairs: List[Tuple[str, str]] = []
    for name, values in query.items():
        listed: Any = [values] if isinstance(values, str) else values
        if not isinstance(name, str) or not isinstance(listed, (list, tuple)) or not all(
            isinstance(value, str) for value in listed
        ):
            raise ValueError(
                f"query names and values must be str (a list of them for a repeated "
                f"parameter), not {name!r}: {values!r}"
            )
        pairs.extend((name, value) for value in listed)
    return sorted(pairs)


class RecordedRequest:
    """A request the upstream received, in the order it came."""

    __slots__ = ("answer", "attempt", "headers", "method", "path", "query", "raw_body", "route")

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: httputil.HTTPHeaders,
        raw_body: bytes,
        route: Optional[Route],
        answer: Optional[Answer],
    ) -> None:
        #: The method, ``"GET"``.
        self.method = method
        #: The path, as sent (percent-encoded), ``"/users/ada"``.
        self.path = path
        #: The query string, as sent, without the ``?`` (``""`` for none).
        self.query = query
        #: The request headers (case-insensitive; ``get_list`` gives a
        #: repeated header's values).
        self.headers = headers
        #: The body's bytes (``b""`` for none).
        self.raw_body = raw_body
        #: The :class:`Route` that matched, or None.
        self.route = route
        #: The :class:`Answer` given, or None when the request got none (no
        #: route matched, or the route's answers were used up): it was
        #: answered ``404 No Scripted Answer`` and is in
        #: :attr:`ScriptedUpstream.unexpected`.
        self.answer = answer
        #: The attempt of an ``http_fetch`` call this request belongs to: its
        #: ``X-Retry-Attempt`` header, 1 when absent (a first attempt), 0
        #: when the header is not a number.
        self.attempt = _attempt_of(headers.get("X-Retry-Attempt"))

    @property
    def query_arguments(self) -> Dict[str, List[str]]:
        """The query's parameters, each with its values in order
        (``{"page": ["2"]}``); blank values kept."""
        return urllib.parse.parse_qs(self.query, keep_blank_values=True)

    @property
    def body(self) -> Any:
        """The body, decoded by its Content-Type: JSON and msgpack bodies as
        :attr:`HTTPResponse.body <sprockets_http.HTTPResponse.body>` decodes
        them, any other type as the bytes; ``None`` when there is no body.

        :raises ValueError: when the body is not valid for its Content-Type
        """
        if not self.raw_body:
            return None
        content_type = self.headers.get("Content-Type")
        try:
            return content.decode_body(self.raw_body, content_type)
        except content.BodyDecodeError as error:
            raise ValueError(
                f"the request body is not valid {content_type}: {error.cause}"
            ) from None

    def describe(self) -> str:
        """``"GET /users/ada?page=2 (attempt 1)"``, secret query parameters
        redacted."""
        target = self.path + (f"?{self.query}" if self.query else "")
        return f"{self.method} {redact_url(target)} (attempt {self.attempt})"

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.describe()}>"


def _attempt_of(value: Optional[str]) -> int:
    if value is None:
        return 1
    value = value.strip()
    return int(value) if value.isdigit() and value.isascii() else 0


class Route:
    """Requests with one method and path (and, optionally, query), and the
    answers they get in turn. Made by :meth:`ScriptedUpstream.route`."""

    __slots__ = ("_answered", "_answers", "_query", "method", "optional", "path",
                 "repeat_last", "requests")

    def __init__(
        self,
        method: str,
        path: Union[str, Pattern[str]],
        answers: Sequence[AnswerLike],
        query: Optional[QueryLike],
        repeat_last: bool,
        optional: bool,
    ) -> None:
        if not isinstance(method, str) or not _TOKEN.fullmatch(method):
            raise ValueError(f"method must be a method name, not {method!r}")
        if isinstance(path, str):
            if not path.startswith("/"):
                raise ValueError(f"a route's path starts with '/', not {path!r}")
        elif not isinstance(path, re.Pattern):
            raise ValueError(f"path must be a str or a compiled regular expression, not {path!r}")
        #: The method, upper-case.
        self.method = method.upper()
        #: The path: a str matches that path exactly, a compiled regular
        #: expression the paths it matches whole (``fullmatch``).
        self.path = path
        self._query = None if query is None else _query_pairs(query)
        #: After the last answer: False (the default) answers any further
        #: request ``404 No Scripted Answer`` and records it as unexpected;
        #: True gives the last answer again.
        self.repeat_last = bool(repeat_last)
        #: True: the teardown check does not require this route's answers
        #: to be used.
        self.optional = bool(optional)
        #: The requests that matched this route, answered or not.
        self.requests: List[RecordedRequest] = []
        self._answers: List[Answer] = []
        self._answered = 0
        self.add(*answers)

    def add(self, *answers: AnswerLike) -> Route:
        """Append *answers* (an :class:`Answer`, or a status code for
        ``Answer(status)``) to the route's script; returns the route."""
        self._answers.extend(_as_answer(answer) for answer in answers)
        return self

    @property
    def answers(self) -> Tuple[Answer, ...]:
        """The route's scripted answers, in order."""
        return tuple(self._answers)

    @property
    def unused(self) -> Tuple[Answer, ...]:
        """The answers no request got yet (with :attr:`repeat_last`, the last
        one counts as used once it was given)."""
        return tuple(self._answers[self._answered:])

    def matches(self, method: str, path: str, query: str) -> bool:
        """Whether a request with *method*, *path* and *query* (a query
        string) is for this route."""
        if method.upper() != self.method:
            return False
        if isinstance(self.path, str):
            if path != self.path:
                return False
        elif self.path.fullmatch(path) is None:
            return False
        return self._query is None or self._query == _query_pairs(query)

    def _has_answer(self) -> bool:
        return self._answered < len(self._answers) or (self.repeat_last and bool(self._answers))

    def _next_answer(self) -> Optional[Answer]:
        if self._answered < len(self._answers):
            self._answered += 1
            return self._answers[self._answered - 1]
        if self.repeat_last and self._answers:
            return self._answers[-1]
        return None

    def describe(self) -> str:
        """``"GET /users/ada"`` (with the query when the route names one)."""
        path = self.path if isinstance(self.path, str) else f"re:{self.path.pattern}"
        query = "" if self._query is None else "?" + urllib.parse.urlencode(self._query)
        return f"{self.method} {redact_url(path + query)}"

    def __repr__(self) -> str:
        return f"<Route {self.describe()}: {len(self._answers)} answers>"


# --- the scripted upstream: the server -------------------------------------------

_NO_ANSWER_REASON = "No Scripted Answer"


class ScriptedUpstream:
    """A fake upstream service: a real HTTP server on 127.0.0.1 that answers
    each request as the test scripted it, and records what it received.

    ::

        upstream = ScriptedUpstream()
        upstream.route("GET", "/users/ada", 503, 503, Answer(200, {"id": "ada"}))
        with upstream:
            response = await client.http_fetch(f"{upstream.url}/users/ada")
        assert [r.attempt for r in upstream.requests] == [1, 2, 3]
        upstream.check()

    A request gets the next answer of the first route that matches it and
    has one left; a route's answers are used once each, in order (unless the
    route repeats its last). A request that no route answers gets
    ``404 No Scripted Answer`` (not retried by ``http_fetch``), is logged at
    WARNING, and makes :meth:`check` fail.

    The server runs on an event loop of the test's thread, the one the test
    runs on: it starts serving from the running loop when made inside one;
    else from the loop given to :meth:`start`, or the loop of the first
    ``http_fetch`` call made while it is open (it follows the test to a new
    loop when the old one has stopped, as with two ``asyncio.run``). Its
    port is taken and its :attr:`url` known from the start, so an
    application under test can be configured with it beforehand. Each
    connection carries one request (``Connection: close``): a scripted reset
    or close never hits a connection a client is reusing, which libcurl
    would silently retry.

    :param allow_unused: :meth:`check` accepts scripted answers that no
        request got (also an attribute, to change in a test)
    :param allow_unexpected: :meth:`check` accepts requests that no scripted
        answer was left for (also an attribute)
    """

    def __init__(self, *, allow_unused: bool = False, allow_unexpected: bool = False) -> None:
        #: :meth:`check` accepts answers that were not used.
        self.allow_unused = allow_unused
        #: :meth:`check` accepts requests that got no scripted answer.
        self.allow_unexpected = allow_unexpected
        #: Every request received, in order.
        self.requests: List[RecordedRequest] = []
        #: The requests that got no scripted answer.
        self.unexpected: List[RecordedRequest] = []
        self._routes: List[Route] = []
        self._listener = _listening_socket()
        #: The base URL, ``http://127.0.0.1:PORT`` (no trailing slash).
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        application = web.Application(
            [(r".*", _ScriptedHandler, {"upstream": self})], log_function=_no_access_log
        )
        self._server = httpserver.HTTPServer(application, no_keep_alive=True)
        self._streams: weakref.WeakSet[iostream.IOStream] = weakref.WeakSet()
        self._busy: Set[_ScriptedHandler] = set()
        self._io_loop: Optional[BaseAsyncIOLoop] = None
        self._stopped = False
        self._follower = _LoopFollower(self)
        subscribe(self._follower)
        if _running_loop() is not None:
            self.start()

    # -- scripting and checking --

    def route(
        self,
        method: str,
        path: Union[str, Pattern[str]],
        *answers: AnswerLike,
        query: Optional[QueryLike] = None,
        repeat_last: bool = False,
        optional: bool = False,
    ) -> Route:
        """Script the answers to *method* requests for *path*.

        :param method: the request method, any case
        :param path: a str, matched exactly (percent-encoded as sent), or a
            compiled regular expression matched against the whole path
        :param answers: the answers, in order: :class:`Answer` objects, or
            status codes for ``Answer(status)``; more with :meth:`Route.add`
        :param query: the query the request must have, as a string
            (``"page=2&sort=id"``) or a mapping (``{"page": "2"}``, a list
            for a repeated parameter); compared ignoring the parameters'
            order. None (the default): any query.
        :param repeat_last: after the last answer, give it again; by default
            a request past the last answer gets ``404 No Scripted Answer``
            and makes :meth:`check` fail
        :param optional: :meth:`check` does not require the route's answers
            to be used
        :raises ValueError: for a method that is not a token, a path that
            does not start with ``/``, or an answer that is not an
            :class:`Answer` or a status code
        """
        route = Route(method, path, answers, query, repeat_last, optional)
        self._routes.append(route)
        return route

    @property
    def routes(self) -> Tuple[Route, ...]:
        """The routes, in the order they were scripted."""
        return tuple(self._routes)

    def unused(self) -> List[Tuple[Route, Answer]]:
        """The answers of routes that are not :attr:`~Route.optional` that
        no request got, with their routes."""
        return [
            (route, answer)
            for route in self._routes
            if not route.optional
            for answer in route.unused
        ]

    def check(self) -> None:
        """Check that every scripted answer was used (unless
        :attr:`allow_unused`) and that every request got one (unless
        :attr:`allow_unexpected`).

        :raises AssertionError: naming each unused answer and each request
            that got none
        """
        problems = []
        if not self.allow_unexpected:
            for request in self.unexpected:
                why = (
                    f"the answers of {request.route.describe()} were used up"
                    if request.route is not None
                    else "no route matches it"
                )
                problems.append(f"{request.describe()} got no scripted answer: {why}")
        if not self.allow_unused:
            for route, answer in self.unused():
                problems.append(f"{route.describe()}: {answer!r} was not used")
        if problems:
            raise AssertionError(
                f"the scripted upstream {self.url}:\n" + "\n".join(f"- {p}" for p in problems)
            )

    # -- serving --

    def start(self, io_loop: Optional[IOLoop] = None) -> ScriptedUpstream:
        """Serve from *io_loop*: by default the running loop, else the
        current :class:`~tornado.ioloop.IOLoop` (the ``io_loop`` of
        pytest-tornasync or of :mod:`tornado.testing`), else, when there is
        none, the loop of the first ``http_fetch`` call. Returns the upstream.

        :raises RuntimeError: after :meth:`stop`
        """
        if self._stopped:
            raise RuntimeError("this ScriptedUpstream was stopped")
        loop = io_loop if io_loop is not None else _current_io_loop()
        if loop is None:
            return self
        if not isinstance(loop, BaseAsyncIOLoop):  # pragma: no cover - Tornado 6 has no other
            raise ValueError(f"cannot serve from {loop!r}: not an asyncio IOLoop")
        if loop is self._io_loop:
            return self
        self._detach()
        loop.add_handler(self._listener, self._accept, IOLoop.READ)
        self._io_loop = loop
        return self

    def _follow(self) -> None:
        """Serve from the running loop when the one served from cannot
        serve: not set yet, closed, or stopped (an ``http_fetch`` call is
        about to connect)."""
        running = _running_loop()
        if running is None or self._stopped:
            return
        current = self._io_loop
        if current is not None:
            loop = current.asyncio_loop
            if loop is running or (loop.is_running() and not loop.is_closed()):
                return
        self.start(IOLoop.current())

    def _detach(self) -> None:
        if self._io_loop is not None:
            with contextlib.suppress(Exception):  # a closed loop: nothing to remove
                self._io_loop.remove_handler(self._listener)
            self._io_loop = None

    def _accept(self, fd: Any, events: int) -> None:
        for _ in range(128):
            try:
                connection, address = self._listener.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            stream = iostream.IOStream(connection)
            self._streams.add(stream)
            self._server.handle_stream(stream, address)

    def stop(self) -> None:
        """Stop serving: close the port and every open connection. A
        request being delayed is not answered. Safe to call twice.

        When the loop served from is still open and idle (a pytest fixture's
        or a test case's teardown), it runs briefly so that the requests in
        progress end.
        """
        if self._stopped:
            return
        self._stopped = True
        unsubscribe(self._follower)
        loop = None if self._io_loop is None else self._io_loop.asyncio_loop
        self._detach()
        self._listener.close()
        for stream in list(self._streams):
            stream.close()
        for handler in list(self._busy):
            handler.abandon()
        if (
            self._busy
            and loop is not None
            and not loop.is_closed()
            and not loop.is_running()
            and _running_loop() is None
        ):
            loop.run_until_complete(self._settle())

    async def _settle(self) -> None:
        for _ in range(100):
            if not self._busy:
                return
            await asyncio.sleep(0.01)

    def __enter__(self) -> ScriptedUpstream:
        """Start serving (see :meth:`start`); :meth:`stop` on exit."""
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- answering (called by the handler) --

    def _answer_for(self, request: httputil.HTTPServerRequest) -> RecordedRequest:
        method = request.method or "GET"
        matching = [r for r in self._routes if r.matches(method, request.path, request.query)]
        route = next((r for r in matching if r._has_answer()), matching[0] if matching else None)
        answer = None if route is None else route._next_answer()
        recorded = RecordedRequest(
            method,
            request.path,
            request.query,
            request.headers.copy(),
            bytes(request.body),
            route,
            answer,
        )
        self.requests.append(recorded)
        if route is not None:
            route.requests.append(recorded)
        if answer is None:
            self.unexpected.append(recorded)
            LOGGER.warning("The scripted upstream %s got %s, which has no scripted answer",
                           self.url, recorded.describe())
        return recorded

    def __repr__(self) -> str:
        return f"<ScriptedUpstream {self.url}: {len(self._routes)} routes>"


def _current_io_loop() -> Optional[IOLoop]:
    if _running_loop() is not None:
        return IOLoop.current()
    with warnings.catch_warnings():
        # Outside a running loop, asking for the current one is deprecated
        # (Python 3.10 to 3.13) but is how tornado.testing and pytest-tornasync
        # make theirs known.
        warnings.simplefilter("ignore", DeprecationWarning)
        return IOLoop.current(instance=False)


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _no_access_log(handler: web.RequestHandler) -> None:
    """The upstream records its requests; Tornado's access log would log a
    scripted 503 at ERROR."""


class _LoopFollower:
    """Moves an upstream to the loop of an ``http_fetch`` call that starts
    (a subscriber to :class:`~sprockets_http.events.CallStarted`)."""

    event_types = (CallStarted,)

    def __init__(self, upstream: ScriptedUpstream) -> None:
        self._upstream = weakref.ref(upstream)

    def __call__(self, event: Any) -> None:
        upstream = self._upstream()
        if upstream is not None:
            upstream._follow()


class _ScriptedHandler(web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, upstream: ScriptedUpstream) -> None:
        self._upstream = upstream
        self._gone = asyncio.Event()

    def set_default_headers(self) -> None:
        self.clear_header("Content-Type")  # only what the answer says

    def compute_etag(self) -> Optional[str]:
        return None  # no ETag, and never a 304 the script did not ask for

    def on_connection_close(self) -> None:
        self._gone.set()

    def abandon(self) -> None:
        self._gone.set()

    async def _serve(self, *args: str) -> None:
        upstream = self._upstream
        upstream._busy.add(self)
        try:
            recorded = upstream._answer_for(self.request)
            answer = recorded.answer
            if answer is None:
                self._no_answer(recorded)
                return
            if answer.delay:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._gone.wait(), answer.delay)
            if self._gone.is_set():
                return  # the client gave up, or the upstream stopped
            if answer.action == _RESPOND:
                self._respond(answer)
            else:
                self._break_connection(answer.action)
        finally:
            upstream._busy.discard(self)

    get = head = post = delete = patch = put = options = _serve

    def _respond(self, answer: Answer) -> None:
        self.set_status(answer.status, answer.reason)
        seen: Set[str] = set()
        for name, value in answer.headers:
            if name.lower() in seen:
                self.add_header(name, value)
            else:
                seen.add(name.lower())
                self.set_header(name, value)
        if answer.content and self.request.method == "HEAD":
            self.set_header("Content-Length", len(answer.content))
        elif answer.content:
            self.write(answer.content)

    def _break_connection(self, action: str) -> None:
        stream: Optional[iostream.IOStream] = getattr(self.request.connection, "stream", None)
        if stream is None:  # pragma: no cover - Tornado's HTTP/1 connection has one
            raise RuntimeError("cannot reach this request's connection")
        if action == _RESET and stream.socket is not None:
            # SO_LINGER with a zero timeout: close() sends a RST, not a FIN.
            stream.socket.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        stream.close()

    def _no_answer(self, recorded: RecordedRequest) -> None:
        self.set_status(404, _NO_ANSWER_REASON)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        why = "no route matches it" if recorded.route is None else (
            f"the answers of {recorded.route.describe()} were used up"
        )
        if self.request.method != "HEAD":
            self.write(f"sprockets_http.testing.ScriptedUpstream: {recorded.describe()} "
                       f"has no scripted answer: {why}\n")


# --- tornado.testing ------------------------------------------------------------


class ScriptedUpstreamTestCase(testing.AsyncTestCase):
    """A :class:`tornado.testing.AsyncTestCase` with a scripted upstream and
    instant retries, for each test:

    * :attr:`upstream`, a :class:`ScriptedUpstream` serving from
      ``self.io_loop``, made before ``super().setUp()`` so that ``get_app()``
      (of :class:`~tornado.testing.AsyncHTTPTestCase`) or ``get_settings()``
      (of rejected's harness) can use its URL;
    * :attr:`retry_waits`, the waits ``http_fetch`` asked for, made instant
      (:func:`instant_retries`);
    * after the test, :meth:`ScriptedUpstream.check`: a scripted answer
      that was not used, or a request that got none, fails the test (set
      ``self.upstream.allow_unused`` or ``allow_unexpected`` in a test to
      accept them).

    Put it first among the bases to combine it with another test case:
    ``class MyTest(ScriptedUpstreamTestCase, AsyncHTTPTestCase)``.
    """

    #: The scripted upstream of the current test.
    upstream: ScriptedUpstream
    #: The waits before retries ``http_fetch`` asked for, in this test.
    retry_waits: List[float]

    def setUp(self) -> None:
        self.upstream = ScriptedUpstream()
        self.addCleanup(self.upstream.stop)
        instant = instant_retries()
        self.retry_waits = instant.__enter__()
        self.addCleanup(instant.__exit__, None, None, None)
        super().setUp()
        self.upstream.start(self.io_loop)

    def tearDown(self) -> None:
        self.upstream.stop()
        super().tearDown()
        self.upstream.check()
