"""Work-arounds for three defects of Tornado's simple HTTP client.

1. A connection reset after the headers (Tornado 6.0 to 6.6.1).

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

2. A ``Content-Encoding: gzip`` body that is not gzip (Tornado below 6.6).

The ``zlib.error`` raised while decompressing it escapes
``_GzipMessageDelegate.data_received`` into ``HTTP1Connection``'s logging
context, which logs "Uncaught exception" (with the traceback) on
``tornado.application``; the ``_QuietException`` it raises then leaves the
fetch's own task, which asyncio logs as "Exception in callback ...": two
ERROR records for each such response, from a server that only mislabelled a
body (a proxy that decompressed it and kept the header does). The fetch fails
("Connection closed"), as it should. Tornado 6.6 turns the ``zlib.error`` into
an ``HTTPInputError`` that fails the fetch quietly.
:func:`fail_fetch_on_bad_gzip` does that for the simple client on older
releases: the fetch fails at once with ``HTTPInputError("invalid gzip data:
...")`` and nothing is logged. Tornado's servers, which share the class for
``decompress_request``, are left as they are.

3. A response that does not parse (Tornado below 6.6).

When the status line or the header block does not parse, ``HTTP1Connection``
closes the connection but never tells the fetch, which waits for its
``request_timeout`` (20 s by default) and then reports a timeout: a server
that answers garbage costs each attempt its whole timeout. When a chunk of a
chunked body is not followed by CRLF, an ``assert`` fails (and in 6.2, a
chunk size that is not hexadecimal raises ``ValueError``): the fetch fails
("Connection closed"), but the exception then leaves the fetch's task,
which logs "Exception in callback ..." (ERROR, with the traceback). Tornado
6.6 tells the fetch in the first case and raises ``HTTPInputError`` in the
second. :func:`fail_fetch_on_malformed_response` makes older releases
behave alike: the fetch fails at once with ``HTTPStreamClosedError("Connection
closed")``, and nothing is logged.

All three are applied when ``sprockets_http`` is imported.
"""

from __future__ import annotations

import inspect
import zlib
from typing import Any, Callable

from tornado import http1connection, httputil, simple_httpclient

_MARK = "_sprockets_http_fix"
_FAILED = "_sprockets_http_failed"


def _install(owner: Any, name: str, replacement: Any, original: Any) -> bool:
    """Put *replacement* in place of *original* as ``owner.name``, with its
    docstring and the mark that makes applying the fix again a no-op."""
    replacement.__doc__ = original.__doc__
    setattr(replacement, _MARK, True)
    setattr(owner, name, replacement)
    return True


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

    return _install(connection_class, "on_connection_close", on_connection_close, original)


def fail_fetch_on_bad_gzip() -> bool:
    """Patch ``http1connection._GzipMessageDelegate.data_received`` (once).

    Returns whether it is patched: ``False`` when this Tornado has no such
    coroutine method, and the patch is left out. On a Tornado that handles
    the error itself (6.6 and later) the patch never acts.
    """
    gzip_class: Any = getattr(http1connection, "_GzipMessageDelegate", None)
    connection_class: Any = getattr(simple_httpclient, "_HTTPConnection", None)
    original: Any = getattr(gzip_class, "data_received", None)
    if (
        not inspect.iscoroutinefunction(original)
        or connection_class is None
        or not hasattr(connection_class, "_handle_exception")
    ):
        return False
    if getattr(original, _MARK, False):
        return True

    async def data_received(self: Any, chunk: bytes) -> None:
        if getattr(self, _FAILED, False):
            return  # chunks read before the connection closed: dropped
        try:
            await original(self, chunk)
        except zlib.error as error:
            delegate = getattr(self, "_delegate", None)
            if not isinstance(delegate, connection_class):
                raise  # a request to one of Tornado's servers: as before
            # From here on the data is dropped (chunks already in the
            # stream's buffer may still arrive).
            setattr(self, _FAILED, True)
            if delegate.final_callback is None:
                # The fetch is over: Tornado 6.2 reads on past the response
                # that followed a 1xx. Nothing is left to report.
                return
            # Fail the fetch as Tornado 6.6 does: its future gets the error
            # and the connection is closed.
            failure = httputil.HTTPInputError(f"invalid gzip data: {error}")
            failure.__cause__ = error
            delegate._handle_exception(type(failure), failure, error.__traceback__)

    return _install(gzip_class, "data_received", data_received, original)


def fail_fetch_on_malformed_response() -> bool:
    """Patch ``simple_httpclient._HTTPConnection.run`` (once).

    Returns whether it is patched: ``False`` when this Tornado has no such
    coroutine method, and the patch is left out. On a Tornado that handles
    both cases itself (6.6 and later) the patch never acts.
    """
    connection_class: Any = getattr(simple_httpclient, "_HTTPConnection", None)
    original: Any = getattr(connection_class, "run", None)
    if not inspect.iscoroutinefunction(original) or not hasattr(
        connection_class, "on_connection_close"
    ):
        return False
    if getattr(original, _MARK, False):
        return True

    async def run(self: Any) -> None:
        try:
            await original(self)
        except Exception as error:
            # Raised while reading the response (a chunk without its CRLF),
            # once the fetch has failed for it: nothing is left to report.
            # Anything else is raised as before.
            if self.final_callback is not None or not _raised_reading(error):
                raise
            return
        # The request was written and the response read: a fetch that has
        # not ended here never will (its response was dropped unparsed).
        if self.final_callback is not None and getattr(self, "stream", None) is not None:
            self.on_connection_close()

    return _install(connection_class, "run", run, original)


def _raised_reading(error: BaseException) -> bool:
    """Whether *error* was raised by one of ``HTTP1Connection``'s methods
    that read a message (``_read_chunked_body``, ...)."""
    trace = error.__traceback__
    if trace is None:
        return False
    while trace.tb_next is not None:
        trace = trace.tb_next
    code = trace.tb_frame.f_code
    return code.co_name.startswith("_read") and code.co_filename == http1connection.__file__
