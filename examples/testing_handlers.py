"""Tests for the handler in examples/handler.py, with pytest and pytest-tornasync.

Run them with ``pytest examples/testing_handlers.py``. The users API is
sprockets_http's scripted upstream (the ``scripted_upstream`` fixture its
pytest plugin adds): a real server on 127.0.0.1 that answers as each test
scripts it, and fails the test if a scripted answer goes unused.
``retry_waits`` makes the waits between attempts instant.
"""

import json

import pytest
from handler import make_app  # examples/handler.py

from sprockets_http.testing import Answer


@pytest.fixture
def app(scripted_upstream):  # pytest-tornasync serves this application
    return make_app(scripted_upstream.url)


async def test_retries_after_server_errors(http_server_client, scripted_upstream, retry_waits):
    scripted_upstream.route("GET", "/users/ada", 503, 503, Answer(200, {"id": "ada"}))

    answer = await http_server_client.fetch("/users/ada")

    assert json.loads(answer.body) == {"user": {"id": "ada"}, "attempts": 3}
    assert scripted_upstream.requests[-1].headers["X-Retry-Attempt"] == "3"
    assert retry_waits == [3, 6]  # DEFAULT_RETRY_TIMEOUT, then twice that


async def test_a_404_is_not_retried(http_server_client, scripted_upstream, retry_waits):
    scripted_upstream.route("GET", "/users/nobody", 404)

    answer = await http_server_client.fetch("/users/nobody", raise_error=False)

    assert answer.code == 404 and retry_waits == []


async def test_connection_resets(http_server_client, scripted_upstream, retry_waits):
    scripted_upstream.route("GET", "/users/ada", *[Answer.reset_connection()] * 3)

    answer = await http_server_client.fetch("/users/ada", raise_error=False)

    assert answer.code == 502
    assert json.loads(answer.body) == {"upstream_status": 599, "attempts": 3}
