"""The code each variant runs, in its client process (:mod:`benchmarks.worker`).

:func:`set_up_transport` configures the process's transport once;
:func:`make_call` returns, for one variant and one cell, a coroutine function
that makes one call and returns what it got (checked once by the worker, then
ignored). Imports happen here, lazily, so that a process imports only what
its variants use: the sprockets.mixins.http 2.6.0 environment has neither
this project nor msgpack.

Only public names of this project are used: ``HTTPClientMixin.http_fetch``,
``HTTPResponse.code`` and ``.body``, ``sprockets_http.content.msgpack_unpackb``.
Tornado's private ``_RequestProxy`` and ``SimpleAsyncHTTPClient._handle_request``
are used by the investigation's in-process pieces, which measure exactly them.
"""

from __future__ import annotations

import io
import json
from typing import Any, Awaitable, Callable, Dict, List, Optional

from tornado import httpclient, httputil

from benchmarks.documents import FORMATS, SIZES, make_document
from benchmarks.variants import CONCURRENCY, IN_PROCESS, RETRY, Cell, Variant

Call = Callable[[], Awaitable[Any]]

CLIENT_CLASSES = {
    "simple": "tornado.simple_httpclient.SimpleAsyncHTTPClient",
    "curl": "tornado.curl_httpclient.CurlAsyncHTTPClient",
}


#: Seconds an idle kept-alive connection stays open, for the clients that close
#: them (aiohttp after 15 s, httpx after 5 s by default): a process waits while
#: the others take their turn in a round, and a connection closed meanwhile
#: would be paid for in its next round, which no steady service pays.
KEEPALIVE = 600.0


#: Under callgrind a process runs some 50 times slower, and with 100 calls in
#: flight a call waits for the 99 others: every timeout is set to this many
#: seconds there (``python -m benchmarks.worker --long-timeouts``), a value
#: that changes no code path, where the defaults (20 s for tornado and this
#: project, 5 s for httpx) would expire.
LONG_TIMEOUT = 600.0
long_timeouts = False


class InstantClient(httpclient.AsyncHTTPClient):
    """An AsyncHTTPClient that answers every request at once, in process, with
    one canned body: tornado's ``fetch`` machinery without any I/O."""

    body = b""
    content_type = "application/msgpack"

    def fetch_impl(
        self,
        request: httpclient.HTTPRequest,
        callback: Callable[[httpclient.HTTPResponse], None],
    ) -> None:
        headers = httputil.HTTPHeaders({"Content-Type": self.content_type})
        buffer = io.BytesIO(self.body)
        callback(httpclient.HTTPResponse(request, 200, headers=headers, buffer=buffer))


def _instant_simple_client() -> httpclient.AsyncHTTPClient:
    """A SimpleAsyncHTTPClient whose connections answer at once: its queue,
    slots and callbacks without a socket."""
    from tornado.ioloop import IOLoop
    from tornado.simple_httpclient import SimpleAsyncHTTPClient

    class InstantSimpleClient(SimpleAsyncHTTPClient):
        def _handle_request(
            self,
            request: httpclient.HTTPRequest,
            release_callback: Callable[[], None],
            final_callback: Callable[[httpclient.HTTPResponse], None],
        ) -> None:
            # What _HTTPConnection does when a response is complete: release
            # the slot, then run the callback on the next loop iteration.
            headers = httputil.HTTPHeaders({"Content-Type": InstantClient.content_type})
            response = httpclient.HTTPResponse(
                request, 200, headers=headers, buffer=io.BytesIO(InstantClient.body)
            )
            release_callback()
            IOLoop.current().add_callback(final_callback, response)

    return InstantSimpleClient(force_instance=True, max_clients=CONCURRENCY)


class Transport:
    """What the process's calls go through, made once per process."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.session: Any = None  # aiohttp's ClientSession or httpx's AsyncClient

    async def close(self) -> None:
        if self.kind == "aiohttp" and self.session is not None:
            await self.session.close()
        elif self.kind == "httpx" and self.session is not None:
            await self.session.aclose()
        elif self.kind in ("simple", "curl", "aiohttp-tornado", "instant"):
            httpclient.AsyncHTTPClient().close()


async def set_up_transport(kind: str) -> Transport:
    """Configure *kind* for this process (inside its event loop)."""
    transport = Transport(kind)
    options: Dict[str, Any] = {"max_clients": CONCURRENCY}
    if long_timeouts:
        options["defaults"] = {"connect_timeout": LONG_TIMEOUT, "request_timeout": LONG_TIMEOUT}
    if kind in CLIENT_CLASSES:
        httpclient.AsyncHTTPClient.configure(CLIENT_CLASSES[kind], **options)
    elif kind == "aiohttp-tornado":
        from benchmarks.aiohttp_tornado import AiohttpAsyncHTTPClient

        httpclient.AsyncHTTPClient.configure(AiohttpAsyncHTTPClient, **options)
    elif kind == "instant":
        httpclient.AsyncHTTPClient.configure(InstantClient)
    elif kind == "aiohttp":
        import aiohttp

        transport.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONCURRENCY, keepalive_timeout=KEEPALIVE),
            **({"timeout": aiohttp.ClientTimeout(total=LONG_TIMEOUT)} if long_timeouts else {}),
        )
    elif kind == "httpx":
        import httpx

        limits = httpx.Limits(
            max_connections=CONCURRENCY,
            max_keepalive_connections=CONCURRENCY,
            keepalive_expiry=KEEPALIVE,
        )
        transport.session = httpx.AsyncClient(
            limits=limits, **({"timeout": LONG_TIMEOUT} if long_timeouts else {})
        )
    elif kind != "none":
        raise ValueError(f"unknown transport {kind!r}")
    return transport


def _decoder(call: str, fmt: str) -> Callable[[bytes], Any]:
    """The decoder a ``...decode-py`` / ``...decode-c`` call uses: u-msgpack-python
    or msgpack's C extension, or ``json.loads`` for JSON."""
    if fmt == "json":
        return json.loads
    if call.endswith("decode-py"):
        import umsgpack

        return umsgpack.unpackb  # type: ignore[no-any-return]
    import msgpack

    return msgpack.unpackb  # type: ignore[no-any-return]


def _mixin_caller(original: bool) -> Any:
    if original:
        from sprockets.mixins.http import HTTPClientMixin as Mixin
    else:
        from sprockets_http import HTTPClientMixin as Mixin

    class Caller(Mixin):  # type: ignore[misc, valid-type]
        """The smallest object using the mixin, as a consumer or script has."""

    if long_timeouts:  # both mixins document these class attributes
        Caller.DEFAULT_CONNECT_TIMEOUT = Caller.DEFAULT_REQUEST_TIMEOUT = LONG_TIMEOUT
    return Caller()


async def fetch_counted(client_kind: str, url: str) -> List[str]:
    """The attribute reads one GET of *url* makes through ``_RequestProxy``
    with tornado's *client_kind* client, in order (a real fetch, counted)."""
    proxy_class: Any = httpclient._RequestProxy
    original = proxy_class.__getattr__
    names: List[str] = []

    def counting(self: Any, name: str) -> Any:
        names.append(name)
        return original(self, name)

    if client_kind == "curl":
        from tornado.curl_httpclient import CurlAsyncHTTPClient as kind
    else:
        from tornado.simple_httpclient import SimpleAsyncHTTPClient as kind
    client = kind(force_instance=True)
    try:
        proxy_class.__getattr__ = counting
        await client.fetch(url)
    finally:
        proxy_class.__getattr__ = original
        client.close()
    return names


async def make_call(
    variant: Variant, cell: Cell, base: Optional[str], transport: Transport, slow: bool = False
) -> Call:
    """One call of *variant* in *cell*, as a coroutine function; with *slow*,
    to the upstream's ``/slow/`` targets, answered after a delay."""
    call = variant.call
    url = f"{base}{'/slow' if slow else ''}{cell.path}"
    body = b""
    if cell.kind == IN_PROCESS:
        url = "http://127.0.0.1:9/"  # never connected to
        body = make_document(SIZES[cell.size], cell.fmt)[1]
        InstantClient.body, InstantClient.content_type = body, FORMATS[cell.fmt]

    if call == "fetch":
        client = httpclient.AsyncHTTPClient()

        async def fetch() -> Any:
            return (await client.fetch(url)).body

        return fetch

    if call.startswith("fetch+decode"):
        client = httpclient.AsyncHTTPClient()
        decode = _decoder(call, cell.fmt)

        async def fetch_and_decode() -> Any:
            return decode((await client.fetch(url)).body)

        return fetch_and_decode

    if call in ("mixin", "mixin-2.6.0", "mixin-x5"):
        caller = _mixin_caller(original=call == "mixin-2.6.0")
        options: Dict[str, Any] = {}
        if cell.kind == RETRY:
            options["retry_timeout"] = 0  # the 503s are retried at once
        reads = 5 if call == "mixin-x5" else 1

        async def http_fetch() -> Any:
            response = await caller.http_fetch(url, **options)
            if response.code != 200:
                raise RuntimeError(f"{url}: {response.code}")
            for _ in range(reads):
                value = response.body
            return value

        return http_fetch

    if call == "aiohttp+decode-c":
        session, decode = transport.session, _decoder(call, cell.fmt)

        async def aiohttp_get() -> Any:
            async with session.get(url) as answer:
                if answer.status != 200:
                    raise RuntimeError(f"{url}: {answer.status}")
                return decode(await answer.read())

        return aiohttp_get

    if call == "httpx+decode-c":
        session, decode = transport.session, _decoder(call, cell.fmt)

        async def httpx_get() -> Any:
            answer = await session.get(url)
            if answer.status_code != 200:
                raise RuntimeError(f"{url}: {answer.status_code}")
            return decode(answer.content)

        return httpx_get

    return await _in_process_call(call, cell, url, body, base)


async def _in_process_call(
    call: str, cell: Cell, url: str, body: bytes, base: Optional[str]
) -> Call:
    """The investigation's pieces and the decoders: no I/O."""
    defaults: Dict[str, Any] = dict(httpclient.HTTPRequest._DEFAULTS)
    request = httpclient.HTTPRequest(url)
    content_type = FORMATS[cell.fmt]

    if call == "fetch-simple-queue":
        client = _instant_simple_client()

        async def through_queue() -> Any:
            return (await client.fetch(url)).body

        return through_queue

    if call == "request-object":

        async def request_object() -> Any:
            return httpclient.HTTPRequest(url)

        return request_object

    if call == "request-headers":

        async def request_headers() -> Any:
            return httputil.HTTPHeaders(request.headers)

        return request_headers

    proxy_class: Any = httpclient._RequestProxy

    if call == "request-proxy":

        async def request_proxy() -> Any:
            return proxy_class(request, defaults)

        return request_proxy

    if call.startswith("proxy-reads-"):
        if base is None:
            raise RuntimeError("counting the proxy reads needs the upstream")
        names = await fetch_counted(call[len("proxy-reads-") :], f"{base}/{cell.fmt}/1k")

        async def proxy_reads() -> Any:
            proxy = proxy_class(request, defaults)
            for name in names:
                try:
                    getattr(proxy, name)
                except AttributeError:  # hasattr-style probes: the client pays for them too
                    pass
            return len(names)

        return proxy_reads

    if call == "response-object":

        async def response_object() -> Any:
            headers = httputil.HTTPHeaders({"Content-Type": content_type})
            buffer = io.BytesIO(body)
            return httpclient.HTTPResponse(request, 200, headers=headers, buffer=buffer).body

        return response_object

    if call in ("decode-py", "decode-c"):
        decode = _decoder("fetch+" + call, cell.fmt)

        async def decode_only() -> Any:
            return decode(body)

        return decode_only

    if call == "decode-content":
        from sprockets_http import content

        async def decode_content() -> Any:
            return content.msgpack_unpackb(body)

        return decode_content

    raise ValueError(f"unknown call {call!r}")
