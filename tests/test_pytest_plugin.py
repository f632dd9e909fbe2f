"""The pytest plugin (``sprockets_http.pytest_plugin``, registered through the
``pytest11`` entry point): its fixtures under pytest-tornasync, plain asyncio,
pytest-asyncio and tornado.testing, and the teardown check, on and off. Each
test runs a small test file with ``pytester``."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

HEADER = """
import asyncio

import pytest
from tornado import testing

from sprockets_http import HTTPClientMixin
from sprockets_http.testing import Answer, ScriptedUpstreamTestCase


class Client(HTTPClientMixin):
    pass
"""


def run(
    pytester: pytest.Pytester, body: str, *args: str, asyncio_plugin: bool = False
) -> pytest.RunResult:
    pytester.makepyfile(test_inner=HEADER + textwrap.dedent(body))
    # hypothesis's plugin would import hypothesis again in every run (seconds);
    # pytest-asyncio is for its own test.
    plugins = ["-p", "no:hypothesispytest"]
    if asyncio_plugin:
        plugins += ["-o", "asyncio_default_fixture_loop_scope=function"]
    else:
        plugins += ["-p", "no:asyncio"]
    return pytester.runpytest("-p", "no:cacheprovider", *plugins, *args)


def test_the_plugin_is_registered_by_its_entry_point(pytester):
    body = """
        def test_fixtures(scripted_upstream, retry_waits):
            assert scripted_upstream.url.startswith("http://127.0.0.1:")
            assert retry_waits == []
    """
    run(pytester, body).assert_outcomes(passed=1)
    result = run(pytester, body, "-p", "no:sprockets_http")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'scripted_upstream' not found*"])


def test_with_pytest_tornasync(pytester):
    run(pytester, """
        async def test_retries(scripted_upstream, retry_waits, io_loop):
            scripted_upstream.route("GET", "/users/ada", 503, 503, Answer(200, {"id": "ada"}))
            response = await Client().http_fetch(scripted_upstream.url + "/users/ada")
            assert response.body == {"id": "ada"}
            assert retry_waits == [3.0, 6.0]
            assert [r.attempt for r in scripted_upstream.requests] == [1, 2, 3]
    """).assert_outcomes(passed=1)


def test_with_asyncio_run_in_a_plain_test(pytester):
    run(pytester, """
        def test_retries(scripted_upstream, retry_waits):
            scripted_upstream.route("GET", "/", Answer.close_connection(), Answer(200, [1]))

            async def call():
                return await Client().http_fetch(scripted_upstream.url + "/")

            response = asyncio.run(call())
            assert response.body == [1] and retry_waits == [3.0]
    """).assert_outcomes(passed=1)


def test_with_pytest_asyncio(pytester):
    pytest.importorskip("pytest_asyncio", reason="the test extra installs pytest-asyncio")
    run(pytester, """
        @pytest.mark.asyncio
        async def test_retries(scripted_upstream, retry_waits):
            scripted_upstream.route("GET", "/", 502, Answer(200, {"n": 1}))
            response = await Client().http_fetch(scripted_upstream.url + "/")
            assert response.body == {"n": 1} and retry_waits == [3.0]
    """, asyncio_plugin=True).assert_outcomes(passed=1)


def test_with_tornado_testing(pytester):
    result = run(pytester, """
        class TestUsers(ScriptedUpstreamTestCase):
            @testing.gen_test
            async def test_retries(self):
                self.upstream.route("GET", "/", 503, Answer(200, {"id": 1}))
                response = await Client().http_fetch(self.upstream.url + "/")
                assert response.body == {"id": 1} and self.retry_waits == [3.0]

            def test_unused(self):
                self.upstream.route("GET", "/", 503)
    """)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*GET /: Answer(503) was not used*"])


# --- the teardown check -----------------------------------------------------------------


def test_an_unused_answer_fails_the_test_at_teardown(pytester):
    result = run(pytester, """
        async def test_one_call(scripted_upstream, io_loop):
            scripted_upstream.route("GET", "/users/ada", Answer(200), Answer(200, {"id": 2}))
            assert (await Client().http_fetch(scripted_upstream.url + "/users/ada")).ok
    """)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_one_call*",
        "*the scripted upstream http://127.0.0.1:*",
        "*- GET /users/ada: Answer(200, {'id': 2}, headers=*) was not used",
    ])


def test_an_unexpected_request_fails_the_test_at_teardown(pytester):
    result = run(pytester, """
        async def test_one_call_too_many(scripted_upstream, io_loop):
            scripted_upstream.route("GET", "/", 200)
            for _ in range(2):
                await Client().http_fetch(scripted_upstream.url + "/")
    """)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*- GET / (attempt 1) got no scripted answer: the answers of GET / were used up",
    ])


def test_the_check_turned_off_by_the_marker(pytester):
    run(pytester, """
        @pytest.mark.scripted_upstream(allow_unused=True)
        def test_unused(scripted_upstream):
            scripted_upstream.route("GET", "/", 200)

        @pytest.mark.scripted_upstream(allow_unexpected=True)
        async def test_unexpected(scripted_upstream, io_loop):
            await Client().http_fetch(scripted_upstream.url + "/nothing-here")

        @pytest.mark.scripted_upstream(allow_unused=False)
        def test_still_on(scripted_upstream):
            scripted_upstream.route("GET", "/", 200)
    """).assert_outcomes(passed=3, errors=1)


def test_the_check_turned_off_for_a_module_and_by_an_attribute(pytester):
    run(pytester, """
        pytestmark = pytest.mark.scripted_upstream(allow_unused=True)

        def test_unused(scripted_upstream):
            scripted_upstream.route("GET", "/", 200)

        def test_attribute(scripted_upstream):
            scripted_upstream.route("GET", "/", optional=True)
            scripted_upstream.allow_unexpected = True
    """).assert_outcomes(passed=2)


def test_the_marker_refuses_unknown_options(pytester):
    result = run(pytester, """
        @pytest.mark.scripted_upstream(allow_everything=True)
        def test_typo(scripted_upstream):
            pass
    """)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*takes only the keyword arguments allow_unused, "
                                 "allow_unexpected, not allow_everything*"])


def test_the_marker_is_registered(pytester):
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")
    run(pytester, """
        @pytest.mark.scripted_upstream(allow_unused=True)
        def test_marked(scripted_upstream):
            scripted_upstream.route("GET", "/", 200)
    """).assert_outcomes(passed=1)


def test_merely_installed_the_plugin_changes_nothing(pytester):
    # A test that asks for no fixture runs as without the plugin: no instant
    # retries, no event subscriber.
    run(pytester, """
        from sprockets_http import _clock, events

        def test_untouched():
            assert not _clock.instant()
            assert events._process == ()
    """).assert_outcomes(passed=1)
