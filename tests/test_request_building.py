"""What goes over the wire: headers (point 3), User-Agent (point 4), request
bodies (point 5), and the pass-through of arguments (point 8).

Every test here talks to a real Tornado server on 127.0.0.1 that records the
requests it received; the assertions are about what that server saw.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import json
import types
import uuid
from typing import Dict, List

import pytest
import umsgpack
from conftest import Caller
from tornado import httpclient, httputil, simple_httpclient, web

import sprockets_http
from sprockets_http import DEFAULT_USER_AGENT, HTTPClientMixin


class Recorder:
    """An upstream that records every request and answers 200 with a JSON body."""

    def __init__(self) -> None:
        self.requests: list = []

    def routes(self) -> list:
        recorder = self

        class Handler(web.RequestHandler):
            SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

            def _record(self, *args):
                recorder.requests.append(self.request)
                self.set_header("Content-Type", "application/json")
                self.write(b'{"seen": true}')

            get = post = put = patch = delete = _record

        return [(r"/.*", Handler)]

    @property
    def last(self):
        assert self.requests, "the upstream received no request"
        return self.requests[-1]


@pytest.fixture
def upstream(serve):
    recorder = Recorder()
    recorder.url = serve(recorder.routes()) + "/path"
    return recorder


# --- point 3: default request headers ----------------------------------------


async def test_default_accept_and_no_content_type_without_body(upstream, caller, client_kind):
    response = await caller.http_fetch(upstream.url)
    assert response.ok
    headers = upstream.last.headers
    assert headers.get_list("Accept") == ["application/json, application/msgpack"]
    assert "Content-Type" not in headers
    assert "Correlation-Id" not in headers


async def test_content_type_defaults_to_msgpack_with_a_body(upstream, caller, client_kind):
    await caller.http_fetch(upstream.url, method="POST", body={"a": 1})
    assert upstream.last.headers["Content-Type"] == "application/msgpack"
    assert umsgpack.unpackb(upstream.last.body) == {"a": 1}


async def test_content_type_argument_is_sent_as_its_str(upstream, caller):
    class ContentTypeLike:
        def __str__(self):
            return "application/vnd.example+json"

    await caller.http_fetch(upstream.url, method="POST", body=[1], content_type=ContentTypeLike())
    assert upstream.last.headers["Content-Type"] == "application/vnd.example+json"
    assert upstream.last.body == b"[1]"


async def test_caller_headers_win_and_are_sent(upstream, caller, client_kind):
    given = {
        "Accept": "text/csv",
        "Content-Type": "application/json",
        "Correlation-Id": "from-caller",
        "User-Agent": "caller-agent/1",
        "X-Custom": "yes",
    }
    caller.correlation_id = "from-attribute"
    await caller.http_fetch(upstream.url, method="POST", body={"k": "v"}, request_headers=given)
    headers = upstream.last.headers
    assert headers.get_list("Accept") == ["text/csv"]
    assert headers.get_list("Content-Type") == ["application/json"]
    assert headers.get_list("Correlation-Id") == ["from-caller"]
    assert headers.get_list("User-Agent") == ["caller-agent/1"]
    assert headers["X-Custom"] == "yes"
    # The body follows the caller's Content-Type, not the content_type default.
    assert json.loads(upstream.last.body) == {"k": "v"}


async def test_header_names_are_case_insensitive(upstream, caller, client_kind):
    given = {
        "accept": "text/plain",
        "content-type": "application/json",
        "correlation-id": "lower-case-id",
        "user-agent": "lower/1",
    }
    caller.correlation_id = "attribute-id"
    await caller.http_fetch(upstream.url, method="POST", body=[1, 2], request_headers=given)
    headers = upstream.last.headers
    # One value each, and it is the caller's: no default added beside it.
    assert headers.get_list("Accept") == ["text/plain"]
    assert headers.get_list("Content-Type") == ["application/json"]
    assert headers.get_list("Correlation-Id") == ["lower-case-id"]
    assert headers.get_list("User-Agent") == ["lower/1"]
    assert upstream.last.body == b"[1,2]"


async def test_header_names_in_any_letter_case(upstream, caller):
    given = {
        "ACCEPT": "text/csv",
        "cOnTeNt-TyPe": "application/json",
        "CORRELATION-ID": "upper-id",
        "User-agent": "mixed/2",
    }
    await caller.http_fetch(upstream.url, method="PUT", body={"a": 1}, request_headers=given)
    headers = upstream.last.headers
    assert headers.get_list("Accept") == ["text/csv"]
    assert headers.get_list("Content-Type") == ["application/json"]
    assert headers.get_list("Correlation-Id") == ["upper-id"]
    assert headers.get_list("User-Agent") == ["mixed/2"]
    assert upstream.last.body == b'{"a":1}'


async def test_caller_request_headers_dict_is_not_mutated(upstream, caller, sleeps, serve):
    given = {"X-Mine": "1"}
    snapshot = dict(given)
    await caller.http_fetch(upstream.url, method="POST", body={"a": 1}, request_headers=given)
    assert given == snapshot
    # Retries add X-Retry-Attempt to the headers they send, never to the caller's dict.
    failing = serve([(r"/", _Always503)])
    response = await caller.http_fetch(failing + "/", request_headers=given)
    assert response.attempts == 3
    assert given == snapshot


class _Always503(web.RequestHandler):
    def get(self):
        self.set_status(503)


async def test_correlation_id_from_attribute(upstream, caller):
    caller.correlation_id = "cid-attribute"
    await caller.http_fetch(upstream.url)
    assert upstream.last.headers.get_list("Correlation-Id") == ["cid-attribute"]


async def test_correlation_id_from_incoming_request_when_attribute_is_falsy(upstream):
    class WithRequest(HTTPClientMixin):
        correlation_id = ""
        request = types.SimpleNamespace(
            headers=httputil.HTTPHeaders({"Correlation-Id": "cid-incoming"})
        )

    await WithRequest().http_fetch(upstream.url)
    assert upstream.last.headers.get_list("Correlation-Id") == ["cid-incoming"]


async def test_correlation_id_attribute_beats_incoming_request(upstream):
    class WithBoth(HTTPClientMixin):
        correlation_id = "cid-attribute"
        request = types.SimpleNamespace(
            headers=httputil.HTTPHeaders({"Correlation-Id": "cid-incoming"})
        )

    await WithBoth().http_fetch(upstream.url)
    assert upstream.last.headers.get_list("Correlation-Id") == ["cid-attribute"]


# --- the handler-based test: points 2, 3 and 4 inside a real service ----------


async def test_handler_propagates_correlation_id_and_service_user_agent(serve, upstream):
    class Service(HTTPClientMixin, web.RequestHandler):
        async def get(self):
            response = await self.http_fetch(upstream.url)
            self.write(
                {
                    "upstream_code": response.code,
                    "upstream_body": response.body,
                    "simplify": self.simplify_error_response,
                }
            )

    service = serve([(r"/", Service)], service="orders", version="4.5.6")
    reply = await httpclient.AsyncHTTPClient().fetch(
        service + "/", headers={"Correlation-Id": "cid-from-the-edge"}
    )
    result = json.loads(reply.body)
    assert result == {"upstream_code": 200, "upstream_body": {"seen": True}, "simplify": True}
    seen = upstream.last.headers
    assert seen.get_list("Correlation-Id") == ["cid-from-the-edge"]
    assert seen.get_list("User-Agent") == ["orders/4.5.6"]


async def test_handler_without_incoming_correlation_id_sends_none(serve, upstream):
    class Service(HTTPClientMixin, web.RequestHandler):
        async def get(self):
            await self.http_fetch(upstream.url)
            self.write("done")

    service = serve([(r"/", Service)], service="orders")  # no version: falls through
    await httpclient.AsyncHTTPClient().fetch(service + "/")
    assert "Correlation-Id" not in upstream.last.headers
    assert upstream.last.headers["User-Agent"] == DEFAULT_USER_AGENT


# --- point 4: User-Agent --------------------------------------------------------


async def test_user_agent_argument_wins(upstream):
    class Service(HTTPClientMixin):
        settings = {"service": "svc", "version": "1"}

    await Service().http_fetch(upstream.url, user_agent="explicit/9")
    assert upstream.last.headers.get_list("User-Agent") == ["explicit/9"]


async def test_user_agent_from_settings_beats_consumer(upstream):
    class Both(HTTPClientMixin):
        settings = {"service": "svc", "version": "2.0"}
        _process = types.SimpleNamespace(consumer_name="consumer", consumer_version="1")

    await Both().http_fetch(upstream.url)
    assert upstream.last.headers["User-Agent"] == "svc/2.0"


async def test_user_agent_from_consumer_process(upstream):
    class Consumer(HTTPClientMixin):
        """Shaped like a rejected consumer: a process, no settings."""

        def __init__(self):
            super().__init__()
            self._process = types.SimpleNamespace(
                consumer_name="invoice-consumer", consumer_version="3.1.4"
            )

    consumer = Consumer()
    assert not hasattr(consumer, "settings")
    await consumer.http_fetch(upstream.url)
    assert upstream.last.headers["User-Agent"] == "invoice-consumer/3.1.4"


async def test_user_agent_partial_settings_fall_through_to_consumer(upstream):
    class Partial(HTTPClientMixin):
        settings = {"service": "svc"}
        _process = types.SimpleNamespace(consumer_name="c", consumer_version="7")

    await Partial().http_fetch(upstream.url)
    assert upstream.last.headers["User-Agent"] == "c/7"


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"_process": types.SimpleNamespace(consumer_name="only-a-name")},
        {"_process": None, "settings": {"version": "1"}},
        # A class's own _process that is not rejected's (a subprocess, say).
        {"_process": types.SimpleNamespace(consumer_version="1")},
        {"_process": types.SimpleNamespace(pid=4321)},
    ],
    ids=[
        "nothing",
        "process-without-version",
        "none-process-partial-settings",
        "process-without-name",
        "unrelated-process",
    ],
)
async def test_user_agent_default_when_nothing_is_known(upstream, attributes):
    cls = type("Bare", (HTTPClientMixin,), dict(attributes))
    await cls().http_fetch(upstream.url)
    assert upstream.last.headers["User-Agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT == f"sprockets.mixins.http/{sprockets_http.__version__}"


@pytest.mark.parametrize(
    "settings",
    [
        {"service": None, "version": "1.0"},
        {"service": "svc", "version": None},
        {"service": "", "version": "1.0"},
        {"service": "svc", "version": ""},
        {"service": None, "version": None},
    ],
    ids=["service-none", "version-none", "service-empty", "version-empty", "both-none"],
)
async def test_user_agent_none_or_empty_settings_fall_through_to_consumer(upstream, settings):
    # A None or empty value counts as missing: no "svc/None", no "/1.0".
    cls = type("Partial", (HTTPClientMixin,), {
        "settings": settings,
        "_process": types.SimpleNamespace(consumer_name="geocoder", consumer_version="2.0.1"),
    })
    await cls().http_fetch(upstream.url)
    assert upstream.last.headers["User-Agent"] == "geocoder/2.0.1"


@pytest.mark.parametrize(
    "name, version",
    [("geocoder", None), (None, "2.0.1"), ("geocoder", ""), ("", "2.0.1"), (None, None)],
    ids=["version-none", "name-none", "version-empty", "name-empty", "both-none"],
)
async def test_user_agent_none_or_empty_consumer_falls_through_to_default(
    upstream, name, version
):
    # rejected 3 sets consumer_version to None when the consumer's module has
    # no __version__ and no installed distribution: the default is sent, not
    # "geocoder/None".
    cls = type("Consumer", (HTTPClientMixin,), {
        "_process": types.SimpleNamespace(consumer_name=name, consumer_version=version),
    })
    await cls().http_fetch(upstream.url)
    assert upstream.last.headers["User-Agent"] == DEFAULT_USER_AGENT


async def test_user_agent_settings_property_raising_attribute_error_falls_through(upstream):
    class Broken(HTTPClientMixin):
        @property
        def settings(self):
            raise AttributeError("no application yet")

    await Broken().http_fetch(upstream.url)
    assert upstream.last.headers["User-Agent"] == DEFAULT_USER_AGENT


# --- point 5: request body serialization -----------------------------------------


def _unpack(body: bytes):
    """Decode msgpack as sent: str stays str, bin stays bytes."""
    return umsgpack.unpackb(body)


@pytest.mark.parametrize("value", [{"a": [1, 2], "b": None}, [1, "two"], {}, []])
async def test_dict_and_list_bodies_as_msgpack(upstream, caller, value):
    await caller.http_fetch(upstream.url, method="POST", body=value)
    assert upstream.last.headers["Content-Type"] == "application/msgpack"
    assert _unpack(upstream.last.body) == value


@pytest.mark.parametrize("value", [{"a": [1, 2], "b": None}, [1, "two"], {}, []])
async def test_dict_and_list_bodies_as_json(upstream, caller, value):
    await caller.http_fetch(
        upstream.url, method="POST", body=value, content_type="application/json"
    )
    assert upstream.last.headers["Content-Type"] == "application/json"
    assert json.loads(upstream.last.body) == value


async def test_json_is_compact_utf8(upstream, caller, client_kind):
    await caller.http_fetch(
        upstream.url,
        method="POST",
        body={"name": "café ☕", "n": [1, 2]},
        content_type=sprockets_http.CONTENT_TYPE_JSON,
    )
    assert upstream.last.body == '{"name":"café ☕","n":[1,2]}'.encode()


@pytest.mark.parametrize(
    "content_type, decode",
    [
        ("application/vnd.example+json", json.loads),
        ("application/problem+json; charset=utf-8", json.loads),
        ("application/vnd.example+msgpack", _unpack),
        ("text/vnd.example+json", json.loads),
        ("model/vnd.example+msgpack", _unpack),
    ],
)
async def test_structured_syntax_suffixes(upstream, caller, content_type, decode):
    await caller.http_fetch(upstream.url, method="POST", body={"x": 1}, content_type=content_type)
    assert upstream.last.headers["Content-Type"] == content_type
    assert decode(upstream.last.body) == {"x": 1}


_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")
_WHEN = datetime.datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=datetime.timezone.utc)
_COMMON = {
    "id": _UUID,
    "at": _WHEN,
    "day": datetime.date(2024, 2, 29),
    "time": datetime.time(13, 14, 15),
    "pair": (1, 2),
    "tags": {"solo"},
    "frozen": frozenset({3}),
}
_COMMON_EXPECTED = {
    "id": "12345678-1234-5678-1234-567812345678",
    "at": "2024-02-29T13:14:15.123456+00:00",
    "day": "2024-02-29",
    "time": "13:14:15",
    "pair": [1, 2],
    "tags": ["solo"],
    "frozen": [3],
}


async def test_common_values_in_json(upstream, caller):
    body = dict(_COMMON, raw=b"\x00\xffbin", buf=bytearray(b"ab"), view=memoryview(b"cd"))
    await caller.http_fetch(upstream.url, method="POST", body=body, content_type="application/json")
    sent = json.loads(upstream.last.body)
    assert sent == dict(
        _COMMON_EXPECTED,
        raw=base64.b64encode(b"\x00\xffbin").decode(),
        buf=base64.b64encode(b"ab").decode(),
        view=base64.b64encode(b"cd").decode(),
    )


async def test_common_values_in_msgpack(upstream, caller):
    body = dict(_COMMON, raw=b"\x00\xffbin", buf=bytearray(b"ab"), view=memoryview(b"cd"))
    await caller.http_fetch(upstream.url, method="POST", body=body)
    sent = _unpack(upstream.last.body)
    assert sent == dict(_COMMON_EXPECTED, raw=b"\x00\xffbin", buf=b"ab", view=b"cd")
    assert isinstance(sent["raw"], bytes)  # bin, not str
    # a datetime is isoformat text, not msgpack's timestamp extension
    assert isinstance(sent["at"], str)


async def test_str_and_bytes_bodies_go_as_they_are(upstream, caller):
    await caller.http_fetch(
        upstream.url, method="POST", body="plain text ü", content_type="text/plain"
    )
    assert upstream.last.body == "plain text ü".encode()
    assert upstream.last.headers["Content-Type"] == "text/plain"
    # bytes with a JSON content type are not re-encoded
    await caller.http_fetch(
        upstream.url, method="POST", body=b'{"pre":"encoded"}', content_type="application/json"
    )
    assert upstream.last.body == b'{"pre":"encoded"}'


@pytest.mark.parametrize("body", [{"a": 1}, [1], {}, []])
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
async def test_structured_body_with_other_content_type_raises_before_sending(
    upstream, caller, body, content_type
):
    with pytest.raises(ValueError):
        await caller.http_fetch(upstream.url, method="POST", body=body, content_type=content_type)
    assert upstream.requests == []


async def test_unencodable_value_raises_value_error_before_sending(upstream, caller):
    with pytest.raises(ValueError):
        await caller.http_fetch(
            upstream.url, method="POST", body={"x": object()}, content_type="application/json"
        )
    assert upstream.requests == []


# --- point 8: raise_error, extra kwargs, url objects, HTTP_MAX_CLIENTS ----------


@pytest.mark.parametrize("value", [True, False, None])
async def test_raise_error_is_refused_before_any_request(upstream, caller, value):
    with pytest.raises(RuntimeError):
        await caller.http_fetch(upstream.url, raise_error=value)
    assert upstream.requests == []


async def test_extra_kwargs_reach_fetch(serve, caller, client_kind):
    class Chunked(web.RequestHandler):
        async def get(self):
            for part in (b"first-", b"second-", b"third"):
                self.write(part)
                await self.flush()

    url = serve([(r"/", Chunked)])
    chunks: list = []
    response = await caller.http_fetch(url + "/", streaming_callback=chunks.append)
    assert response.ok
    assert b"".join(chunks) == b"first-second-third"
    # streamed chunks are not buffered into the response
    assert response.raw.body == b""


async def test_extra_header_callback_kwarg_reaches_fetch(upstream, caller):
    lines: list = []
    response = await caller.http_fetch(upstream.url, header_callback=lines.append)
    assert response.ok
    assert lines and lines[0].startswith("HTTP/1.1 200")


async def test_url_may_be_any_object_with_a_str(upstream, caller):
    class URL:
        """A yarl.URL-like object."""

        def __init__(self, text):
            self._text = text

        def __str__(self):
            return self._text

    response = await caller.http_fetch(URL(upstream.url + "/sub?q=1"))
    assert response.ok
    assert upstream.last.uri == "/path/sub?q=1"


class _Concurrency(web.RequestHandler):
    """Holds each request until three are in at once, or for ``hold`` seconds
    (a fixed short sleep let a busy machine send the third request after the
    first had been answered)."""

    active = 0
    peak = 0
    hold = 10.0
    all_in: asyncio.Event

    async def get(self):
        cls = type(self)
        cls.active += 1
        cls.peak = max(cls.peak, cls.active)
        if cls.active == 3:
            cls.all_in.set()
        try:
            await asyncio.wait_for(cls.all_in.wait(), cls.hold)
        except asyncio.TimeoutError:
            pass
        cls.active -= 1
        self.write("ok")


@pytest.mark.parametrize("env, expected_peak", [("1", 1), (None, 3), ("0", 3), ("ten", 3)])
async def test_http_max_clients_environment_variable(
    serve, caller, monkeypatch, env, expected_peak, client_kind
):
    # With both clients: the curl client sizes its pool when it is created,
    # which http_fetch does with max_clients when the variable is set.
    if env is None:
        monkeypatch.delenv("HTTP_MAX_CLIENTS", raising=False)
    else:
        monkeypatch.setenv("HTTP_MAX_CLIENTS", env)
    _Concurrency.active = _Concurrency.peak = 0
    _Concurrency.all_in = asyncio.Event()
    # With one connection at a time, each request is held 0.5 s: long enough
    # for a second one to arrive if the limit did not hold.
    _Concurrency.hold = 0.5 if expected_peak == 1 else 10.0
    url = serve([(r"/", _Concurrency)]) + "/"
    responses = await asyncio.gather(*(caller.http_fetch(url) for _ in range(3)))
    assert all(r.ok for r in responses)
    assert _Concurrency.peak == expected_peak
    if env == "1":
        assert httpclient.AsyncHTTPClient().max_clients == 1


async def test_http_max_clients_sets_the_client_attribute(upstream, caller, monkeypatch):
    monkeypatch.setenv("HTTP_MAX_CLIENTS", "37")
    await caller.http_fetch(upstream.url)
    assert httpclient.AsyncHTTPClient().max_clients == 37


async def test_default_hooks_are_used_by_http_fetch(upstream):
    """The documented hooks are the extension points: overriding them changes
    what is sent."""

    class Hooked(Caller):
        def _http_req_user_agent(self):
            return "hooked-agent/1"

        def _http_req_apply_default_headers(self, request_headers, content_type, body):
            headers = super()._http_req_apply_default_headers(request_headers, content_type, body)
            headers["X-Hooked"] = "yes"
            return headers

        def _http_req_body_serialize(self, body, content_type):
            return b"custom:" + super()._http_req_body_serialize(body, content_type)

    await Hooked().http_fetch(
        upstream.url, method="POST", body=[1], content_type="application/json"
    )
    assert upstream.last.headers["User-Agent"] == "hooked-agent/1"
    assert upstream.last.headers["X-Hooked"] == "yes"
    assert upstream.last.body == b"custom:[1]"


class _RecordingClient(simple_httpclient.SimpleAsyncHTTPClient):
    """Tornado's simple client, keeping each request its fetch_impl gets."""

    requests: list = []

    def fetch_impl(self, request, callback):  # type: ignore[no-untyped-def]
        _RecordingClient.requests.append(request)
        super().fetch_impl(request, callback)


async def test_the_client_gets_the_request_itself_with_the_client_defaults(serve, caller):
    # Not tornado's per-read proxy of the request (see _transport.fetch):
    # the request, with the client's defaults filled in once.
    url = serve([(r"/", _Ok)])
    _RecordingClient.requests = []
    httpclient.AsyncHTTPClient.configure(_RecordingClient, defaults={"ca_certs": "/no/such/ca"})
    try:
        response = await caller.http_fetch(url + "/")
    finally:
        httpclient.AsyncHTTPClient.configure(None)
    assert response.ok
    [request] = _RecordingClient.requests
    assert type(request) is httpclient.HTTPRequest
    assert request.ca_certs == "/no/such/ca"
    assert isinstance(request.headers, httputil.HTTPHeaders)


class _Ok(web.RequestHandler):
    def get(self) -> None:
        self.write("ok")


async def test_a_fetch_wrapped_before_the_import_is_still_called(serve, caller, monkeypatch):
    # An instrumentation that wrapped AsyncHTTPClient.fetch before
    # sprockets_http was imported: the fetch the package took for tornado's
    # own is the wrapper, which must still be called, not bypassed.
    from sprockets_http import _transport

    url = serve([(r"/", _Ok)])
    original = httpclient.AsyncHTTPClient.fetch
    seen = []

    @functools.wraps(original)
    def wrapper(self, request, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(request.url)
        return original(self, request, **kwargs)

    monkeypatch.setattr(httpclient.AsyncHTTPClient, "fetch", wrapper)
    monkeypatch.setattr(_transport, "_TORNADO_FETCH", wrapper)
    response = await caller.http_fetch(url + "/")
    assert response.ok
    assert seen == [url + "/"]


def test_the_default_headers_have_the_names_2_6_0_gave_them():
    # Overrides and retry hooks read these names from a plain dict.
    class Handler(HTTPClientMixin):
        correlation_id = "c0ffee"

    headers = Handler()._http_req_apply_default_headers(None, "application/json", {"a": 1})
    assert headers == {
        "Accept": "application/json, application/msgpack",
        "Content-Type": "application/json",
        "Correlation-Id": "c0ffee",
        "User-Agent": DEFAULT_USER_AGENT,
    }
    assert type(headers) is dict


async def test_a_body_producer_is_a_body(upstream, caller):
    # tornado's body_producer streams the body: a POST with one has a body.
    async def produce(write):  # type: ignore[no-untyped-def]
        await write(b'{"streamed": true}')

    response = await caller.http_fetch(
        upstream.url,
        method="POST",
        request_headers={"Content-Type": "application/json", "Content-Length": "18"},
        body_producer=produce,
    )
    assert response.ok
    assert upstream.last.body == b'{"streamed": true}'


async def test_an_override_that_sets_no_default_headers_still_gets_user_agent_and_a_body(
    upstream,
):
    # An override of _http_req_apply_default_headers that does not call
    # super(): the User-Agent is added under its usual name, and the body is
    # serialized for the call's content_type.
    from sprockets_http import events

    seen: List[Dict[str, str]] = []

    def record(event):  # type: ignore[no-untyped-def]
        if isinstance(event, events.AttemptStarted):
            seen.append(dict(event.headers))

    class Bare(HTTPClientMixin):
        def _http_req_apply_default_headers(self, request_headers, content_type, body):  # type: ignore[no-untyped-def]
            return {}

    with events.subscribed(record):
        for user_agent in ("agent/1", None):
            response = await Bare().http_fetch(
                upstream.url,
                method="POST",
                body={"a": 1},
                content_type="application/json",
                user_agent=user_agent,
            )
            assert response.ok
            assert json.loads(upstream.last.body) == {"a": 1}
    assert seen == [{"User-Agent": "agent/1"}, {"User-Agent": DEFAULT_USER_AGENT}]
