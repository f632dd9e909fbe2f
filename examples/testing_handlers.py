"""Tests for the handler in examples/handler.py, with pytest and pytest-tornasync.

Run them with ``pytest examples/testing_handlers.py``. The users API is a real
Tornado application on 127.0.0.1, so the requests, the retries and the
responses are real; only the waits between attempts are made instant.
"""

import asyncio

import pytest
from handler import UserHandler, make_app  # examples/handler.py
from tornado import httpserver, testing, web


class FakeUsersAPI(web.RequestHandler):
    """Answers with the statuses queued in ``failures``, then with the user."""

    failures: list = []
    retry_headers: list = []  # the X-Retry-Attempt header of each request

    def get(self, user_id: str) -> None:
        type(self).retry_headers.append(self.request.headers.get("X-Retry-Attempt"))
        if self.failures:
            self.set_status(self.failures.pop(0))
            return
        self.write({"id": user_id, "name": "Ada Lovelace"})


@pytest.fixture
def users_api(io_loop):
    FakeUsersAPI.failures, FakeUsersAPI.retry_headers = [], []
    sock, port = testing.bind_unused_port()  # 127.0.0.1, a free port
    server = httpserver.HTTPServer(web.Application([(r"/users/(\w+)", FakeUsersAPI)]))
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def app(users_api):  # pytest-tornasync serves this application
    return make_app(users_api)


@pytest.fixture
def sleeps(monkeypatch):
    """Way 1: patch asyncio.sleep. Retries are instant, and the list records
    each wait http_fetch asked for (it looks asyncio.sleep up at call time)."""
    waits = []
    real_sleep = asyncio.sleep

    async def instant(delay, result=None):
        if delay:  # Tornado's own sleep(0) calls are not retry waits
            waits.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", instant)
    return waits


@pytest.fixture
def fetches(monkeypatch):
    """The HTTPResponse of every http_fetch the handler makes."""
    responses = []
    original = UserHandler.http_fetch

    async def recording(self, *args, **kwargs):
        response = await original(self, *args, **kwargs)
        responses.append(response)
        return response

    monkeypatch.setattr(UserHandler, "http_fetch", recording)
    return responses


async def test_retries_after_server_errors(http_server_client, sleeps, fetches):
    FakeUsersAPI.failures = [503, 502]

    answer = await http_server_client.fetch("/users/ada", raise_error=False)

    assert answer.code == 200
    (response,) = fetches
    assert response.ok and response.attempts == 3
    assert [each.code for each in response.history] == [503, 502, 200]
    assert response.exceptions == []
    assert response.body == {"id": "ada", "name": "Ada Lovelace"}
    assert sleeps == [3, 6]  # DEFAULT_RETRY_TIMEOUT, then twice that
    assert FakeUsersAPI.retry_headers == [None, "2", "3"]


async def test_a_404_is_not_retried(http_server_client, sleeps, fetches):
    FakeUsersAPI.failures = [404]

    answer = await http_server_client.fetch("/users/nobody", raise_error=False)

    assert answer.code == 404
    assert fetches[0].attempts == 1 and sleeps == []


async def test_unreachable_upstream(http_server_client, app, monkeypatch, fetches):
    # Way 2: no waits at all. The defaults are class attributes read at each
    # call. (A Retry-After header from the upstream would still be honoured.)
    monkeypatch.setattr(UserHandler, "DEFAULT_RETRY_TIMEOUT", 0)
    sock, port = testing.bind_unused_port()
    sock.close()  # nothing listens there: every connection is refused
    app.settings["users_api"] = f"http://127.0.0.1:{port}"

    answer = await http_server_client.fetch("/users/ada", raise_error=False)

    assert answer.code == 502
    (response,) = fetches
    assert response.attempts == 3 and response.code == 599 and not response.ok
    assert response.history == []
    assert all(isinstance(error, ConnectionRefusedError) for error in response.exceptions)
