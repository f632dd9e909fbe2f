"""HTTPResponse as a caller reads it: the attempt record (point 9), the
decoded body (point 10) and what malformed input does (point 11).

Responses come from a scripted upstream on loopback
(``sprockets_http.testing.ScriptedUpstream``), which sends the exact bytes and
headers each test names, and nothing else (no default Content-Type).
"""

from __future__ import annotations

import logging
import time

import pytest
import umsgpack
from tornado import gen, httpclient

import sprockets_http
from sprockets_http import BodyDecodeError, HTTPResponse, content
from sprockets_http.testing import Answer


def answer(status, headers, body, delay=0.0):
    """An Answer from (status, headers, body); a list header value sends the
    header once per item."""
    pairs = [
        (name, item)
        for name, value in headers.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    return Answer(status, body or None, headers=pairs, delay=delay)


@pytest.fixture
def fetch(scripted_upstream, caller, sleeps):
    """fetch(*replies, delay=0, **http_fetch_kwargs) -> HTTPResponse: the
    upstream answers GET / with the (status, headers, body) replies in turn
    (the last one repeats), each after *delay* seconds."""

    async def run(*replies, delay=0.0, **kwargs):
        answers = [answer(*reply, delay=delay) for reply in replies]
        scripted_upstream.route("GET", "/", *answers, repeat_last=True)
        return await caller.http_fetch(f"{scripted_upstream.url}/", **kwargs)

    return run


JSON = {"Content-Type": "application/json"}
MSGPACK = {"Content-Type": "application/msgpack"}


# --- point 9: the attempt record -----------------------------------------------


def test_fresh_response_has_no_attempts():
    response = HTTPResponse()
    assert response.attempts == 0
    assert len(response) == 0
    assert response.code == 599
    assert response.ok is False
    assert response.body is None
    assert response.headers is None
    assert response.links is None
    assert response.raw is None
    assert response.history == []
    assert response.exceptions == []
    assert response.outcomes == [] and response.waits == []


def test_a_standalone_response_times_itself_until_finished():
    before = time.monotonic()
    response = HTTPResponse()
    after = time.monotonic()
    first = response.duration
    assert 0 <= first <= time.monotonic() - before
    time.sleep(0.002)
    assert response.duration > first  # still running
    response.finish()
    frozen = response.duration
    assert frozen >= 0.002
    response.finish(at=after + 100)  # a second finish changes nothing
    assert response.duration == frozen


def test_finish_at_a_given_time():
    response = HTTPResponse()
    response._start = 10.0  # http_fetch sets the start on its own clock
    response.finish(at=12.5)
    assert response.duration == 2.5
    response.finish(at=20.0)
    assert response.duration == 2.5


async def test_attempt_counts_mix_responses_and_exceptions(scripted_upstream, caller, sleeps):
    """attempts == len() == responses + exceptions, with both kinds present."""
    scripted_upstream.route(
        "GET", "/", Answer.reset_connection(), 503, Answer(200, b'{"v":1}', headers=JSON)
    )
    response = await caller.http_fetch(f"{scripted_upstream.url}/", max_http_attempts=3)
    assert len(response.exceptions) == 1
    assert [r.code for r in response.history] == [503, 200]
    assert response.attempts == 3
    assert len(response) == 3
    assert response.ok
    assert response.body == {"v": 1}


def _closed_port_url():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/"


async def test_no_response_at_all(caller, sleeps):
    response = await caller.http_fetch(_closed_port_url())
    assert response.attempts == len(response) == len(response.exceptions) == 3
    assert response.code == 599
    assert response.ok is False
    assert response.body is None
    assert response.headers is None
    assert response.links is None
    assert response.raw is None
    assert response.history == []


@pytest.mark.parametrize(
    "status, ok",
    [(200, True), (201, True), (204, True), (302, True), (399, True), (400, False),
     (404, False), (500, False)],
)
async def test_ok_and_code(fetch, status, ok):
    response = await fetch((status, {}, b""), max_http_attempts=1)
    assert response.code == status
    assert response.ok is ok


async def test_properties_describe_the_last_response(fetch):
    response = await fetch(
        (503, {"X-Which": "first", "Content-Type": "text/plain"}, b"first body"),
        (200, {"X-Which": "second", **JSON}, b'{"n": 2}'),
    )
    assert response.code == 200
    assert isinstance(response.headers, dict)
    assert response.headers["X-Which"] == "second"
    assert response.headers["Content-Type"] == "application/json"
    assert response.body == {"n": 2}
    assert isinstance(response.raw, httpclient.HTTPResponse)
    assert response.raw is response.history[-1]
    assert response.raw.body == b'{"n": 2}'
    assert [type(r) for r in response.history] == [httpclient.HTTPResponse] * 2
    assert [r.body for r in response.history] == [b"first body", b'{"n": 2}']


async def test_duration_spans_all_attempts(fetch):
    response = await fetch((503, {}, b""), (503, {}, b""), (200, {}, b""), delay=0.03)
    assert response.attempts == 3
    # three attempts each taking >= 30 ms on the server, and the two waits,
    # which the testing mode skips but counts (3 s and 6 s)
    assert response.waits == [3, 6]
    assert 0.09 <= response.duration - 9 < 5


async def test_duration_is_frozen_once_the_call_returns(fetch):
    response = await fetch((200, {}, b""))
    first = response.duration
    await gen.sleep(0.05)
    assert response.duration == first


async def test_duration_uses_a_monotonic_clock(fetch, monkeypatch):
    # A wall clock that never moves: only a monotonic clock can see the delay.
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    response = await fetch((200, {}, b""), delay=0.05)
    assert response.duration >= 0.05


async def test_duration_includes_waits(scripted_upstream, caller, monkeypatch):
    """The waits between attempts count: make each (patched) wait really take
    20 ms and check the total."""
    import asyncio

    real_sleep = asyncio.sleep

    async def short_sleep(delay, result=None):
        return await real_sleep(0.02 if delay else 0, result)

    monkeypatch.setattr(asyncio, "sleep", short_sleep)
    scripted_upstream.route("GET", "/", 503, 503, 503, 503)
    response = await caller.http_fetch(f"{scripted_upstream.url}/", max_http_attempts=4)
    assert response.attempts == 4
    assert response.duration >= 0.06


# --- links -----------------------------------------------------------------------------


async def test_links_with_rel_and_title(fetch):
    response = await fetch(
        (200, {"Link": '<https://example.com/next>; rel="Next"; title="Next page"'}, b"")
    )
    (link,) = response.links
    assert link["target"] == "https://example.com/next"
    assert link["rel"] == "next"
    # rel is a case-insensitive token (lower-cased); a title keeps its case
    assert link["title"] == "Next page"
    assert set(link) == {"target", "rel", "title"}


async def test_multiple_links_in_one_header_and_repeated_headers(fetch):
    response = await fetch(
        (
            200,
            {
                "Link": [
                    '<https://example.com/?page=1>; rel="first", '
                    '<https://example.com/?page=3>; rel="next"',
                    '<https://example.com/?page=9>; rel="last"',
                ]
            },
            b"",
        )
    )
    links = response.links
    assert [(link["target"], link["rel"]) for link in links] == [
        ("https://example.com/?page=1", "first"),
        ("https://example.com/?page=3", "next"),
        ("https://example.com/?page=9", "last"),
    ]


async def test_links_empty_without_link_header(fetch):
    response = await fetch((200, {}, b""))
    assert response.links == []


async def test_links_come_from_the_last_response(fetch):
    response = await fetch(
        (503, {"Link": '</old>; rel="old"'}, b""),
        (200, {}, b""),
    )
    assert response.links == []


async def test_malformed_link_header_gives_what_parses_and_logs(fetch, caplog):
    caplog.set_level(logging.WARNING, logger="sprockets_http")
    response = await fetch(
        (200, {"Link": '<https://example.com/good>; rel="next", garbage-without-brackets'}, b"")
    )
    links = response.links
    assert links == [{"target": "https://example.com/good", "rel": "next"}]
    assert any(
        r.name.startswith("sprockets_http") and "Link" in r.getMessage() for r in caplog.records
    )


# --- Warning header -----------------------------------------------------------------


async def test_warning_header_logged_once_per_response(fetch, caplog):
    caplog.set_level(logging.WARNING, logger="sprockets_http")
    response = await fetch(
        (503, {"Warning": '199 - "first warning"'}, b""),
        (503, {}, b""),
        (200, {"Warning": '299 - "deprecated API"'}, b""),
    )
    assert response.ok
    # reading the properties logs nothing more
    _ = (response.body, response.headers, response.links, response.code, response.ok)
    _ = (response.body, response.headers)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum('"first warning"' in m for m in messages) == 1
    assert sum('"deprecated API"' in m for m in messages) == 1


async def test_no_warning_header_no_warning_log(fetch, caplog):
    caplog.set_level(logging.WARNING, logger="sprockets_http")
    response = await fetch((200, JSON, b"{}"))
    assert response.ok
    assert [r for r in caplog.records if r.name.startswith("sprockets_http")] == []


# --- point 10: body ----------------------------------------------------------------------


async def test_json_body_utf8_by_default(fetch):
    response = await fetch((200, JSON, '{"name":"café ☕"}'.encode()))
    assert response.body == {"name": "café ☕"}


async def test_json_body_honours_charset(fetch):
    body = '{"name":"café"}'.encode("latin-1")
    response = await fetch((200, {"Content-Type": "application/json; charset=latin-1"}, body))
    assert response.body == {"name": "café"}


async def test_json_body_utf16_charset(fetch):
    body = '["ü"]'.encode("utf-16")
    response = await fetch((200, {"Content-Type": "application/json; charset=UTF-16"}, body))
    assert response.body == ["ü"]


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/problem+json", b'{"x":[1,2]}'),
        ("application/vnd.example+msgpack", umsgpack.packb({"x": [1, 2]})),
        ("application/msgpack", umsgpack.packb({"x": [1, 2]})),
    ],
)
async def test_structured_types_decode(fetch, content_type, body):
    response = await fetch((200, {"Content-Type": content_type}, body))
    assert response.body == {"x": [1, 2]}


@pytest.mark.parametrize("backend", ["default", "umsgpack"])
async def test_msgpack_bin_values(fetch, monkeypatch, backend):
    if backend == "umsgpack":
        monkeypatch.setattr(content, "_unpack", content._unpack_python)
    packed = umsgpack.packb(
        {"text": "plain str", "utf8": "ünïcode".encode(), "blob": b"\xff\x00\xfe", b"key": [b"a"]}
    )
    response = await fetch((200, MSGPACK, packed))
    assert response.body == {
        "text": "plain str",
        "utf8": "ünïcode",
        "blob": b"\xff\x00\xfe",
        "key": ["a"],
    }


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "text/plain"}, {"Content-Type": "application/xml"},
     {}, {"Content-Type": "not a content type;;;"}],
    ids=["text", "xml", "none", "garbage"],
)
async def test_other_content_types_give_raw_bytes(fetch, headers):
    response = await fetch((200, headers, b'{"looks": "like json"}'))
    assert response.body == b'{"looks": "like json"}'


@pytest.mark.parametrize("status, headers", [(200, JSON), (200, MSGPACK), (204, {})])
async def test_empty_body_is_none(fetch, status, headers):
    response = await fetch((status, headers, b""))
    assert response.body is None


async def test_error_body_simplified_to_message(fetch):
    response = await fetch((400, JSON, b'{"message": "bad input", "field": "x"}'))
    assert response.body == "bad input"


async def test_error_body_without_message_is_returned_whole(fetch):
    response = await fetch((404, JSON, b'{"error": "nope"}'))
    assert response.body == {"error": "nope"}


@pytest.mark.parametrize(
    "body, expected", [(b'["message"]', ["message"]), (b'"text"', "text"), (b"42", 42)]
)
async def test_error_body_that_is_not_a_dict_is_returned_as_decoded(fetch, body, expected):
    response = await fetch((422, JSON, body))
    assert response.body == expected


async def test_error_body_simplified_for_msgpack_and_5xx(fetch):
    response = await fetch((500, MSGPACK, umsgpack.packb({"message": "boom"})))
    assert response.code == 500
    assert response.body == "boom"


async def test_success_body_with_message_key_is_not_simplified(fetch):
    response = await fetch((200, JSON, b'{"message": "hi", "n": 1}'))
    assert response.body == {"message": "hi", "n": 1}


async def test_simplify_error_response_false_on_the_instance(scripted_upstream, caller):
    caller.simplify_error_response = False
    scripted_upstream.route("GET", "/", Answer(400, b'{"message": "bad", "n": 1}', headers=JSON))
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.body == {"message": "bad", "n": 1}


def test_simplify_error_response_constructor_argument():
    response = HTTPResponse(simplify_error_response=False)
    raw = _tornado_response(400, b'{"message": "bad"}', {"Content-Type": "application/json"})
    response.append_response(raw)
    assert response.body == {"message": "bad"}
    simplified = HTTPResponse()
    simplified.append_response(raw)
    assert simplified.body == "bad"


def _tornado_response(code, body, headers):
    from io import BytesIO

    from tornado import httputil

    request = httpclient.HTTPRequest("http://127.0.0.1/")
    return httpclient.HTTPResponse(
        request, code, headers=httputil.HTTPHeaders(headers), buffer=BytesIO(body)
    )


async def test_body_is_decoded_once(fetch, monkeypatch):
    calls = []
    real = content.decode_body

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(sprockets_http.response.content, "decode_body", counting)
    response = await fetch((200, JSON, b'{"a": [1, 2, 3]}'))
    first = response.body
    assert response.body == {"a": [1, 2, 3]}
    assert response.body is first
    assert len(calls) == 1


# --- point 11: malformed bodies -------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", b'{"truncated": '),
        ("application/json; charset=utf-8", b"\xff\xfe not utf-8 {"),
        ("application/json; charset=no-such-charset", b"{}"),
        ("application/vnd.x+json", b"<html>not json</html>"),
        ("application/msgpack", b"\xc1"),
        ("application/msgpack", b"\x92\x01"),
        ("application/vnd.x+msgpack", b"\x01\x02"),  # two documents, not one
    ],
)
async def test_malformed_body_raises_documented_error(fetch, content_type, body):
    response = await fetch((200, {"Content-Type": content_type}, body))
    with pytest.raises(BodyDecodeError) as caught:
        _ = response.body
    assert isinstance(caught.value, ValueError)
    assert content_type.split(";")[0] in str(caught.value)
    # nothing is lost, and the other properties still work
    assert response.raw.body == body
    assert response.code == 200 and response.ok
    assert response.headers["Content-Type"] == content_type
    assert response.links == []
    # asking again gives the same error, not a different one
    with pytest.raises(BodyDecodeError):
        _ = response.body


async def test_malformed_error_body_raises_documented_error(fetch):
    response = await fetch((400, JSON, b"{oops"))
    with pytest.raises(BodyDecodeError):
        _ = response.body
    assert response.raw.body == b"{oops"


def test_body_decode_error_is_exported_and_a_value_error():
    assert issubclass(sprockets_http.BodyDecodeError, ValueError)


async def test_undecodable_body_raises_a_fresh_error_on_every_read(fetch):
    import traceback

    response = await fetch((200, {"Content-Type": "application/json"}, b"{not json"))
    errors = []
    for _ in range(5):
        with pytest.raises(BodyDecodeError) as info:
            response.body  # noqa: B018
        errors.append(info.value)
    assert len({id(error) for error in errors}) == 5
    depths = {len(traceback.extract_tb(error.__traceback__)) for error in errors}
    assert len(depths) == 1, "the traceback grew with each read"
    assert all(error.content_type == "application/json" for error in errors)
    assert response.raw.body == b"{not json"
