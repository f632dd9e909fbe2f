"""Logging: one line per attempt at the level of the documented table
(``sprockets_http._logging``), all through ``sprockets_http.LOGGER`` with
structured fields, and no credential in any log record."""

from __future__ import annotations

import logging
import os
import socket

import pytest
from tornado import httpclient

import sprockets_http
from sprockets_http.testing import Answer

PASSWORD = "url-pa55word-XYZ"
ENCODED_PASSWORD = "p%40ss-Q7"  # "p@ss-Q7" in the URL's userinfo
BEARER = "bearer-token-ABC123"
PROXY = "proxy-secret-DEF456"
COOKIE = "session=cookie-secret-GHI789"
AUTH_PASSWORD = "auth-pa55-JKL012"
SECRETS = [PASSWORD, "p@ss-Q7", ENCODED_PASSWORD, BEARER, PROXY, COOKIE,
           "cookie-secret-GHI789", AUTH_PASSWORD]


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger="sprockets_http")
    return caplog


def ours(caplog, level=None):
    return [
        r for r in caplog.records
        if r.name.startswith("sprockets_http") and (level is None or r.levelno == level)
    ]


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_logger_is_exported():
    assert isinstance(sprockets_http.LOGGER, logging.Logger)
    assert sprockets_http.LOGGER.name.split(".")[0] == "sprockets_http"


async def test_one_line_per_attempt_warnings_for_each_failure(
    scripted_upstream, caller, sleeps, logs
):
    scripted_upstream.route("GET", "/items", 503, 503, 503)
    url = scripted_upstream.url + "/items"
    response = await caller.http_fetch(url)
    assert response.attempts == 3
    records = ours(logs)
    # one line per attempt, each naming it, all WARNING: two retries and the
    # last attempt that leaves no answer
    assert [r.levelno for r in records] == [logging.WARNING] * 3
    messages = [r.getMessage() for r in records]
    for n, message in enumerate(messages, 1):
        assert f"attempt {n} of 3" in message
        assert message.startswith(f"GET {url}: ")
        assert "503 Service Unavailable" in message
    assert "retrying in 3.000 s" in messages[0] and "retrying in 6.000 s" in messages[1]
    assert "no attempts left" in messages[2]
    assert [r.reason for r in records] == ["retryable_status"] * 2 + ["attempts_exhausted"]


async def test_success_is_one_debug_line(scripted_upstream, caller, sleeps, logs):
    scripted_upstream.route("POST", "/", 200)
    url = scripted_upstream.url + "/"
    await caller.http_fetch(url, method="POST", body=b"x")
    (record,) = ours(logs)
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    assert message.startswith(f"POST {url}: 200 OK on attempt 1 of 3")


async def test_success_after_a_retry_is_info(scripted_upstream, caller, sleeps, logs):
    scripted_upstream.route("DELETE", "/", 429, 200)
    url = scripted_upstream.url + "/"
    response = await caller.http_fetch(url, method="DELETE")
    assert response.ok
    warning, info = ours(logs)
    assert warning.levelno == logging.WARNING and info.levelno == logging.INFO
    assert "DELETE" in warning.getMessage() and "attempt 1 of 3" in warning.getMessage()
    assert "429" in warning.getMessage()
    assert "200 OK on attempt 2 of 3" in info.getMessage()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_a_4xx_is_an_answer_logged_at_debug(scripted_upstream, caller, sleeps, logs, status):
    scripted_upstream.route("GET", "/missing", status)
    url = scripted_upstream.url + "/missing"
    response = await caller.http_fetch(url)
    assert response.code == status
    (record,) = ours(logs)
    assert record.levelno == logging.DEBUG
    assert f"{status} " in record.getMessage() and url in record.getMessage()
    assert record.reason == "final_status"


@pytest.mark.parametrize("status, level", [(404, logging.DEBUG), (503, logging.WARNING)])
async def test_dont_retry_logs_a_5xx_as_a_warning_and_a_4xx_at_debug(
    scripted_upstream, caller, sleeps, logs, status, level
):
    scripted_upstream.route("GET", "/", status)
    url = scripted_upstream.url + "/"
    await caller.http_fetch(url, dont_retry=[status])
    (record,) = ours(logs)
    assert record.levelno == level and record.reason == "dont_retry"


async def test_exceptions_are_named_in_warnings(caller, sleeps, logs, client_kind):
    url = f"http://127.0.0.1:{closed_port()}/down"
    response = await caller.http_fetch(url, max_http_attempts=2)
    assert len(response.exceptions) == 2
    error = response.exceptions[-1]
    records = ours(logs, logging.WARNING)
    assert len(records) == 2
    for n, record in enumerate(records, 1):
        message = record.getMessage()
        assert f"attempt {n} of 2" in message
        assert url in message and type(error).__name__ in message
        assert record.error == type(error).__name__ and record.status is None


async def test_records_carry_structured_fields(scripted_upstream, caller, sleeps, logs):
    scripted_upstream.route(
        "GET", "/items", Answer(503, headers={"Retry-After": "2"}), 200, query="page=2"
    )
    url = scripted_upstream.url + "/items?page=2"
    await caller.http_fetch(url)
    retry, success = ours(logs)
    assert (
        retry.method, retry.url, retry.attempt, retry.attempts, retry.status, retry.error,
        retry.wait, retry.reason,
    ) == ("GET", url, 1, 3, 503, None, 2.0, "retryable_status")
    assert retry.duration >= 0
    assert (success.attempt, success.status, success.wait, success.reason) == (
        2, 200, None, "success"
    )


async def test_records_point_at_the_retry_loop(scripted_upstream, caller, sleeps, logs):
    if "MUTANT_UNDER_TEST" in os.environ:
        # Mutation testing (tox -e mutation): mutmut calls every function it
        # mutates through a trampoline of its own, which is then the caller.
        pytest.skip("under mutmut, its trampoline is the logging call's caller")
    scripted_upstream.route("GET", "/", 503, 200)
    url = scripted_upstream.url + "/"
    await caller.http_fetch(url)
    for record in ours(logs):
        assert record.filename == "mixin.py", (record.filename, record.funcName)
        assert record.funcName == "http_fetch"


def _assert_no_secret(caplog):
    assert caplog.records, "nothing was logged: the test would prove nothing"
    for record in caplog.records:
        message = record.getMessage()
        for secret in SECRETS:
            assert secret not in message, f"{secret!r} leaked in {record.name}: {message}"
    for secret in SECRETS:
        assert secret not in caplog.text


async def test_credentials_never_logged(scripted_upstream, caller, sleeps, logs, client_kind):
    sad = Answer(503, headers={"Warning": '199 - "upstream is sad"'})
    scripted_upstream.route("GET", "/secret", sad, sad, sad)
    url = scripted_upstream.url.replace("http://", f"http://alice:{PASSWORD}@") + "/secret"
    response = await caller.http_fetch(
        url,
        request_headers={
            "Authorization": f"Bearer {BEARER}",
            "Proxy-Authorization": f"Basic {PROXY}",
            "Cookie": COOKIE,
        },
    )
    assert response.attempts == 3
    messages = [r.getMessage() for r in ours(logs)]
    # the URL is still identifiable in the logs; the userinfo is redacted whole
    assert any("//[redacted]@127.0.0.1:" in m and "/secret" in m for m in messages)
    assert not any("alice" in m for m in messages)
    assert any("upstream is sad" in m for m in messages)
    _assert_no_secret(logs)


async def test_percent_encoded_url_password_never_logged(
    scripted_upstream, caller, sleeps, logs
):
    scripted_upstream.route("GET", "/", 500, 500)
    url = scripted_upstream.url.replace("http://", f"http://bob:{ENCODED_PASSWORD}@") + "/"
    await caller.http_fetch(url, max_http_attempts=2)
    _assert_no_secret(logs)


async def test_auth_password_never_logged(scripted_upstream, caller, sleeps, logs):
    scripted_upstream.route("GET", "/", 401)  # not retried
    url = scripted_upstream.url + "/"
    await caller.http_fetch(url, auth_username="carol", auth_password=AUTH_PASSWORD)
    _assert_no_secret(logs)


async def test_credentials_in_exception_text_never_logged(caller, sleeps, logs, monkeypatch):
    port = closed_port()

    def leaky_fetch(self, request, *args, **kwargs):
        raise OSError(
            f"cannot reach http://dave:{PASSWORD}@127.0.0.1:{port}/ with "
            f"Authorization: Bearer {BEARER}, Cookie {COOKIE}, proxy {PROXY}, "
            f"password {AUTH_PASSWORD}"
        )

    monkeypatch.setattr(httpclient.AsyncHTTPClient, "fetch", leaky_fetch)
    response = await caller.http_fetch(
        f"http://dave:{PASSWORD}@127.0.0.1:{port}/",
        request_headers={
            "authorization": f"Bearer {BEARER}",
            "PROXY-AUTHORIZATION": PROXY,
            "Cookie": COOKIE,
        },
        auth_username="dave",
        auth_password=AUTH_PASSWORD,
    )
    assert len(response.exceptions) == 3
    warnings = [r.getMessage() for r in ours(logs, logging.WARNING)]
    assert any("OSError" in m and "cannot reach" in m for m in warnings)
    _assert_no_secret(logs)


async def test_link_warning_does_not_leak_url_password(scripted_upstream, caller, sleeps, logs):
    scripted_upstream.route("GET", "/", Answer(200, headers={"Link": "not a link header"}))
    url = scripted_upstream.url.replace("http://", f"http://erin:{PASSWORD}@") + "/"
    response = await caller.http_fetch(url)
    assert response.links == []
    assert any("Link" in r.getMessage() for r in ours(logs, logging.WARNING))
    _assert_no_secret(logs)


@pytest.mark.parametrize(
    "url", ["http://user:S3CRET@[::1/x", "http://user:S3CRET@127.0.0.1:99999/x"]
)
def test_unparseable_urls_are_redacted_too(url):
    from sprockets_http._log import redact_url, secrets_of

    assert redact_url(url) == url.replace("user:S3CRET", "[redacted]")
    assert "S3CRET" in secrets_of(url, {}, None)
