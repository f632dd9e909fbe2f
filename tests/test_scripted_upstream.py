"""``sprockets_http.testing.ScriptedUpstream``: every kind of answer with both
clients, routing, exhaustion, the recorded requests, the check, and serving
from the loop the test runs on (pytest-tornasync here; plain asyncio and
tornado.testing below; the pytest plugin in test_pytest_plugin.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import unittest

import pytest
import umsgpack
from tornado import httpclient, simple_httpclient, testing

from sprockets_http import HTTPClientMixin
from sprockets_http.testing import (
    Answer,
    RecordedRequest,
    ScriptedUpstream,
    ScriptedUpstreamTestCase,
    instant_retries,
)

CURLE_GOT_NOTHING, CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR = 52, 28, 56


def curl_errno(error: BaseException) -> int:
    return getattr(error, "errno", None) or -1


# --- answers: status, headers, bodies ---------------------------------------------


async def test_status_reason_and_headers(scripted_upstream, caller, client_kind):
    scripted_upstream.route(
        "GET", "/",
        Answer(
            418, headers=[("Link", "</a>; rel=next"), ("Link", "</b>; rel=last"),
                          ("X-Trace", "t-1")],
            reason="Short And Stout",
        ),
    )
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.code == 418
    assert response.raw.reason == "Short And Stout"
    assert response.raw.headers.get_list("Link") == ["</a>; rel=next", "</b>; rel=last"]
    assert response.headers["X-Trace"] == "t-1"
    assert "Content-Type" not in response.headers  # only what the answer says


@pytest.mark.parametrize(
    "content_type, decode",
    [
        (None, json.loads),  # JSON by default
        ("application/json", json.loads),
        ("application/problem+json", json.loads),
        ("application/msgpack", umsgpack.unpackb),
        ("application/vnd.example+msgpack", umsgpack.unpackb),
    ],
)
async def test_a_value_is_encoded_by_the_content_type(
    scripted_upstream, caller, client_kind, content_type, decode
):
    document = {"id": "ada", "tags": ["x", "y"], "n": 1.5}
    scripted_upstream.route("GET", "/", Answer(200, document, content_type=content_type))
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.headers["Content-Type"] == (content_type or "application/json")
    assert decode(response.raw.body) == document
    assert response.body == document


async def test_content_type_given_as_a_header_chooses_the_encoding(scripted_upstream, caller):
    scripted_upstream.route(
        "GET", "/", Answer(200, [1, 2], headers={"content-type": "application/msgpack"})
    )
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert umsgpack.unpackb(response.raw.body) == [1, 2]


async def test_raw_bytes_and_str_bodies_are_sent_as_they_are(
    scripted_upstream, caller, client_kind
):
    scripted_upstream.route(
        "GET", "/",
        Answer(200, b"\x00\xffnot json", content_type="application/json"),
        Answer(200, b"plain bytes"),
        Answer(200, "caf\u00e9"),
    )
    url = f"{scripted_upstream.url}/"
    first, second, third = [await caller.http_fetch(url) for _ in range(3)]
    assert first.raw.body == b"\x00\xffnot json"  # not re-encoded, even as JSON
    assert second.raw.body == b"plain bytes" and "Content-Type" not in second.headers
    assert third.raw.body == "caf\u00e9".encode()
    assert third.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_head_gets_the_length_without_the_body(scripted_upstream, caller, client_kind):
    scripted_upstream.route("HEAD", "/", Answer(200, b"12345"))
    response = await caller.http_fetch(f"{scripted_upstream.url}/", method="HEAD")
    assert response.code == 200 and response.headers["Content-Length"] == "5"
    assert response.raw.body == b""


async def test_no_etag_and_no_unscripted_304(scripted_upstream, caller):
    scripted_upstream.route("GET", "/", Answer(200, b"same"), Answer(200, b"same"))
    url = f"{scripted_upstream.url}/"
    first = await caller.http_fetch(url)
    second = await caller.http_fetch(url, request_headers={"If-None-Match": "*"})
    assert "Etag" not in first.headers
    assert second.code == 200 and second.raw.body == b"same"


# --- answers: delays, resets, closes ------------------------------------------------


async def test_a_delay_is_waited_before_answering(scripted_upstream, caller, client_kind):
    scripted_upstream.route("GET", "/", Answer(200, b"late", delay=0.3))
    started = time.monotonic()
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.raw.body == b"late"
    assert time.monotonic() - started >= 0.29


async def test_a_delay_is_real_even_with_instant_retries(scripted_upstream, caller, retry_waits):
    scripted_upstream.route("GET", "/", 503, Answer(200, delay=0.2))
    started = time.monotonic()
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.ok and retry_waits == [3.0]  # the retry wait was skipped...
    assert time.monotonic() - started >= 0.19  # ...the delay was not


async def test_a_client_that_times_out_is_not_answered(scripted_upstream, caller, client_kind):
    scripted_upstream.route("GET", "/", Answer(200, b"too late", delay=30))
    started = time.monotonic()
    response = await caller.http_fetch(
        f"{scripted_upstream.url}/", request_timeout=0.3, max_http_attempts=1
    )
    assert time.monotonic() - started < 20  # the client's timeout, not the delay
    (error,) = response.exceptions
    if client_kind == "simple":
        assert isinstance(error, simple_httpclient.HTTPTimeoutError)
    else:
        assert curl_errno(error) == CURLE_OPERATION_TIMEDOUT
    assert response.code == 599


async def test_reset_connection(scripted_upstream, caller, retry_waits, client_kind):
    scripted_upstream.route("GET", "/", Answer.reset_connection(), Answer(200, {"ok": True}))
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.ok and response.attempts == 2
    (error,) = response.exceptions
    if client_kind == "simple":
        assert isinstance(error, ConnectionResetError)
    else:
        assert curl_errno(error) == CURLE_RECV_ERROR
        assert "reset" in str(error).lower()
    assert [r.attempt for r in scripted_upstream.requests] == [1, 2]


async def test_close_connection(scripted_upstream, caller, retry_waits, client_kind):
    scripted_upstream.route("GET", "/", Answer.close_connection(), Answer(200, {"ok": True}))
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.ok and response.attempts == 2
    (error,) = response.exceptions
    if client_kind == "simple":
        assert isinstance(error, simple_httpclient.HTTPStreamClosedError)
    else:
        assert curl_errno(error) == CURLE_GOT_NOTHING


@pytest.mark.parametrize("broken", [Answer.reset_connection, Answer.close_connection])
async def test_a_broken_connection_after_a_delay(scripted_upstream, caller, broken):
    scripted_upstream.route("GET", "/", broken(delay=0.2))
    started = time.monotonic()
    response = await caller.http_fetch(f"{scripted_upstream.url}/", max_http_attempts=1)
    assert response.code == 599 and len(response.exceptions) == 1
    assert time.monotonic() - started >= 0.19


async def test_breaking_connections_logs_nothing(scripted_upstream, caller, retry_waits, caplog):
    caplog.set_level(logging.DEBUG, logger="tornado")
    scripted_upstream.route(
        "GET", "/", Answer.reset_connection(), Answer.close_connection(), Answer(200)
    )
    assert (await caller.http_fetch(f"{scripted_upstream.url}/")).ok
    await asyncio.sleep(0.05)  # any callback the server side still had
    assert [
        r.getMessage() for r in caplog.records
        if r.name.startswith("tornado") and r.levelno >= logging.WARNING
    ] == []


# --- routing --------------------------------------------------------------------------


async def test_routes_by_method_and_path(scripted_upstream, caller):
    scripted_upstream.route("GET", "/users/ada", Answer(200, {"id": "ada"}))
    scripted_upstream.route("DELETE", "/users/ada", 204)
    scripted_upstream.route("get", "/users/bob", Answer(200, {"id": "bob"}))
    base = scripted_upstream.url
    assert (await caller.http_fetch(f"{base}/users/bob")).body == {"id": "bob"}
    assert (await caller.http_fetch(f"{base}/users/ada", method="DELETE")).code == 204
    assert (await caller.http_fetch(f"{base}/users/ada")).body == {"id": "ada"}
    assert [(r.method, r.path) for r in scripted_upstream.requests] == [
        ("GET", "/users/bob"), ("DELETE", "/users/ada"), ("GET", "/users/ada"),
    ]


async def test_routes_by_query_in_any_order(scripted_upstream, caller):
    page2 = scripted_upstream.route("GET", "/items", Answer(200, [3, 4]), query={"page": "2"})
    tagged = scripted_upstream.route(
        "GET", "/items", Answer(200, [9]), query="tag=a&tag=b&page=1"
    )
    anything = scripted_upstream.route("GET", "/items", Answer(200, [1, 2]))
    base = scripted_upstream.url
    assert (await caller.http_fetch(f"{base}/items?page=1&tag=b&tag=a")).body == [9]
    assert (await caller.http_fetch(f"{base}/items?page=2")).body == [3, 4]
    assert (await caller.http_fetch(f"{base}/items")).body == [1, 2]
    assert [len(r.requests) for r in (page2, tagged, anything)] == [1, 1, 1]


async def test_a_regular_expression_path_matches_the_whole_path(scripted_upstream, caller):
    users = scripted_upstream.route(
        "GET", re.compile(r"/users/\w+"), Answer(200, {"ok": 1}), repeat_last=True
    )
    base = scripted_upstream.url
    assert (await caller.http_fetch(f"{base}/users/ada")).ok
    assert (await caller.http_fetch(f"{base}/users/bob")).ok
    assert (await caller.http_fetch(f"{base}/users/ada/photos")).code == 404
    assert [r.path for r in users.requests] == ["/users/ada", "/users/bob"]
    scripted_upstream.allow_unexpected = True


async def test_the_first_route_with_an_answer_left_answers(scripted_upstream, caller):
    first = scripted_upstream.route("GET", "/", 503)
    second = scripted_upstream.route("GET", "/", Answer(200, b"second"))
    url = f"{scripted_upstream.url}/"
    assert (await caller.http_fetch(url, max_http_attempts=1)).code == 503
    assert (await caller.http_fetch(url)).raw.body == b"second"
    assert [len(first.requests), len(second.requests)] == [1, 1]


async def test_no_route_is_a_404_no_scripted_answer(scripted_upstream, caller, caplog):
    scripted_upstream.route("GET", "/known", 200)
    response = await caller.http_fetch(f"{scripted_upstream.url}/unknown?api_key=s3cret&x=1")
    assert response.code == 404 and response.raw.reason == "No Scripted Answer"
    assert b"no route matches it" in response.raw.body
    (unexpected,) = scripted_upstream.unexpected
    assert unexpected.route is None and unexpected.answer is None
    (warning,) = [r for r in caplog.records if "no scripted answer" in r.getMessage()]
    assert warning.levelno == logging.WARNING and warning.name == "sprockets_http"
    assert "/unknown?api_key=[redacted]&x=1" in warning.getMessage()
    assert "s3cret" not in warning.getMessage() and b"s3cret" not in response.raw.body
    scripted_upstream.allow_unexpected = True
    await caller.http_fetch(f"{scripted_upstream.url}/known")


# --- exhaustion -----------------------------------------------------------------------


async def test_past_the_last_answer_is_an_error_by_default(scripted_upstream, caller):
    route = scripted_upstream.route("GET", "/", 503, Answer(200, b"ok"))
    url = f"{scripted_upstream.url}/"
    with instant_retries():
        assert (await caller.http_fetch(url)).ok
    extra = await caller.http_fetch(url)
    assert extra.code == 404 and extra.raw.reason == "No Scripted Answer"
    assert b"the answers of GET / were used up" in extra.raw.body
    assert len(route.requests) == 3 and route.requests[2].answer is None
    assert scripted_upstream.unexpected == [route.requests[2]]
    with pytest.raises(AssertionError) as failed:
        scripted_upstream.check()
    assert "GET / (attempt 1) got no scripted answer: the answers of GET / were used up" in str(
        failed.value
    )
    scripted_upstream.allow_unexpected = True


async def test_repeat_last_gives_the_last_answer_again(scripted_upstream, caller, retry_waits):
    route = scripted_upstream.route("GET", "/", 500, 503, repeat_last=True)
    response = await caller.http_fetch(f"{scripted_upstream.url}/", max_http_attempts=5)
    assert [r.code for r in response.history] == [500, 503, 503, 503, 503]
    assert [r.answer for r in route.requests] == [route.answers[0]] + [route.answers[1]] * 4
    assert route.unused == () and scripted_upstream.unexpected == []
    scripted_upstream.check()


async def test_answers_can_be_added_to_a_route(scripted_upstream, caller, retry_waits):
    route = scripted_upstream.route("GET", "/", 503)
    route.add(502).add(Answer(200, b"third"))
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert [r.code for r in response.history] == [503, 502, 200]


# --- the recorded requests ------------------------------------------------------------


async def test_requests_are_recorded_with_decoded_bodies(scripted_upstream, caller, client_kind):
    route = scripted_upstream.route("POST", "/things", 201, 201, 201, 201)
    url = f"{scripted_upstream.url}/things?a=1&b=&a=2"
    await caller.http_fetch(url, method="POST", body={"name": "x", "n": [1, 2]})
    await caller.http_fetch(url, method="POST", body={"name": "y"}, content_type="application/json")
    await caller.http_fetch(url, method="POST", body=b"raw\x00bytes",
                            content_type="application/octet-stream")
    await caller.http_fetch(url, method="POST", body=b"", request_headers={"X-Tag": "t"})
    msgpack_request, json_request, raw_request, empty_request = route.requests
    assert msgpack_request.headers["Content-Type"] == "application/msgpack"
    assert msgpack_request.body == {"name": "x", "n": [1, 2]}
    assert json_request.raw_body == b'{"name":"y"}' and json_request.body == {"name": "y"}
    assert raw_request.body == b"raw\x00bytes"
    assert empty_request.body is None and empty_request.headers["X-Tag"] == "t"
    assert msgpack_request.method == "POST" and msgpack_request.path == "/things"
    assert msgpack_request.query == "a=1&b=&a=2"
    assert msgpack_request.query_arguments == {"a": ["1", "2"], "b": [""]}
    assert msgpack_request.route is route and msgpack_request.answer is route.answers[0]
    assert scripted_upstream.requests == route.requests


async def test_a_malformed_request_body_raises_a_value_error(scripted_upstream, caller):
    route = scripted_upstream.route("POST", "/", 200)
    await caller.http_fetch(f"{scripted_upstream.url}/", method="POST", body=b"{nope",
                            content_type="application/json")
    with pytest.raises(ValueError, match="the request body is not valid application/json"):
        route.requests[0].body


async def test_the_attempt_of_each_request(scripted_upstream, caller, retry_waits, client_kind):
    scripted_upstream.route("GET", "/", 503, 503, Answer(200, {"id": 1}))
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.ok
    assert [r.attempt for r in scripted_upstream.requests] == [1, 2, 3]
    assert [r.headers.get("X-Retry-Attempt") for r in scripted_upstream.requests] == [
        None, "2", "3",
    ]


@pytest.mark.parametrize("value, attempt", [("7", 7), (" 2 ", 2), ("two", 0), ("-1", 0)])
def test_the_attempt_from_any_header_value(value, attempt):
    from tornado import httputil

    headers = httputil.HTTPHeaders({"X-Retry-Attempt": value})
    assert RecordedRequest("GET", "/", "", headers, b"", None, None).attempt == attempt


# --- the check --------------------------------------------------------------------------


def test_check_names_each_unused_answer_and_skips_optional_routes():
    with ScriptedUpstream() as upstream:
        upstream.route("GET", "/a", 503, Answer(200, {"id": 1}))
        upstream.route("GET", "/b", Answer.reset_connection(), optional=True)
        with pytest.raises(AssertionError) as failed:
            upstream.check()
    lines = str(failed.value).splitlines()
    assert lines == [
        f"the scripted upstream {upstream.url}:",
        "- GET /a: Answer(503) was not used",
        "- GET /a: Answer(200, {'id': 1}, headers=[('Content-Type', 'application/json')]) "
        "was not used",
    ]
    upstream.allow_unused = True
    upstream.check()


async def test_check_passes_when_every_answer_was_used(caller, retry_waits):
    with ScriptedUpstream() as upstream:
        upstream.route("GET", "/", 503, 200)
        await caller.http_fetch(f"{upstream.url}/")
    upstream.check()
    assert upstream.unused() == []


def test_an_answer_names_itself_briefly():
    assert repr(Answer(503)) == "Answer(503)"
    assert repr(Answer.reset_connection(delay=0.5)) == "Answer.reset_connection(delay=0.5)"
    assert repr(Answer.close_connection()) == "Answer.close_connection()"
    assert repr(Answer(429, reason="Slow Down", delay=1)) == (
        "Answer(429, delay=1.0, reason='Slow Down')"
    )
    long = repr(Answer(200, b"x" * 1000))
    assert long == "Answer(200, b'" + "x" * 75 + "...)"  # 80 characters of the body


def test_allow_unused_and_allow_unexpected_from_the_constructor():
    upstream = ScriptedUpstream(allow_unused=True, allow_unexpected=True)
    upstream.route("GET", "/", 200)
    upstream.check()
    upstream.stop()


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Answer(199), "status must be an int from 200 to 599"),
        (lambda: Answer(600), "status must be an int from 200 to 599"),
        (lambda: Answer(True), "status must be an int from 200 to 599"),
        (lambda: Answer("200"), "status must be an int from 200 to 599"),
        (lambda: Answer(204, {"a": 1}), "a 204 answer has no body"),
        (lambda: Answer(200, {"a": 1}, content_type="text/html"),
         "needs a JSON or msgpack Content-Type"),
        (lambda: Answer(200, {"a": float("nan")}), "cannot encode the answer's body"),
        (lambda: Answer(200, object()), "cannot encode the answer's body"),
        (lambda: Answer(headers={"X-A": "1\r\nX-B: 2"}), "without control characters"),
        (lambda: Answer(headers={"Bad Name": "1"}), "is not a header name"),
        (lambda: Answer(headers="X-A: 1"), "mapping or"),
        (lambda: Answer(headers=[("X-A",)]), "mapping or"),
        (lambda: Answer(content_type="a/b", headers={"Content-Type": "c/d"}),
         "either as content_type or in headers"),
        (lambda: Answer(delay=-1), "delay must be a finite number"),
        (lambda: Answer(delay=float("inf")), "delay must be a finite number"),
        (lambda: Answer.reset_connection(delay=-0.5), "delay must be a finite number"),
        (lambda: Answer(reason="a\nb"), "reason must be text"),
    ],
)
def test_answers_that_cannot_be_sent_are_refused_when_scripted(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


@pytest.mark.parametrize(
    "method, path, answers, query, message",
    [
        ("GET /", "/", (), None, "method must be a method name"),
        ("GET", "users", (), None, "starts with '/'"),
        ("GET", 42, (), None, "path must be a str or a compiled regular expression"),
        ("GET", "/", ("200",), None, "an answer is an Answer or a status code"),
        ("GET", "/", (), 7, "query must be a string or a mapping"),
        ("GET", "/", (), {"a": 1}, "query names and values must be str"),
    ],
)
def test_routes_that_cannot_match_are_refused(method, path, answers, query, message):
    upstream = ScriptedUpstream()
    try:
        with pytest.raises(ValueError, match=re.escape(message)):
            upstream.route(method, path, *answers, query=query)
    finally:
        upstream.stop()


def test_a_stopped_upstream_cannot_start_again():
    upstream = ScriptedUpstream()
    upstream.stop()
    upstream.stop()  # twice is fine
    with pytest.raises(RuntimeError, match="was stopped"):
        upstream.start()


# --- the loop it serves from -------------------------------------------------------------


def _fetch_twice(url: str) -> list:
    async def call():
        return await HTTPClientMixin().http_fetch(url)

    # Two loops, one after the other, as two asyncio.run calls in one test.
    return [asyncio.run(call()).body for _ in range(2)]


def test_plain_asyncio_serves_from_the_loop_of_the_first_call():
    upstream = ScriptedUpstream()  # made outside any loop
    try:
        upstream.route("GET", "/", Answer(200, {"n": 1}), Answer(200, {"n": 2}))
        assert _fetch_twice(f"{upstream.url}/") == [{"n": 1}, {"n": 2}]
    finally:
        upstream.stop()
    upstream.check()


def test_made_inside_a_running_loop_it_serves_at_once():
    async def main():
        with ScriptedUpstream() as upstream:
            upstream.route("GET", "/", Answer(200, b"direct"))
            # A plain Tornado client: no http_fetch call to follow.
            response = await httpclient.AsyncHTTPClient().fetch(f"{upstream.url}/")
        upstream.check()
        return response.body

    assert asyncio.run(main()) == b"direct"


def test_a_delayed_answer_in_progress_ends_when_the_upstream_stops():
    async def main():
        upstream = ScriptedUpstream(allow_unused=True)
        upstream.route("GET", "/", Answer(200, b"never", delay=60))
        fetch = asyncio.ensure_future(HTTPClientMixin().http_fetch(f"{upstream.url}/",
                                                                    max_http_attempts=1))
        for _ in range(3000):  # up to 30 s: a busy machine is slow
            if upstream.requests:
                break
            await asyncio.sleep(0.01)
        assert upstream.requests
        started = time.monotonic()
        upstream.stop()
        response = await fetch
        return response.code, time.monotonic() - started

    code, elapsed = asyncio.run(main())
    assert code == 599 and elapsed < 30  # closed, not answered after 60 s


async def test_tornasync_io_loop_serves_a_plain_tornado_client(scripted_upstream, io_loop):
    scripted_upstream.route("GET", "/", Answer(200, b"on io_loop"))
    response = await httpclient.AsyncHTTPClient().fetch(f"{scripted_upstream.url}/")
    assert response.body == b"on io_loop"


# --- tornado.testing -------------------------------------------------------------------------


class Client(HTTPClientMixin):
    pass


class UpstreamCase(ScriptedUpstreamTestCase):
    __test__ = False  # run by the tests below, one of them to see it fail
    @testing.gen_test
    async def test_retries_then_answers(self):
        self.upstream.route("GET", "/users/ada", 503, 503, Answer(200, {"id": "ada"}))
        response = await Client().http_fetch(f"{self.upstream.url}/users/ada")
        assert response.body == {"id": "ada"}
        assert self.retry_waits == [3.0, 6.0]
        assert self.upstream.requests[-1].headers["X-Retry-Attempt"] == "3"

    @testing.gen_test
    async def test_unused_answer(self):
        self.upstream.route("GET", "/", 200)

    def test_allowed_unused_answer(self):
        self.upstream.route("GET", "/", 200)
        self.upstream.allow_unused = True


class UpstreamHTTPCase(ScriptedUpstreamTestCase, testing.AsyncHTTPTestCase):
    __test__ = False
    def get_app(self):
        from tornado import web

        upstream = self.upstream

        class Proxy(HTTPClientMixin, web.RequestHandler):
            async def get(self):
                response = await self.http_fetch(f"{upstream.url}/thing")
                self.write({"thing": response.body, "attempts": response.attempts})

        return web.Application([("/", Proxy)])

    def test_the_handler_answers_after_retries(self):
        self.upstream.route("GET", "/thing", Answer.reset_connection(), Answer(200, [1]))
        response = self.fetch("/")
        assert response.code == 200
        assert json.loads(response.body) == {"thing": [1], "attempts": 2}
        assert self.retry_waits == [3.0]


def _run_case(case: unittest.TestCase) -> unittest.TestResult:
    result = unittest.TestResult()
    case.run(result)
    return result


def test_tornado_testing_case_passes_and_checks():
    passed = _run_case(UpstreamCase("test_retries_then_answers"))
    assert passed.wasSuccessful(), passed.errors + passed.failures
    failed = _run_case(UpstreamCase("test_unused_answer"))
    ((_, traceback),) = failed.errors + failed.failures
    assert "GET /: Answer(200) was not used" in traceback
    allowed = _run_case(UpstreamCase("test_allowed_unused_answer"))
    assert allowed.wasSuccessful(), allowed.errors + allowed.failures


def test_tornado_testing_http_case():
    result = _run_case(UpstreamHTTPCase("test_the_handler_answers_after_retries"))
    assert result.wasSuccessful(), result.errors + result.failures


def test_tornado_testing_case_leaves_instant_retries_off():
    from sprockets_http import _clock

    _run_case(UpstreamCase("test_allowed_unused_answer"))
    assert not _clock.instant()

