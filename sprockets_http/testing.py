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

import asyncio
import contextlib
import socket
import sys
from typing import Any, Iterator, List, Tuple, cast

from tornado import httpserver, web

__all__ = ["instant_retries", "serve_loopback"]


@contextlib.contextmanager
def instant_retries() -> Iterator[List[float]]:
    """Make ``http_fetch``'s waits before a retry instant, while in the block.

    Yields the list of the waits, in seconds, that ``http_fetch`` asked for.
    ``http_fetch`` waits with ``await asyncio.sleep(seconds)``, looked up on
    :mod:`asyncio` at call time; inside the block that function is replaced
    by one that returns at once for sprockets_http's own waits and sleeps as
    usual for everybody else (a slow fake upstream, say). Not thread-safe:
    it patches the :mod:`asyncio` module for the whole process.

    ::

        with instant_retries() as waits:
            response = await client.http_fetch(url)
        assert waits == [3.0, 6.0]
    """
    waits: List[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        # The awaiting frame tells a retry wait from anybody else's sleep.
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller == "sprockets_http.mixin":
            waits.append(delay)
            delay = 0
        return await real_sleep(delay, result)

    # cast: typeshed's asyncio.sleep is an overload whose signature differs
    # across Python versions (3.9 still has the loop parameter).
    asyncio.sleep = cast(Any, sleep)
    try:
        yield waits
    finally:
        asyncio.sleep = real_sleep


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
