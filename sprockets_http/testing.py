"""Helpers for testing code that uses :class:`~sprockets_http.HTTPClientMixin`.

* :func:`instant_retries` makes the waits between attempts instant and
  records them, so a test of a failing upstream takes milliseconds and can
  assert on the backoff and on ``Retry-After`` handling.
* :func:`serve_loopback` starts a Tornado application on 127.0.0.1 on a free
  port, to stand in for an upstream service.

Neither needs a test framework; both work with pytest, pytest-tornasync and
:mod:`tornado.testing`.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any, Iterator, List, Tuple

from tornado import httpserver, web

from sprockets_http import _clock
from sprockets_http.events import WaitStarted, subscribe, unsubscribe

__all__ = ["advance_clock", "instant_retries", "serve_loopback"]


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
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    server = httpserver.HTTPServer(app, **server_options)
    server.add_sockets([sock])
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"
