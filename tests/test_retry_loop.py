"""The retry loop against real servers: which outcomes are retried (point 6)
and how long the loop waits between attempts (point 7).

The ``sleeps`` fixture makes every wait instant and records the seconds asked
for, so the waits are asserted exactly. The upstream answers each request with
the next scripted answer; at teardown every answer must have been used, so
each test also states how many requests the call made.
"""

from __future__ import annotations

import collections
import email.utils
import socket
import ssl
import time
import types
from typing import List, NamedTuple

import pytest
from conftest import Caller
from tornado import httpclient, httputil

from sprockets_http.retry import Reason, RetryPolicy, Step
from sprockets_http.testing import Answer, RecordedRequest


class Script(NamedTuple):
    url: str
    #: what the upstream received, in order
    requests: List[RecordedRequest]


@pytest.fixture
def upstream(scripted_upstream):
    """upstream(*answers, method="GET") scripts the answers to *method* /."""

    def make(*answers, method="GET"):
        route = scripted_upstream.route(method, "/", *answers)
        return Script(f"{scripted_upstream.url}/", route.requests)

    return make


def retry_after(value: str, status: int = 503) -> Answer:
    return Answer(status, headers={"Retry-After": value})


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def silent_url():
    """A loopback server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()


# --- point 6: what is retried ---------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 301, 304, 399])
async def test_success_and_redirect_codes_return_at_once(upstream, caller, sleeps, status):
    script = upstream(Answer(status, headers={"Location": "/elsewhere"} if status == 301 else {}))
    response = await caller.http_fetch(script.url)
    assert response.code == status
    assert response.ok
    assert len(script.requests) == 1
    assert response.attempts == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 499])
async def test_client_errors_return_at_once(upstream, caller, sleeps, client_kind, status):
    script = upstream(status)
    response = await caller.http_fetch(script.url)
    assert response.code == status
    assert not response.ok
    assert len(script.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [423, 429, 500, 502, 503, 504, 599])
async def test_retryable_statuses_use_every_attempt(upstream, caller, sleeps, status):
    script = upstream(status, status, status)
    response = await caller.http_fetch(script.url)
    assert len(script.requests) == 3
    assert response.attempts == 3
    assert [r.code for r in response.history] == [status] * 3
    assert response.code == status
    assert sleeps == [3, 6]


async def test_retry_until_success(upstream, caller, sleeps, client_kind):
    script = upstream(503, 429, 200, method="POST")
    response = await caller.http_fetch(script.url, method="POST", body={"n": 1})
    assert response.ok and response.code == 200
    assert [r.code for r in response.history] == [503, 429, 200]
    assert sleeps == [3, 6]
    # every attempt carried the same body
    assert [r.body for r in script.requests] == [{"n": 1}] * 3


@pytest.mark.parametrize("status", [503, 429, 500])
async def test_dont_retry_stops_after_that_status(upstream, caller, sleeps, status):
    script = upstream(status)  # a retry would get "404 No Scripted Answer"
    response = await caller.http_fetch(script.url, dont_retry={status, 418})
    assert response.code == status
    assert len(script.requests) == 1
    assert sleeps == []


async def test_dont_retry_only_affects_listed_codes(upstream, caller, sleeps):
    script = upstream(503, 502)  # a retry after the 502 would get "404 No Scripted Answer"
    response = await caller.http_fetch(script.url, dont_retry=[502])
    assert [r.code for r in response.history] == [503, 502]
    assert sleeps == [3]


async def test_max_http_attempts_argument(upstream, caller, sleeps):
    script = upstream(*[500] * 5)
    response = await caller.http_fetch(script.url, max_http_attempts=5)
    assert len(script.requests) == 5
    assert response.attempts == 5
    assert sleeps == [3, 6, 12, 24]


async def test_single_attempt_never_waits(upstream, caller, sleeps):
    script = upstream(500)
    response = await caller.http_fetch(script.url, max_http_attempts=1)
    assert len(script.requests) == 1
    assert response.code == 500
    assert sleeps == []


@pytest.mark.parametrize("attempts", [0, -1])
async def test_max_http_attempts_below_one_raises_before_sending(upstream, caller, attempts):
    script = upstream()
    with pytest.raises(ValueError):
        await caller.http_fetch(script.url, max_http_attempts=attempts)
    assert script.requests == []


async def test_x_retry_attempt_header_on_the_wire(upstream, caller, sleeps, client_kind):
    script = upstream(503, 503, 503, 503)
    await caller.http_fetch(script.url, max_http_attempts=4)
    sent = [r.headers.get_list("X-Retry-Attempt") for r in script.requests]
    assert sent == [[], ["2"], ["3"], ["4"]]


async def test_modify_for_retry_hook_gets_the_call_state(upstream, sleeps):
    calls = []

    class Recording(Caller):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
            calls.append(
                (attempt, response.attempts, [r.code for r in response.history], url, body)
            )
            return super()._http_req_modify_for_retry(response, attempt, url, headers, body)

    script = upstream(503, 502, 200, method="POST")
    response = await Recording().http_fetch(
        script.url, method="POST", body=[1], content_type="application/json"
    )
    assert response.ok
    assert calls == [
        (1, 1, [503], script.url, b"[1]"),
        (2, 2, [503, 502], script.url, b"[1]"),
    ]


async def test_modify_for_retry_return_value_is_used(scripted_upstream, caller, sleeps):
    """The URL, headers and body the hook returns are what the next attempt sends."""
    moved = scripted_upstream.route("POST", "/moved", 200)

    class Redirecting(Caller):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
            headers = dict(headers, **{"X-Moved": str(attempt)})
            return f"{scripted_upstream.url}/moved", headers, b"new body"

    response = await Redirecting().http_fetch(
        closed_port_url(), method="POST", body=b"old body"
    )
    assert response.ok
    assert len(response.exceptions) == 1 and len(response.history) == 1
    assert response.attempts == 2
    (seen,) = moved.requests
    assert seen.path == "/moved"
    assert seen.headers["X-Moved"] == "1"
    assert seen.raw_body == b"new body"
    assert sleeps == [3]


@pytest.mark.parametrize("kind", [collections.OrderedDict, types.MappingProxyType])
async def test_modify_for_retry_may_return_any_mapping_of_headers(upstream, sleeps, kind):
    class Rebuilding(Caller):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
            return url, kind({"X-Rebuilt": str(attempt), "Accept": "text/plain"}), body

    script = upstream(503, 200)
    response = await Rebuilding().http_fetch(script.url)
    assert response.ok and response.attempts == 2
    retried = script.requests[1].headers
    assert retried["X-Rebuilt"] == "1" and retried["Accept"] == "text/plain"


async def test_modify_for_retry_returning_a_bad_header_value_raises_without_showing_it(
    upstream, sleeps
):
    class Breaking(Caller):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
            headers = httputil.HTTPHeaders()
            headers["Authorization"] = "\u2603 secret"  # item assignment is not checked
            headers.add("Authorization", "Bearer ok")
            return url, headers, body

    script = upstream(503)
    with pytest.raises(ValueError) as raised:
        await Breaking().http_fetch(script.url)
    assert str(raised.value) == (
        "request headers: the value of the header 'Authorization' contains a character "
        "that is not Latin-1 at index 0 of 8 (the value is not shown)"
    )
    assert len(script.requests) == 1  # the retry was never sent


# --- point 6/7: connection errors -----------------------------------------------


async def test_connection_refused_is_recorded_and_retried(caller, sleeps, client_kind):
    response = await caller.http_fetch(closed_port_url())
    assert response.attempts == 3
    assert len(response.exceptions) == 3
    assert all(isinstance(e, (OSError, httpclient.HTTPClientError)) for e in response.exceptions)
    assert response.history == []
    assert response.code == 599
    assert not response.ok
    assert sleeps == [3, 6]


async def test_request_timeout_is_recorded_and_retried(caller, sleeps, silent_url, client_kind):
    started = time.monotonic()
    response = await caller.http_fetch(silent_url, request_timeout=0.2, connect_timeout=0.2)
    assert time.monotonic() - started < 30  # the 0.2 s timeouts, not the 20 s defaults
    assert len(response.exceptions) == 3
    assert all(isinstance(e, httpclient.HTTPClientError) for e in response.exceptions)
    assert response.code == 599
    # the same backoff as for a status; the timeout does not clamp backoff
    assert sleeps == [3, 6]


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(104, "Connection reset by peer"),
        ssl.SSLError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
        httpclient.HTTPClientError(599, "Stream closed"),
        TimeoutError("timed out"),
    ],
    ids=["reset", "tls", "stream-closed", "timeout"],
)
async def test_injected_fetch_errors_are_retried(upstream, caller, sleeps, monkeypatch, error):
    """Errors a loopback server cannot produce on demand, injected into fetch,
    then a real response."""
    script = upstream(200)
    real_fetch = httpclient.AsyncHTTPClient.fetch
    raised = []

    def flaky_fetch(self, request, *args, **kwargs):
        if len(raised) < 2:
            raised.append(error)
            raise error
        return real_fetch(self, request, *args, **kwargs)

    monkeypatch.setattr(httpclient.AsyncHTTPClient, "fetch", flaky_fetch)
    response = await caller.http_fetch(script.url)
    assert response.ok
    assert response.exceptions == [error, error]
    assert len(response.history) == 1
    assert response.attempts == 3
    assert len(script.requests) == 1
    assert script.requests[0].headers["X-Retry-Attempt"] == "3"
    assert sleeps == [3, 6]


# --- point 7: waits ------------------------------------------------------------------


async def test_retry_timeout_argument_sets_the_first_wait(upstream, caller, sleeps):
    script = upstream(503, 503, 503, 503)
    await caller.http_fetch(script.url, retry_timeout=0.5, max_http_attempts=4)
    assert sleeps == [0.5, 1.0, 2.0]


async def test_retry_after_seconds(upstream, caller, sleeps, client_kind):
    script = upstream(*[retry_after("7")] * 3)
    response = await caller.http_fetch(script.url)
    assert response.attempts == 3
    assert sleeps == [7, 7]


async def test_retry_after_on_429(upstream, caller, sleeps):
    script = upstream(retry_after("2", status=429), 200)
    response = await caller.http_fetch(script.url)
    assert response.ok
    assert sleeps == [2]


async def test_retry_after_http_date(upstream, caller, sleeps):
    # 40 s ahead, with a request_timeout that does not clamp it. An HTTP-date
    # has a one-second resolution, and the wall clock moves while the test
    # runs (a loaded machine is slow): 30 s of slack, and still not a backoff.
    when = email.utils.formatdate(time.time() + 40, usegmt=True)
    script = upstream(retry_after(when), 200)
    response = await caller.http_fetch(script.url, request_timeout=60)
    assert response.ok
    (wait,) = sleeps
    assert 10 <= wait <= 40


async def test_retry_after_past_http_date_is_zero(upstream, caller, sleeps):
    script = upstream(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 200)
    await caller.http_fetch(script.url)
    assert sleeps == [0]


async def test_retry_after_is_clamped_to_request_timeout(upstream, caller, sleeps):
    script = upstream(*[retry_after("3600")] * 3)
    await caller.http_fetch(script.url, request_timeout=4)
    assert sleeps == [4, 4]
    # and to the default request timeout (20) when none is given
    script = upstream(*[retry_after("3600")] * 3)
    sleeps.clear()
    await caller.http_fetch(script.url)
    assert sleeps == [20, 20]


async def test_far_future_http_date_is_clamped(upstream, caller, sleeps):
    when = email.utils.formatdate(time.time() + 86400, usegmt=True)
    script = upstream(retry_after(when), 200)
    await caller.http_fetch(script.url, request_timeout=2.5)
    assert sleeps == [2.5]


async def test_negative_retry_after_is_clamped_to_zero(upstream, caller, sleeps):
    script = upstream(retry_after("-5"), 200)
    await caller.http_fetch(script.url)
    assert sleeps == [0]


@pytest.mark.parametrize("garbage", ["soon", "", "1e", "Someday, 99 Foo 2015", "NaN"])
async def test_unparseable_retry_after_falls_back_to_backoff(upstream, caller, sleeps, garbage):
    script = upstream(*[retry_after(garbage)] * 3)
    response = await caller.http_fetch(script.url)
    assert response.attempts == 3
    assert sleeps == [3, 6]


async def test_retry_after_then_backoff_per_response(upstream, caller, sleeps):
    """Each wait follows the response just received: Retry-After when it has
    one, the backoff for that retry number otherwise."""
    script = upstream(503, retry_after("1"), 503, 200)
    response = await caller.http_fetch(script.url, max_http_attempts=4)
    assert response.ok
    assert sleeps == [3, 1, 12]


class _RetryingBadRequests(RetryPolicy):
    """A caller's policy that also retries a 400, after its Retry-After."""

    def next_step(self, method, attempt, status=None, error=None, retry_after=None, *rest):  # type: ignore[no-untyped-def]
        if status == 400 and attempt < self.max_attempts:
            return Step(True, Reason.RETRYABLE_STATUS, self.wait(attempt, retry_after))
        return super().next_step(method, attempt, status, error, retry_after, *rest)


@pytest.mark.parametrize(
    "status, waits",
    [(400, [2.0]), (503, [2.0])],
)
async def test_a_policy_gets_the_retry_after_of_every_error_response(
    upstream, caller, sleeps, status, waits
):
    script = upstream(retry_after("2", status), 200)
    response = await caller.http_fetch(script.url, retry_policy=_RetryingBadRequests())
    assert response.ok and len(response.history) == 2
    assert sleeps == waits


async def test_a_policy_gets_no_retry_after_from_a_success(upstream, caller, sleeps):
    seen = []

    class Watching(RetryPolicy):
        def next_step(self, method, attempt, status=None, error=None, retry_after=None, *rest):  # type: ignore[no-untyped-def]
            seen.append((status, retry_after))
            return super().next_step(method, attempt, status, error, retry_after, *rest)

    script = upstream(Answer(399, headers={"Retry-After": "2"}), method="GET")
    response = await caller.http_fetch(script.url, retry_policy=Watching())
    assert response.code == 399
    assert seen == [(399, None)]
