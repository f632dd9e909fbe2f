"""The record of one :meth:`HTTPClientMixin.http_fetch` call: every attempt."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from tornado import httpclient

from sprockets_http import content
from sprockets_http._headers import header_value, parse_links
from sprockets_http._log import LOGGER, redact_url
from sprockets_http.events import AttemptEnded

if TYPE_CHECKING:  # pragma: no cover
    from sprockets_http.events import Call

__all__ = ["HTTPResponse"]

_NOT_DECODED = object()


class HTTPResponse:
    """Encapsulate the response(s) for requests made using ``http_fetch()``.

    One object records every attempt of a call: the tornado responses in
    :attr:`history`, the exceptions in :attr:`exceptions`. The properties
    describe the last response received. Nothing here does I/O; the body is
    decoded lazily, once.

    :param simplify_error_response: for a status >= 400, make :attr:`body`
        return the ``message`` value of a decoded dict body instead of the
        whole body
    """

    # __dict__ too: callers and test doubles attach attributes of their own,
    # as they could to 2.6.0's HTTPResponse.
    __slots__ = (
        "__dict__",
        "_decoded",
        "_decoded_from",
        "_exceptions",
        "_finish",
        "_links_logged_for",
        "_outcomes",
        "_responses",
        "_simplify_error_response",
        "_start",
        "_waits",
    )

    def __init__(self, simplify_error_response: bool = True) -> None:
        self._exceptions: List[BaseException] = []
        self._responses: List[httpclient.HTTPResponse] = []
        self._simplify_error_response = simplify_error_response
        self._start = time.monotonic()
        self._finish: Optional[float] = None
        self._decoded: Any = _NOT_DECODED
        self._decoded_from: Optional[httpclient.HTTPResponse] = None
        self._waits: List[float] = []
        self._outcomes: List[Any] = []
        self._links_logged_for: Optional[httpclient.HTTPResponse] = None

    def __len__(self) -> int:
        """The number of attempts: the same as :attr:`attempts`."""
        return self.attempts

    def __repr__(self) -> str:
        return f"<HTTPResponse code={self.code} attempts={self.attempts}>"

    # --- recording (used by http_fetch) ---------------------------------

    def append_response(self, response: httpclient.HTTPResponse) -> None:
        """Record a response received for an attempt."""
        self._responses.append(response)
        self._outcomes.append(response)

    def append_exception(self, error: BaseException) -> None:
        """Record an exception raised by an attempt."""
        self._exceptions.append(error)
        self._outcomes.append(error)

    def record(
        self,
        call: Call,
        number: int,
        outcome: Union[httpclient.HTTPResponse, BaseException],
        duration: float,
    ) -> AttemptEnded:
        """Record attempt *number* of *call*, a response or an exception, and
        return it as the event that describes it."""
        if isinstance(outcome, BaseException):
            self.append_exception(outcome)
            return AttemptEnded(call, number, None, outcome, duration, None)
        self.append_response(outcome)
        return AttemptEnded(call, number, outcome.code, None, duration, outcome)

    def append_wait(self, seconds: float) -> None:
        """Record the wait, in seconds, before the next attempt."""
        self._waits.append(seconds)

    def finish(self, at: Optional[float] = None) -> None:
        """Stop the clock: :attr:`duration` no longer grows.

        :param at: the end, on the clock the start was taken from
            (:func:`time.monotonic` unless ``http_fetch`` set it); now by default
        """
        if self._finish is None:
            self._finish = time.monotonic() if at is None else at

    # --- what callers read -----------------------------------------------

    @property
    def attempts(self) -> int:
        """Return the number of HTTP attempts made: responses plus exceptions."""
        return len(self._responses) + len(self._exceptions)

    @property
    def body(self) -> Any:
        """Returns the HTTP response body, deserialized if possible.

        ``None`` with no response or an empty body. JSON (``application/json``
        or ``+json``, charset honoured) and msgpack (``application/msgpack`` or
        ``+msgpack``; bin values that are valid UTF-8 become str) are decoded;
        any other Content-Type gives the raw bytes. For a status >= 400 with
        ``simplify_error_response``, a decoded dict gives its ``message``
        value when it has one. Decoded once, then cached.

        :raises sprockets_http.BodyDecodeError: (a :exc:`ValueError`) when the
            body is not valid for its declared Content-Type; the bytes stay in
            ``raw.body``
        """
        if not self._responses:
            return None
        last = self._responses[-1]
        if self._decoded_from is not last:
            self._decoded = _NOT_DECODED
            self._decoded_from = last
            raw = last.body
            if raw:
                content_type = header_value(last.headers, "Content-Type")
                try:
                    self._decoded = content.decode_body(raw, content_type)
                except content.BodyDecodeError as error:
                    self._decoded = error
            else:
                self._decoded = None
        if isinstance(self._decoded, content.BodyDecodeError):
            # A new exception each read: re-raising the cached one would grow
            # its traceback (and the frames it keeps alive) on every read.
            failure = self._decoded
            raise content.BodyDecodeError(failure.content_type, failure.cause) from failure.cause
        value = self._decoded
        if self._simplify_error_response and last.code >= 400 and isinstance(value, dict):
            return value.get("message", value)
        return value

    @property
    def code(self) -> int:
        """Returns the HTTP status code of the last response, 599 when none."""
        if not self._responses:
            return 599
        return self._responses[-1].code

    @property
    def duration(self) -> float:
        """Seconds across all attempts and waits (monotonic clock).

        Frozen once the call returns.
        """
        end = self._finish if self._finish is not None else time.monotonic()
        return end - self._start

    @property
    def exceptions(self) -> List[BaseException]:
        """Return the list of exceptions raised when making the request."""
        return self._exceptions

    @property
    def headers(self) -> Optional[Dict[str, str]]:
        """The last response's headers as a dict (repeated headers joined
        with commas), or ``None`` with no response."""
        if not self._responses:
            return None
        return dict(self._responses[-1].headers)

    @property
    def outcomes(self) -> List[Any]:
        """Every attempt's result in the order they happened: a
        :class:`tornado.httpclient.HTTPResponse` or an exception each."""
        return self._outcomes

    @property
    def waits(self) -> List[float]:
        """The seconds waited before each retry, in order: ``waits[0]`` came
        between the first and second attempts."""
        return self._waits

    @property
    def history(self) -> List[httpclient.HTTPResponse]:
        """Return all of the HTTP responses for the request."""
        return self._responses

    @property
    def links(self) -> Optional[List[Dict[str, str]]]:
        """Return the parsed link header if it was set, as a list of dicts.

        Each dict has ``target`` and the link's parameters (``rel``,
        ``title``, ...). ``[]`` when the last response has no Link header,
        ``None`` with no response. A malformed header gives the links that
        could be parsed (possibly ``[]``) and logs a warning, once per
        response; never raises. Each read returns new lists and dicts.
        """
        if not self._responses:
            return None
        last = self._responses[-1]
        value = header_value(last.headers, "Link")
        if not value:
            return []
        parsed = parse_links(value)
        if parsed.dropped and self._links_logged_for is not last:
            self._links_logged_for = last
            LOGGER.warning(
                "Malformed Link header in the response from %s (%d link(s) parsed, "
                "%d skipped): %r",
                redact_url(last.effective_url),
                len(parsed.links),
                len(parsed.dropped),
                value[:200],
            )
        return parsed.links

    @property
    def ok(self) -> bool:
        """Returns True if the response status code was between 200 and 399.

        Returns False if no responses were received or the response status
        code was >= 400.
        """
        return bool(self._responses) and 200 <= self._responses[-1].code < 400

    @property
    def raw(self) -> Optional[httpclient.HTTPResponse]:
        """Return the raw tornado HTTP Response object (the last one), or None."""
        if not self._responses:
            return None
        return self._responses[-1]
