"""The promises users build on, against hostile servers and bad arguments.

* ``http_fetch`` never raises for anything a server or the network does:
  each such failure is a recorded attempt (code 599, the exception in
  ``exceptions``), retried by the documented rule.
* A mistake in the caller's own arguments raises ``ValueError`` before
  anything is sent (the servers here count the connections they accept), and
  its message never carries a credential.
* A request goes out no more times than ``attempts`` says when the caller
  said its method must not be retried (libcurl re-sends on a reused
  connection that died; ``retry_methods`` stops it).
* Certificate failures are not retried; a cancelled call gives its client
  slot back where the client allows it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import socket
import ssl
import types
from typing import Any, Dict, List

import pytest
import trustme
from rawserver import RawServer, read_request, reset
from tornado import httpclient, httpserver, httputil, simple_httpclient, web

from sprockets_http import (
    IDEMPOTENT_METHODS,
    HTTPClientMixin,
    HTTPResponse,
    RetryBudget,
    RetryPolicy,
    _transport,
)

SECRET = "s3cret-T0KEN-value"


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def answer(status: bytes, headers: List[bytes], body: bytes = b"") -> bytes:
    lines = [b"HTTP/1.1 " + status, *headers, b"Content-Length: %d" % len(body)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def replying(data: bytes):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(data)
        await writer.drain()

    return handler


def assert_recorded_failure(response: Any, attempts: int) -> None:
    assert isinstance(response, HTTPResponse)
    assert response.attempts == attempts == len(response.exceptions)
    assert response.code == 599 and response.ok is False
    assert response.history == []


# --- 1. nothing a server does makes http_fetch raise ---------------------------------


HUGE = b"x" * (70 * 1024)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(answer(b"200 OK", [b"Set-Cookie: a=" + HUGE]), id="huge-set-cookie"),
        pytest.param(answer(b"200 " + HUGE, []), id="huge-reason-phrase"),
        pytest.param(answer(b"200 OK", [b"Link: <" + HUGE + b'>; rel="next"']), id="huge-link"),
        pytest.param(
            answer(b"200 OK", [b"X-Many: %d" % n for n in range(8000)]), id="many-headers"
        ),
    ],
)
async def test_a_header_block_over_64_kib_is_a_failed_attempt(
    caller, sleeps, client_kind, data
):
    async with RawServer(replying(data)) as server:
        response = await caller.http_fetch(server.url + "/", request_timeout=5)
    # Each client has its own limit (tornado's 64 KiB, libcurl's 100 KiB per
    # header line): past it, a recorded failure; below it, the response.
    if response.exceptions:
        assert_recorded_failure(response, 3)
        assert sleeps == [3, 6]
    else:
        assert response.code == 200 and response.attempts == 1


@pytest.mark.parametrize(
    "location",
    [
        pytest.param(b"http://a..b/", id="empty-label"),
        pytest.param(b"http://" + b"a" * 64 + b".example/", id="label-over-63"),
        pytest.param(b"http://ex\xe4mple.test/", id="latin-1-byte"),
        pytest.param(b"http://\xff\xfe/", id="invalid-utf8"),
        pytest.param(b"http://127.0.0.1:99999/", id="port-out-of-range"),
    ],
)
async def test_a_redirect_to_a_host_that_cannot_be_encoded_never_raises(
    caller, sleeps, client_kind, location
):
    data = answer(b"302 Found", [b"Location: " + location])
    async with RawServer(replying(data)) as server:
        response = await caller.http_fetch(
            server.url + "/", follow_redirects=True, max_http_attempts=2, request_timeout=5
        )
    assert isinstance(response, HTTPResponse)
    # Either the 3xx, returned (a Location that cannot be followed), or a
    # recorded failure of the hop, retried: never an exception out of
    # http_fetch.
    if response.code == 302:
        assert response.attempts == 1 and response.exceptions == []
    else:
        assert_recorded_failure(response, 2)


async def test_a_failing_hop_is_retried_by_the_rule_for_exceptions(caller, sleeps, client_kind):
    data = answer(b"302 Found", [b"Location: http://a..b/"])
    async with RawServer(replying(data)) as server:
        response = await caller.http_fetch(
            server.url + "/", follow_redirects=True, request_timeout=5
        )
        seen = server.requests
    if response.code == 599:
        assert seen == 3 and response.attempts == 3 and sleeps == [3, 6]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", id="truncated"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", id="bad-length"),
        pytest.param(b"HTTP/1.1 2000 OK\r\n\r\n", id="bad-status"),
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", id="garbage"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="chunk"),
        pytest.param(b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", id="header-no-colon"),
        pytest.param(b"HTTP/1.1 200 OK\r\n\x00\x01\x02: \xff\r\n\r\n", id="binary-header"),
    ],
)
async def test_broken_responses_are_recorded_not_raised(caller, sleeps, client_kind, data):
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(data)
        await writer.drain()
        writer.close()

    async with RawServer(handler) as server:
        response = await caller.http_fetch(server.url + "/", request_timeout=5)
    assert isinstance(response, HTTPResponse) and 1 <= response.attempts <= 3
    for prop in ("code", "ok", "headers", "links", "raw", "duration", "history"):
        getattr(response, prop)


async def test_a_reset_after_the_headers_and_part_of_the_body(
    caller, sleeps, client_kind, caplog
):
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
        await writer.drain()
        await asyncio.sleep(0.05)
        reset(writer)

    caplog.set_level(logging.DEBUG)
    async with RawServer(handler) as server:
        response = await caller.http_fetch(server.url + "/", request_timeout=5)
    assert_recorded_failure(response, 3)
    assert not [r for r in caplog.records if "Uncaught exception" in r.getMessage()]


# --- 3. a request goes out no more times than attempts says ---------------------------


class KeepAliveThenReset:
    """Answers ``first`` with keep-alive, so that the client keeps the
    connection; reads any other request in full and resets the connection
    without a reply: what an upstream that restarts does to a reused
    connection, after it has acted on the request."""

    def __init__(self) -> None:
        self.posts: List[str] = []

    async def __call__(self, reader, writer) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = (await reader.readexactly(length) if length else b"").decode()
            self.posts.append(body)
            if body != "first":
                reset(writer)
                return
            writer.write(answer(b"200 OK", [b"Connection: keep-alive"], b"{}"))
            await writer.drain()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"max_http_attempts": 1, "retry_methods": IDEMPOTENT_METHODS}, id="1-attempt"),
        pytest.param({"retry_methods": IDEMPOTENT_METHODS}, id="3-attempts"),
        pytest.param({"max_http_attempts": 1}, id="1-attempt-all-methods"),
        pytest.param({"retry_methods": "GET"}, id="one-method"),
    ],
)
async def test_a_post_that_must_not_be_retried_is_sent_once(
    caller, sleeps, client_kind, options
):
    upstream = KeepAliveThenReset()
    async with RawServer(upstream) as server:
        # The first call leaves a kept-alive connection for the second to reuse.
        first = await caller.http_fetch(server.url + "/", method="POST", body=b"first")
        assert first.ok
        response = await caller.http_fetch(
            server.url + "/", method="POST", body=b"payment", request_timeout=5, **options
        )
    assert_recorded_failure(response, 1)
    assert upstream.posts.count("payment") == 1, upstream.posts


async def test_a_retried_post_may_go_out_twice_per_attempt_with_curl(caller, sleeps, client_kind):
    # Documented: where retries are allowed, libcurl re-sends a request once
    # inside an attempt when a reused connection died before answering.
    upstream = KeepAliveThenReset()
    async with RawServer(upstream) as server:
        await caller.http_fetch(server.url + "/", method="POST", body=b"first")
        response = await caller.http_fetch(
            server.url + "/", method="POST", body=b"again", max_http_attempts=2, request_timeout=5
        )
    assert_recorded_failure(response, 2)
    sent = upstream.posts.count("again")
    if client_kind == "simple":
        assert sent == 2
    else:
        assert 2 <= sent <= 4


# --- 4. bad arguments: a clear ValueError before anything is sent ------------------------


BAD_ARGUMENTS: List[Any] = [
    ("retry_timeout", math.inf),
    ("retry_timeout", math.nan),
    ("retry_timeout", -1),
    ("retry_timeout", "3"),
    ("retry_timeout", True),
    ("connect_timeout", 0),
    ("connect_timeout", -1),
    ("connect_timeout", math.inf),
    ("connect_timeout", math.nan),
    ("request_timeout", 0),
    ("request_timeout", math.inf),
    ("request_timeout", "20"),
    ("max_retry_timeout", math.inf),
    ("max_retry_timeout", math.nan),
    ("max_retry_timeout", -2),
    ("total_timeout", 0),
    ("total_timeout", math.inf),
    ("total_timeout", math.nan),
    ("max_http_attempts", 0),
    ("max_http_attempts", 2.5),
    ("max_http_attempts", math.nan),
    ("max_http_attempts", True),
    ("max_http_attempts", "3"),
    ("dont_retry", "503"),
    ("dont_retry", [600]),
    ("dont_retry", [99]),
    ("dont_retry", ["503"]),
    ("dont_retry", 5.03),
    ("retry_methods", [1]),
    ("retry_methods", ["GE T"]),
    ("retry_methods", b"GET"),
    ("max_redirects", -1),
    ("max_redirects", 1.5),
    ("method", "get"),
    ("method", "G ET"),
    ("method", None),
    ("method", "PROPFIND"),
    ("request_headers", ["Accept: x"]),
    ("request_headers", {"Bad Name": "x"}),
    ("request_headers", {"X-Count": 3}),
    ("request_headers", {"X-Snow": "\u2603"}),
    ("request_headers", {"X-Injected": "a\r\nX-Evil: 1"}),
    ("auth_username", 42),
    ("auth_password", b"bytes"),
    ("retry_policy", "fast"),
]


def _argument_id(name: str, value: Any) -> str:
    # Printable ASCII without backslashes: mutmut (tox -e mutation) passes
    # test ids back to pytest, which does not find an id holding an escape.
    text = repr(value).replace("\\r", "CR").replace("\\n", "LF")
    return f"{name}={text}".encode("ascii", "namereplace").decode().replace("\\N", "")


@pytest.mark.parametrize(
    "name, value", BAD_ARGUMENTS, ids=[_argument_id(n, v) for n, v in BAD_ARGUMENTS]
)
async def test_a_bad_argument_raises_value_error_before_sending(
    caller, client_kind, name, value
):
    async with RawServer(replying(answer(b"200 OK", []))) as server:
        with pytest.raises(ValueError) as raised:
            await caller.http_fetch(server.url + "/", **{name: value})
        assert server.requests == 0
    assert name.replace("max_http_attempts", "attempts").split("_")[-1] in str(raised.value) or (
        name in ("method", "request_headers", "retry_policy", "auth_username", "auth_password")
    )


BAD_URLS = [
    None,
    b"http://127.0.0.1/",
    "/relative/path",
    "127.0.0.1:8000/",
    "ftp://user:" + SECRET + "@127.0.0.1/",
    "http://",
    "http:///path",
    "http://127.0.0.1:99999/",
    "http://127.0.0.1:0/",
    "http://[::1/",
    "http://127.0.0.1/a path",
    "http://127.0.0.1/\r\nX-Evil: 1",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", BAD_URLS, ids=[repr(u) for u in BAD_URLS])
async def test_a_url_that_is_not_absolute_http_raises_at_once_with_both_clients(
    caller, client_kind, url
):
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(url)
    assert SECRET not in str(raised.value)


async def test_a_non_ascii_url_is_encoded_for_the_wire(caller, client_kind, serve):
    seen: List[str] = []

    class Echo(web.RequestHandler):
        def get(self, *_args):
            seen.append(self.request.uri)

    url = serve([(r"/.*", Echo)])
    response = await caller.http_fetch(url + "/caf\u00e9?q=\u2603")
    assert response.ok
    assert seen == ["/caf%C3%A9?q=%E2%98%83"]


@pytest.mark.parametrize("secret_header", ["Authorization", "Proxy-Authorization", "Cookie"])
async def test_a_credential_with_a_newline_is_refused_without_naming_it(
    caller, client_kind, secret_header
):
    # A token read from a file, trailing newline included.
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(
            f"http://127.0.0.1:{closed_port()}/",
            request_headers={secret_header: f"Bearer {SECRET}\n"},
        )
    assert SECRET not in str(raised.value) and secret_header in str(raised.value)


@pytest.mark.parametrize("content_type", ["application/json", "application/msgpack"])
@pytest.mark.parametrize("shape", ["deep", "circular"])
async def test_a_body_nested_too_deep_or_circular_is_a_value_error(
    caller, content_type, shape
):
    body: Any
    if shape == "deep":
        body = []
        for _ in range(100_000):
            body = [body]
    else:
        body = {"a": []}
        body["a"].append(body)
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(
            f"http://127.0.0.1:{closed_port()}/",
            method="POST",
            body=body,
            content_type=content_type,
        )
    assert not isinstance(raised.value, RecursionError)


@pytest.mark.parametrize(
    "method, body", [("POST", None), ("PUT", None), ("PATCH", None), ("GET", b"x"), ("HEAD", b"x")]
)
async def test_a_body_that_does_not_fit_the_method_raises_before_sending(
    caller, client_kind, method, body
):
    async with RawServer(replying(answer(b"200 OK", []))) as server:
        with pytest.raises(ValueError):
            await caller.http_fetch(server.url + "/", method=method, body=body)
        assert server.requests == 0


async def test_an_unknown_fetch_argument_raises_type_error_before_sending(caller, client_kind):
    async with RawServer(replying(answer(b"200 OK", []))) as server:
        with pytest.raises(TypeError):
            await caller.http_fetch(server.url + "/", no_such_option=1)
        assert server.requests == 0


async def test_a_proxy_needs_the_curl_client(caller):
    httpclient.AsyncHTTPClient.configure(None)
    with pytest.raises(ValueError, match="curl"):
        await caller.http_fetch(
            f"http://127.0.0.1:{closed_port()}/", proxy_host="127.0.0.1", proxy_port=3128
        )


async def test_nonstandard_methods_are_sent_as_given_when_allowed(caller, client_kind, serve):
    seen: List[str] = []

    class Any_(web.RequestHandler):
        SUPPORTED_METHODS = ("PROPFIND", "get")

        def propfind(self):
            seen.append(self.request.method)

    url = serve([(r"/", Any_)])
    response = await caller.http_fetch(url + "/", method="PROPFIND", allow_nonstandard_methods=True)
    assert response.code == 200 and seen == ["PROPFIND"]


@pytest.mark.parametrize("dont_retry", [503, [503], {503}, (503, 502), frozenset({503})])
async def test_dont_retry_takes_one_status_or_a_collection(caller, sleeps, serve, dont_retry):
    class Busy(web.RequestHandler):
        def get(self):
            self.set_status(503)

    url = serve([(r"/", Busy)])
    response = await caller.http_fetch(url + "/", dont_retry=dont_retry)
    assert response.attempts == 1 and response.code == 503


async def test_retry_policy_is_used_and_excludes_the_options_it_replaces(caller, sleeps, serve):
    class Busy(web.RequestHandler):
        def get(self):
            self.set_status(503)

    url = serve([(r"/", Busy)]) + "/"
    policy = RetryPolicy(max_attempts=4, retry_timeout=0.5)
    response = await caller.http_fetch(url, retry_policy=policy)
    assert response.attempts == 4 and sleeps == [0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match="max_http_attempts"):
        await caller.http_fetch(url, retry_policy=policy, max_http_attempts=2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ttl": 5e-324},
        {"ttl": 0.0009},
        {"ttl": math.inf},
        {"ttl": math.nan},
        {"ttl": "10"},
        {"ratio": math.inf},
        {"ratio": -0.1},
        {"min_per_second": math.nan},
        {"min_per_second": True},
    ],
)
def test_retry_budget_refuses_values_it_cannot_work_with(kwargs):
    with pytest.raises(ValueError):
        RetryBudget(**kwargs)


def test_retry_budget_takes_its_smallest_window():
    budget = RetryBudget(ratio=0, min_per_second=1000, ttl=0.001)
    assert budget.try_retry() is True


@pytest.mark.parametrize("value", ["1000000000", "1001", "99999999999999999999"])
async def test_http_max_clients_is_bounded(caller, monkeypatch, caplog, value, serve):
    from sprockets_http import _transport

    class Ok(web.RequestHandler):
        def get(self):
            pass

    url = serve([(r"/", Ok)])
    monkeypatch.setenv("HTTP_MAX_CLIENTS", value)
    _transport._env_cache.clear()
    httpclient.AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient")
    try:
        response = await caller.http_fetch(url + "/")
        client = httpclient.AsyncHTTPClient()
        assert len(client._curls) == _transport.MAX_CLIENTS_LIMIT == 1000
    finally:
        httpclient.AsyncHTTPClient.configure(None)
    assert response.ok
    assert any("above the limit" in r.getMessage() for r in caplog.records)


async def test_a_retry_after_of_minus_zero_is_a_wait_of_zero(caller, sleeps, serve):
    class MinusZero(web.RequestHandler):
        calls = 0

        def get(self):
            type(self).calls += 1
            if type(self).calls == 1:
                self.set_status(503)
                self.set_header("Retry-After", "-0")

    url = serve([(r"/", MinusZero)])
    response = await caller.http_fetch(url + "/")
    assert response.ok and response.waits == [0.0]
    assert math.copysign(1.0, response.waits[0]) == 1.0


async def test_repeated_headers_stay_repeated(caller, client_kind, serve):
    seen: List[List[str]] = []

    class Echo(web.RequestHandler):
        def get(self):
            seen.append(self.request.headers.get_list("X-Tag"))

    url = serve([(r"/", Echo)])
    headers = httputil.HTTPHeaders()
    headers.add("X-Tag", "a")
    headers.add("X-Tag", "b")
    response = await caller.http_fetch(url + "/", request_headers=headers)
    assert response.ok and seen == [["a", "b"]]
    assert headers.get_list("X-Tag") == ["a", "b"]  # the caller's object unchanged


# --- 5. certificates, cancellation ------------------------------------------------------


class Hello(web.RequestHandler):
    def get(self):
        self.write({"hello": "tls"})


def tls_server(io_loop, cert_host: str):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(cert_host).configure_cert(context)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = httpserver.HTTPServer(web.Application([("/", Hello)]), ssl_options=context)
    server.add_sockets([sock])
    return server, sock.getsockname()[1], ca


async def test_a_certificate_for_another_host_is_not_retried(
    io_loop, caller, sleeps, client_kind, tmp_path
):
    server, port, ca = tls_server(io_loop, "other.example")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        response = await caller.http_fetch(
            f"https://127.0.0.1:{port}/", ca_certs=str(ca_file), request_timeout=5
        )
    finally:
        server.stop()
    assert_recorded_failure(response, 1)
    assert sleeps == []


async def test_other_tls_failures_are_retried(caller, sleeps, client_kind):
    # A server that is not TLS at all: it answers the ClientHello in plain
    # HTTP, so the handshake fails at once; no certificate is involved.
    async def plain(reader, writer):
        await reader.read(1)
        writer.write(answer(b"400 Bad Request", []))
        await writer.drain()

    async with RawServer(plain) as server:
        response = await caller.http_fetch(
            server.url.replace("http://", "https://") + "/", request_timeout=5
        )
    assert_recorded_failure(response, 3)
    assert sleeps == [3, 6]


class Stalled:
    """Accepts, reads the request, never answers (until the test ends)."""

    def __init__(self) -> None:
        self.arrived = 0

    async def __call__(self, reader, writer) -> None:
        await read_request(reader)
        self.arrived += 1
        await asyncio.Event().wait()


async def test_cancelled_calls_give_the_curl_client_its_slots_back(caller, serve):
    class Ok(web.RequestHandler):
        def get(self):
            self.write("ok")

    healthy = serve([(r"/", Ok)]) + "/"
    httpclient.AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient")
    try:
        stalled = Stalled()
        async with RawServer(stalled) as server:
            tasks = [
                asyncio.ensure_future(caller.http_fetch(server.url + "/", request_timeout=30))
                for _ in range(10)  # the client's 10 slots
            ]
            for _ in range(1000):  # up to 10 s: a busy machine is slow
                if stalled.arrived == 10:
                    break
                await asyncio.sleep(0.01)
            assert stalled.arrived == 10
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Without the release, this would wait for a slot for 30 s.
            response = await asyncio.wait_for(
                caller.http_fetch(healthy, request_timeout=30), timeout=10
            )
        assert response.ok
        client = httpclient.AsyncHTTPClient()
        assert len(client._free_list) == len(client._curls)
    finally:
        httpclient.AsyncHTTPClient.configure(None)


async def test_a_cancelled_call_waiting_for_a_simple_client_slot_is_never_sent(caller):
    httpclient.AsyncHTTPClient.configure(None)
    client = httpclient.AsyncHTTPClient()
    client.max_clients = 1  # the simple client reads it on every request
    stalled = Stalled()
    async with RawServer(stalled) as server:
        first = asyncio.ensure_future(
            caller.http_fetch(server.url + "/", request_timeout=3, max_http_attempts=1)
        )
        for _ in range(1000):  # up to 10 s: a busy machine is slow
            if stalled.arrived == 1:
                break
            await asyncio.sleep(0.01)
        queued = asyncio.ensure_future(
            caller.http_fetch(server.url + "/queued", request_timeout=30)
        )
        for _ in range(1000):  # up to 10 s: a busy machine is slow
            if client.waiting:
                break
            await asyncio.sleep(0.01)
        assert len(client.waiting) == 1  # queued behind the stalled request
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        assert client.waiting == {}
        response = await first  # times out after 3 s, freeing the slot
        await asyncio.sleep(0.1)
        assert stalled.arrived == 1  # the cancelled one never went out
    assert response.attempts == 1 and response.code == 599


async def _until(condition: Any) -> None:
    for _ in range(1000):  # up to 10 s: a busy machine is slow
        if condition():
            return
        await asyncio.sleep(0.01)


class Held:
    """Answers each request once released; notes the paths whose connection
    the client closed first."""

    def __init__(self) -> None:
        self.arrived: List[str] = []
        self.closed: List[str] = []
        self.release = asyncio.Event()

    async def __call__(self, reader, writer) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ")[1].decode("ascii")
        self.arrived.append(path)
        closed = asyncio.ensure_future(reader.read(1))
        released = asyncio.ensure_future(self.release.wait())
        try:
            await asyncio.wait({closed, released}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            released.cancel()
        if closed.done() and closed.result() == b"":
            self.closed.append(path)
            return
        closed.cancel()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


async def test_cancelling_one_curl_transfer_aborts_that_one_only(caller):
    httpclient.AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient")
    try:
        held = Held()
        async with RawServer(held) as server:
            calls = {}
            for number, name in enumerate(["/one", "/two", "/three"], 1):
                calls[name] = asyncio.ensure_future(
                    caller.http_fetch(server.url + name, request_timeout=30)
                )
                await _until(lambda: len(held.arrived) == number)  # noqa: B023
            calls["/two"].cancel()
            await asyncio.gather(calls["/two"], return_exceptions=True)
            await _until(lambda: held.closed)
            assert held.closed == ["/two"]  # its transfer aborted, its connection closed
            held.release.set()
            for name in ("/one", "/three"):
                response = await asyncio.wait_for(calls[name], timeout=10)
                assert response.ok and response.attempts == 1
    finally:
        httpclient.AsyncHTTPClient.configure(None)


class WrappedFetch(simple_httpclient.SimpleAsyncHTTPClient):
    """A client whose ``fetch`` is wrapped (as an instrumentation does): its
    queue holds ``fetch``'s request proxies, not the requests."""

    def fetch(self, request, raise_error=True, **kwargs):  # type: ignore[override]
        return super().fetch(request, raise_error=raise_error, **kwargs)


CLIENT_CLASSES = {
    "simple": None,
    "wrapped": WrappedFetch,
    "curl": "tornado.curl_httpclient.CurlAsyncHTTPClient",
}


@pytest.mark.parametrize("kind", list(CLIENT_CLASSES))
async def test_a_cancelled_call_waiting_for_a_slot_leaves_the_queue_without_being_sent(
    caller, monkeypatch, kind
):
    monkeypatch.setenv("HTTP_MAX_CLIENTS", "1")  # read when the loop's client is made
    httpclient.AsyncHTTPClient.configure(CLIENT_CLASSES[kind])
    try:
        held = Held()
        async with RawServer(held) as server:
            first = asyncio.ensure_future(
                caller.http_fetch(server.url + "/first", request_timeout=30)
            )
            await _until(lambda: held.arrived)
            client = httpclient.AsyncHTTPClient()

            def queued() -> int:
                return len(client._requests if kind == "curl" else client.waiting)

            second, third = (
                asyncio.ensure_future(caller.http_fetch(server.url + path, request_timeout=30))
                for path in ("/second", "/third")
            )
            await _until(lambda: queued() == 2)
            assert queued() == 2  # both behind the first
            third.cancel()
            await asyncio.gather(third, return_exceptions=True)
            assert queued() == 1
            held.release.set()
            responses = [await asyncio.wait_for(call, timeout=10) for call in (first, second)]
        assert [response.code for response in responses] == [200, 200]
        assert held.arrived == ["/first", "/second"]
    finally:
        httpclient.AsyncHTTPClient.configure(None)


async def test_a_slot_that_cannot_be_given_back_is_logged_at_debug(
    caller, monkeypatch, caplog
):
    # Giving a slot back reads the client's private state: if a Tornado
    # release changes it, the cancellation still goes through.
    def changed(found, request):
        raise AttributeError("no such queue in this Tornado")

    monkeypatch.setattr(_transport, "_release_simple", changed)
    caplog.set_level(logging.DEBUG, logger="sprockets_http")
    held = Held()
    async with RawServer(held) as server:
        call = asyncio.ensure_future(caller.http_fetch(server.url + "/", request_timeout=30))
        await _until(lambda: held.arrived)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    [record] = [
        record
        for record in caplog.records
        if record.exc_info and str(record.exc_info[1]) == "no such queue in this Tornado"
    ]
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == "Could not release the client slot of a cancelled request"


async def test_the_callers_prepare_curl_callback_runs_on_a_request_sent_on_a_new_connection(
    caller, serve
):
    # A POST with one attempt is sent on a new connection (FRESH_CONNECT);
    # the caller's own callback still gets the handle, and runs after.
    pycurl = pytest.importorskip("pycurl")
    referers: List[Any] = []

    class Echo(web.RequestHandler):
        def post(self):
            referers.append(self.request.headers.get("Referer"))

    url = serve([(r"/", Echo)]) + "/"
    httpclient.AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient")
    try:
        response = await caller.http_fetch(
            url,
            method="POST",
            body={"a": 1},
            max_http_attempts=1,
            prepare_curl_callback=lambda curl: curl.setopt(
                pycurl.REFERER, "http://prepared.example/"
            ),
        )
    finally:
        httpclient.AsyncHTTPClient.configure(None)
    assert response.ok
    assert referers == ["http://prepared.example/"]


async def test_request_headers_may_be_any_mapping(caller, serve, client_kind):
    seen: List[Any] = []

    class Echo(web.RequestHandler):
        def get(self):
            seen.append(self.request.headers.get("X-Mapped"))

    url = serve([(r"/", Echo)]) + "/"
    mappings = (
        types.MappingProxyType({"X-Mapped": "1"}),
        collections.OrderedDict({"X-Mapped": "2"}),
    )
    for headers in mappings:
        response = await caller.http_fetch(url, request_headers=headers)
        assert response.ok
    assert seen == ["1", "2"]


async def test_a_cancelled_call_ends_its_events(caller):
    from sprockets_http import events

    seen: Dict[str, Any] = {}

    def record(event):
        if isinstance(event, events.CallEnded):
            seen["reason"] = event.reason

    stalled = Stalled()
    with events.subscribed(record):
        async with RawServer(stalled) as server:
            task = asyncio.ensure_future(caller.http_fetch(server.url + "/", request_timeout=30))
            for _ in range(1000):  # up to 10 s: a busy machine is slow
                if stalled.arrived:
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert seen["reason"] is events.Reason.CANCELLED


async def test_a_client_closed_during_a_call_fails_its_later_attempts_clearly(
    client_kind, scripted_upstream, sleeps
):
    # The application closes the loop's client while a call waits to retry:
    # the remaining attempts fail with tornado's own error, recorded, and
    # nothing is sent on the closed client.
    route = scripted_upstream.route("GET", "/flaky", 503)

    class Closing(HTTPClientMixin):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):  # type: ignore[no-untyped-def]
            httpclient.AsyncHTTPClient().close()
            return url, headers, body

    response = await Closing().http_fetch(f"{scripted_upstream.url}/flaky")
    assert response.attempts == 3 and response.code == 503  # the last response
    assert [attempt.code for attempt in response.history] == [503]
    assert [str(error) for error in response.exceptions] == [
        "fetch() called on closed AsyncHTTPClient"
    ] * 2
    assert len(route.requests) == 1


@pytest.mark.parametrize(
    "method, options, reused",
    [
        ("POST", {}, True),  # retried if need be: keep-alive as usual
        ("POST", {"max_http_attempts": 1}, False),  # must not be sent twice
        ("POST", {"retry_methods": ("GET",)}, False),
        ("GET", {"max_http_attempts": 1}, True),  # idempotent: curl may resend it
        ("PUT", {"max_http_attempts": 1}, True),
    ],
)
async def test_curl_sends_on_a_new_connection_only_what_must_not_be_sent_twice(
    caller, serve, method, options, reused
):
    pytest.importorskip("pycurl")
    peers: List[Any] = []

    class Peer(web.RequestHandler):
        def _record(self) -> None:
            peers.append(self.request.connection.stream.socket.getpeername())

        get = post = put = _record  # type: ignore[assignment]

    url = serve([(r"/", Peer)]) + "/"
    body = None if method == "GET" else {"a": 1}
    httpclient.AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient")
    try:
        for _ in range(3):
            response = await caller.http_fetch(url, method=method, body=body, **options)
            assert response.ok
    finally:
        httpclient.AsyncHTTPClient.configure(None)
    assert len(peers) == 3
    if reused:
        assert len(set(peers)) == 1
    else:
        assert len(set(peers)) == 3


async def test_after_the_loops_client_was_closed_the_next_call_gets_a_new_one(
    client_kind, caller, serve
):
    class Ok(web.RequestHandler):
        def get(self):
            self.write("ok")

    url = serve([(r"/", Ok)]) + "/"
    assert (await caller.http_fetch(url)).ok
    httpclient.AsyncHTTPClient().close()
    response = await caller.http_fetch(url)
    assert response.ok and response.attempts == 1 and response.exceptions == []


def test_calls_from_two_event_loops_in_turn_each_use_their_loops_client():
    # A worker that runs one event loop after another (asyncio.run per
    # message, say): each loop's calls go through that loop's client.
    import http.server
    import threading

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    clients = []

    async def call() -> HTTPResponse:
        # Bounded: a client of another loop would never complete here.
        response = await asyncio.wait_for(
            HTTPClientMixin().http_fetch(url, max_http_attempts=1), timeout=10
        )
        clients.append(_transport.client())
        return response

    try:
        results = []
        for _ in range(2):
            loop = asyncio.new_event_loop()
            try:
                results.append(loop.run_until_complete(call()))
            finally:
                loop.close()
    finally:
        server.shutdown()
        server.server_close()
    assert [r.code for r in results] == [200, 200]
    assert clients[0] is not clients[1]
