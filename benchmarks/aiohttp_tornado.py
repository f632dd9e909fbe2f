"""The investigation's prototype: an ``AsyncHTTPClient`` whose transport is
aiohttp's connection pool (keep-alive without libcurl, a C HTTP parser).

A measurement only, not a product: enough of ``fetch_impl`` for the plain
GETs and retries the benchmark makes (method, URL, headers, body, timeouts,
``User-Agent``, basic auth, certificate checking, gzip), each answer turned
into a tornado :class:`~tornado.httpclient.HTTPResponse`. Not handled:
streaming and header callbacks, proxies, client certificates, the curl and
simple clients' own options. Configured like any implementation::

    AsyncHTTPClient.configure(AiohttpAsyncHTTPClient, max_clients=100)

after which ``AsyncHTTPClient().fetch`` and ``http_fetch`` go through it.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any, Callable, Dict, Optional, Set

import aiohttp
from tornado import httpclient, httputil


class AiohttpAsyncHTTPClient(httpclient.AsyncHTTPClient):
    """``fetch_impl`` on one :class:`aiohttp.ClientSession` per client
    (per IOLoop), with at most *max_clients* connections open."""

    def initialize(  # type: ignore[override]
        self, max_clients: int = 10, defaults: Optional[Dict[str, Any]] = None
    ) -> None:
        super().initialize(defaults=defaults)
        self.max_clients = max_clients
        self._session: Optional[aiohttp.ClientSession] = None
        self._tasks: Set[asyncio.Task[None]] = set()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # Kept-alive connections stay open as long as with tornado's clients.
                connector=aiohttp.TCPConnector(limit=self.max_clients, keepalive_timeout=600),
                auto_decompress=True,
                # Tornado sends no Accept or User-Agent unless asked to.
                skip_auto_headers=("Accept", "User-Agent"),
            )
        return self._session

    def fetch_impl(
        self,
        request: httpclient.HTTPRequest,
        callback: Callable[[httpclient.HTTPResponse], None],
    ) -> None:
        task = asyncio.ensure_future(self._fetch(request, callback))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(
        self,
        request: httpclient.HTTPRequest,
        callback: Callable[[httpclient.HTTPResponse], None],
    ) -> None:
        start_time, started = time.time(), time.perf_counter()
        headers = dict(request.headers)
        if request.user_agent:
            headers["User-Agent"] = request.user_agent
        if not request.decompress_response:
            headers.setdefault("Accept-Encoding", "identity")
        auth = None
        if request.auth_username is not None:
            auth = aiohttp.BasicAuth(request.auth_username, request.auth_password or "")
        timeout = aiohttp.ClientTimeout(
            total=request.request_timeout or None, sock_connect=request.connect_timeout or None
        )
        try:
            async with self._get_session().request(
                request.method,
                request.url,
                headers=headers,
                data=request.body,
                auth=auth,
                allow_redirects=False,
                timeout=timeout,
                ssl=None if request.validate_cert else False,
            ) as answer:
                body = await answer.read()
                response_headers = httputil.HTTPHeaders()
                for name, value in answer.headers.items():
                    response_headers.add(name, value)
                response = httpclient.HTTPResponse(
                    request,
                    answer.status,
                    reason=answer.reason,
                    headers=response_headers,
                    buffer=io.BytesIO(body),
                    effective_url=request.url,
                    request_time=time.perf_counter() - started,
                    start_time=start_time,
                )
        except Exception as error:  # noqa: BLE001 - every failure is a 599, as tornado's
            response = httpclient.HTTPResponse(
                request,
                599,
                error=error,
                request_time=time.perf_counter() - started,
                start_time=start_time,
            )
        callback(response)

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            try:
                asyncio.get_running_loop().create_task(session.close())
            except RuntimeError:  # no running loop: the connections go with the process
                pass
        super().close()
