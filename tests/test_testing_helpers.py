"""``sprockets_http.testing``: instant retries and a loopback upstream."""

from __future__ import annotations

import asyncio
import time

from tornado import httpclient, web

from sprockets_http import HTTPClientMixin
from sprockets_http.testing import instant_retries, serve_loopback


class Unavailable(web.RequestHandler):
    def get(self) -> None:
        self.set_status(503)


async def test_serve_loopback_serves_the_app_on_127_0_0_1(io_loop):
    server, url = serve_loopback(web.Application([(r"/", Unavailable)]))
    try:
        assert url.startswith("http://127.0.0.1:")
        response = await httpclient.AsyncHTTPClient().fetch(url + "/", raise_error=False)
        assert response.code == 503
    finally:
        server.stop()


async def test_instant_retries_records_the_waits_and_skips_them(io_loop):
    server, url = serve_loopback(web.Application([(r"/", Unavailable)]))
    try:
        started = time.monotonic()
        with instant_retries() as waits:
            response = await HTTPClientMixin().http_fetch(url + "/")
        assert response.attempts == 3
        assert waits == [3.0, 6.0]
        assert time.monotonic() - started < 9  # not the 9 s of real backoff
    finally:
        server.stop()


async def test_other_sleeps_still_sleep_and_the_patch_is_undone(io_loop):
    real_sleep = asyncio.sleep
    with instant_retries() as waits:
        started = time.monotonic()
        await asyncio.sleep(0.05)  # not a retry wait: a real sleep
        assert time.monotonic() - started >= 0.045
    assert waits == []
    assert asyncio.sleep is real_sleep
