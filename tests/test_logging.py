"""Logging (point 12): a debug line per attempt, a warning per failed attempt
and on final failure, all through ``sprockets_http.LOGGER``, and no
credential in any log record."""

from __future__ import annotations

import logging
import socket

import pytest
from tornado import httpclient, web

import sprockets_http

PASSWORD = "url-pa55word-XYZ"
ENCODED_PASSWORD = "p%40ss-Q7"  # "p@ss-Q7" in the URL's userinfo
BEARER = "bearer-token-ABC123"
PROXY = "proxy-secret-DEF456"
COOKIE = "session=cookie-secret-GHI789"
AUTH_PASSWORD = "auth-pa55-JKL012"
SECRETS = [PASSWORD, "p@ss-Q7", ENCODED_PASSWORD, BEARER, PROXY, COOKIE,
           "cookie-secret-GHI789", AUTH_PASSWORD]


class Script(web.RequestHandler):
    replies: list = []
    calls = 0

    def _reply(self):
        cls = type(self)
        cls.calls += 1
        status, headers = cls.replies[min(cls.calls, len(cls.replies)) - 1]
        self.set_status(status)
        for name, value in headers.items():
            self.set_header(name, value)

    get = post = delete = _reply


@pytest.fixture
def upstream(serve):
    def make(*replies):
        handler = type("Handler", (Script,), {"replies": list(replies), "calls": 0})
        return serve([(r"/.*", handler)])

    return make


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


async def test_debug_line_per_attempt_and_warnings_on_failure(upstream, caller, sleeps, logs):
    url = upstream((503, {})) + "/items"
    response = await caller.http_fetch(url)
    assert response.attempts == 3
    debug = [r.getMessage() for r in ours(logs, logging.DEBUG)]
    for n in (1, 2, 3):
        assert sum(f"attempt {n} of 3" in m for m in debug) == 1
    assert all("GET" in m and url in m for m in debug)
    assert len(debug) == 3

    warnings = [r.getMessage() for r in ours(logs, logging.WARNING)]
    for n in (1, 2, 3):
        matching = [m for m in warnings if f"attempt {n} of 3" in m]
        assert matching, f"no warning for attempt {n}: {warnings}"
        assert all("GET" in m and url in m and "503" in m for m in matching)
    # and one more on the final failure
    assert len(warnings) >= 4
    final = warnings[-1]
    assert "GET" in final and url in final and "503" in final
    assert all(r.name == sprockets_http.LOGGER.name or r.name.startswith(
        sprockets_http.LOGGER.name + ".") for r in ours(logs))


async def test_success_logs_no_warning(upstream, caller, sleeps, logs):
    url = upstream((200, {})) + "/"
    await caller.http_fetch(url, method="POST", body=b"x")
    assert ours(logs, logging.WARNING) == []
    (debug,) = [r.getMessage() for r in ours(logs, logging.DEBUG)]
    assert "POST" in debug and url in debug and "attempt 1 of 3" in debug


async def test_retried_then_successful_warns_for_the_failed_attempt_only(
    upstream, caller, sleeps, logs
):
    url = upstream((429, {}), (200, {})) + "/"
    response = await caller.http_fetch(url, method="DELETE")
    assert response.ok
    warnings = [r.getMessage() for r in ours(logs, logging.WARNING)]
    assert len(warnings) == 1
    assert "DELETE" in warnings[0] and "attempt 1 of 3" in warnings[0] and "429" in warnings[0]
    assert len(ours(logs, logging.DEBUG)) == 2


async def test_final_client_error_is_logged(upstream, caller, sleeps, logs):
    url = upstream((404, {})) + "/missing"
    response = await caller.http_fetch(url)
    assert response.code == 404
    warnings = [r.getMessage() for r in ours(logs, logging.WARNING)]
    assert any("attempt 1 of 3" in m and "404" in m and url in m for m in warnings)


async def test_exceptions_are_named_in_warnings(caller, sleeps, logs, client_kind):
    url = f"http://127.0.0.1:{closed_port()}/down"
    response = await caller.http_fetch(url, max_http_attempts=2)
    assert len(response.exceptions) == 2
    error = response.exceptions[-1]
    warnings = [r.getMessage() for r in ours(logs, logging.WARNING)]
    for n in (1, 2):
        matching = [m for m in warnings if f"attempt {n} of 2" in m]
        assert matching
        assert all(url in m and (type(error).__name__ in m or str(error) in m) for m in matching)
    assert len(warnings) >= 3


def _assert_no_secret(caplog):
    assert caplog.records, "nothing was logged: the test would prove nothing"
    for record in caplog.records:
        message = record.getMessage()
        for secret in SECRETS:
            assert secret not in message, f"{secret!r} leaked in {record.name}: {message}"
    for secret in SECRETS:
        assert secret not in caplog.text


async def test_credentials_never_logged(upstream, caller, sleeps, logs, client_kind):
    base = upstream((503, {"Warning": '199 - "upstream is sad"'}))
    url = base.replace("http://", f"http://alice:{PASSWORD}@") + "/secret"
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


async def test_percent_encoded_url_password_never_logged(upstream, caller, sleeps, logs):
    base = upstream((500, {}))
    url = base.replace("http://", f"http://bob:{ENCODED_PASSWORD}@") + "/"
    await caller.http_fetch(url, max_http_attempts=2)
    _assert_no_secret(logs)


async def test_auth_password_never_logged(upstream, caller, sleeps, logs):
    url = upstream((401, {}), (500, {})) + "/"
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


async def test_link_warning_does_not_leak_url_password(upstream, caller, sleeps, logs):
    base = upstream((200, {"Link": "not a link header"}))
    url = base.replace("http://", f"http://erin:{PASSWORD}@") + "/"
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
