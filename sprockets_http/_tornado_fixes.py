"""A work-around for a defect of Tornado's simple HTTP client (6.0 to 6.6.1).

When the connection is reset after the response headers arrived (while the
body is read, or before it starts), ``_HTTPConnection.on_connection_close``
raises the socket's error instead of failing the fetch with it. Up to Tornado
5 its caller's stack context turned that exception into the fetch's error;
since 6.0 it lands in ``HTTP1Connection``'s logging context, which logs
"Uncaught exception" on ``tornado.application`` (with the traceback) and then:

* below 6.6, raises ``tornado.http1connection._QuietException`` out of
  ``fetch`` (an exception type with no message that ``http_fetch`` did not
  expect);
* in 6.6 and 6.6.1, leaves the fetch pending until its ``request_timeout``,
  which then reports a timeout instead of the reset.

:func:`fail_fetch_on_reset` makes the method do what it does for a connection
closed without an error, with the real error: the fetch fails at once with the
``ConnectionResetError`` (an :class:`OSError`), nothing is logged, and
``http_fetch`` records the attempt and retries it by the usual rule. It is
applied when ``sprockets_http`` is imported; it changes nothing else, and
nothing at all on a Tornado whose client no longer raises there.
"""

from __future__ import annotations

from typing import Any, Callable

from tornado import simple_httpclient

_MARK = "_sprockets_http_fix"


def fail_fetch_on_reset() -> bool:
    """Patch ``simple_httpclient._HTTPConnection.on_connection_close`` (once).

    Returns whether the method is patched: ``False`` when this Tornado has no
    such class or method, and the patch is left out.
    """
    connection_class: Any = getattr(simple_httpclient, "_HTTPConnection", None)
    original: Callable[[Any], None] | None = getattr(connection_class, "on_connection_close", None)
    if original is None or not hasattr(connection_class, "_handle_exception"):
        return False
    if getattr(original, _MARK, False):
        return True

    def on_connection_close(self: Any) -> None:
        stream = getattr(self, "stream", None)
        error = getattr(stream, "error", None)
        if self.final_callback is None or not isinstance(error, BaseException):
            original(self)
            return
        # Tornado's own handling of a closed connection, with the real error:
        # the fetch's future gets it, the pending timeout is cancelled.
        self._handle_exception(type(error), error, error.__traceback__)

    on_connection_close.__doc__ = original.__doc__
    setattr(on_connection_close, _MARK, True)  # noqa: B010 - a function attribute
    setattr(connection_class, "on_connection_close", on_connection_close)  # noqa: B010
    return True
