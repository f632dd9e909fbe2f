"""Shared fixtures: real Tornado servers on loopback, and instant retries.

* ``serve(app_or_handlers)`` starts a Tornado HTTP server on 127.0.0.1 with an
  ephemeral port and returns its base URL (``http://127.0.0.1:PORT``); the
  server stops when the test ends.
* ``sleeps`` patches :func:`asyncio.sleep` so retries are instant; it is the
  list of the waits ``http_fetch`` asked for, in order.
* ``client_kind`` runs a test once with tornado's simple client and once with
  ``CurlAsyncHTTPClient`` (skipped, with the reason shown, when pycurl cannot
  be imported).
* ``Caller`` is the smallest object using the mixin, for calls made outside a
  request handler.
* Every coroutine test runs on pytest-tornasync's fresh ``io_loop``, whether
  or not it names the fixture.
"""

from __future__ import annotations

import gc
import inspect
import json
import os
from typing import Any, Callable, Iterator, List, Union

import pytest
from tornado import httpclient, httpserver, web

from sprockets_http import HTTPClientMixin
from sprockets_http.testing import instant_retries, serve_loopback


class Caller(HTTPClientMixin):
    """A bare object with the mixin, as a rejected consumer or a script has."""


# Under mutation testing (tox -e mutation) mutmut names each test it runs by
# its node id on pytest's command line, where an id holding "::" or a
# backslash (a URL with "[::1]", a value with "\\r\\n") is not found. There,
# and only there, parametrized ids are made of printable ASCII without either.
_UNDER_MUTMUT = "MUTANT_UNDER_TEST" in os.environ


def _plain_id(text: str) -> str:
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(char if char.isprintable() else "?" for char in text)
    return text.replace("\\", "/").replace("::", ": :")


if _UNDER_MUTMUT:

    def pytest_make_parametrize_id(config: Any, val: object, argname: str) -> Any:
        if isinstance(val, (str, bytes)):
            return _plain_id(val if isinstance(val, str) else repr(val))
        return None

    _parametrize = pytest.Metafunc.parametrize

    def _parametrize_with_plain_ids(self: Any, *args: Any, ids: Any = None, **kwargs: Any) -> Any:
        if callable(ids):
            given = ids

            def ids(value: Any) -> Any:
                text = given(value)
                return None if text is None else _plain_id(str(text))

        elif ids is not None:
            ids = [None if text is None else _plain_id(str(text)) for text in ids]
        return _parametrize(self, *args, ids=ids, **kwargs)

    pytest.Metafunc.parametrize = _parametrize_with_plain_ids  # type: ignore[method-assign]


    def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
        # mutmut stops at the first failing test: run the quickest first, by
        # the durations it measured (in mutants/mutmut-stats.json).
        try:
            with open("mutmut-stats.json", encoding="utf-8") as stats:
                durations = json.load(stats)["duration_by_test"]
        except (OSError, ValueError, KeyError):
            return
        items.sort(key=lambda item: durations.get(item.nodeid, 0.0))


@pytest.fixture(autouse=True)
def _caches_start_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test starts with the package's per-process caches empty, as in a
    # new process: a test sees the code that fills them run, whichever tests
    # ran before it. (mutmut relies on this: it learns which tests run a
    # function from one run of the whole suite, then tests each mutant in a
    # process forked from that run, where a filled cache would hide the
    # mutated code.)
    from sprockets_http import _options, _transport, events, mixin

    monkeypatch.setattr(_options, "_good_urls", set())
    monkeypatch.setattr(_options, "_good_names", set())
    monkeypatch.setattr(_transport, "_env_cache", {})
    monkeypatch.setattr(_transport, "_last", (None, None))
    monkeypatch.setattr(_transport, "_curl_classes", {})
    monkeypatch.setattr(mixin, "_policies", {})
    monkeypatch.setattr(events, "_dispatch_cache", {})
    monkeypatch.setattr(events, "_otel_configured", events._load_otel)
    monkeypatch.setattr(events, "_otel_subscribers", ((), ()))
    monkeypatch.setattr(events, "_failed", set())


@pytest.fixture(autouse=True)
def _coroutine_tests_run_on_io_loop(request: pytest.FixtureRequest) -> None:
    # pytest-tornasync runs a coroutine test on the io_loop fixture when the
    # test names it, else on IOLoop.current(). With Tornado 6.2 there is no
    # current loop once an earlier test's io_loop was cleared, so a test that
    # does not name the fixture would fail with "There is no current event loop".
    if inspect.iscoroutinefunction(getattr(request, "function", None)):
        request.getfixturevalue("io_loop")


@pytest.fixture(autouse=True)
def _earlier_tests_garbage_collected_before_caplog(request: pytest.FixtureRequest) -> None:
    # An earlier test's event loop may have closed with a task still pending
    # in it: the simple client's connect to a full accept queue, which only
    # the kernel ends. Whenever the garbage collector then frees that task,
    # asyncio logs "Task was destroyed but it is pending!" at ERROR, in
    # whichever test is running. A test that asserts on the ERROR records of
    # its own call collects that garbage first, in its setup, so that what it
    # sees is its own. (A service's loop never closes: its tasks end.)
    if "caplog" in request.fixturenames:
        gc.collect()


@pytest.fixture
def serve(io_loop: Any) -> Iterator[Callable[..., str]]:
    servers: List[httpserver.HTTPServer] = []

    def start(app: Union[web.Application, list], **settings: Any) -> str:
        if not isinstance(app, web.Application):
            app = web.Application(app, **settings)
        server, url = serve_loopback(app)
        servers.append(server)
        return url

    yield start
    for server in servers:
        server.stop()
        io_loop.run_sync(server.close_all_connections, timeout=10)


@pytest.fixture
def sleeps() -> Iterator[List[float]]:
    """Make retries instant; the list records each requested wait."""
    with instant_retries() as waits:
        yield waits


def _curl_available() -> bool:
    try:
        import tornado.curl_httpclient  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(params=["simple", "curl"])
def client_kind(request: pytest.FixtureRequest, io_loop: Any) -> Iterator[str]:
    """Run the test with tornado's simple client, then with the curl client."""
    if request.param == "curl":
        if not _curl_available():
            pytest.skip("pycurl cannot be imported here: the curl variant is skipped")
        httpclient.AsyncHTTPClient.configure("tornado.curl_httpclient.CurlAsyncHTTPClient")
    else:
        httpclient.AsyncHTTPClient.configure(None)
    try:
        yield request.param
    finally:
        httpclient.AsyncHTTPClient.configure(None)


@pytest.fixture
def caller() -> Caller:
    return Caller()
