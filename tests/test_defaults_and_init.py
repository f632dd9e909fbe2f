"""Defaults are class attributes read at call time (point 1), and
``HTTPClientMixin.__init__`` passes everything through ``super()`` (point 2)."""

from __future__ import annotations

import pytest
from conftest import Caller
from tornado import httpclient, web

from sprockets_http import HTTPClientMixin


class _Always503(web.RequestHandler):
    calls = 0

    def get(self):
        type(self).calls += 1
        self.set_status(503)


class _RetryAfter(web.RequestHandler):
    def get(self):
        self.set_header("Retry-After", "3600")
        self.set_status(503)


class _Redirect(web.RequestHandler):
    """/r/N redirects to /r/N-1; /r/0 answers 200."""

    def get(self, remaining):
        remaining = int(remaining)
        if remaining:
            self.redirect(f"/r/{remaining - 1}")
        else:
            self.write("arrived")


@pytest.fixture
def failing(serve):
    _Always503.calls = 0
    return serve([(r"/", _Always503)]) + "/"


@pytest.fixture
def captured(monkeypatch):
    """The keyword arguments each AsyncHTTPClient.fetch call received (the
    call goes through to the real fetch: this only observes)."""
    seen: list = []
    real_fetch = httpclient.AsyncHTTPClient.fetch

    options = (
        "connect_timeout",
        "request_timeout",
        "follow_redirects",
        "validate_cert",
        "allow_nonstandard_methods",
    )

    def spy(self, request, *args, **kwargs):
        if isinstance(request, httpclient.HTTPRequest):
            seen.append({name: getattr(request, name) for name in options})
        else:
            seen.append(kwargs)
        return real_fetch(self, request, *args, **kwargs)

    monkeypatch.setattr(httpclient.AsyncHTTPClient, "fetch", spy)
    return seen


# --- point 1: the values ---------------------------------------------------------------


def test_default_values():
    assert HTTPClientMixin.DEFAULT_CONNECT_TIMEOUT == 20
    assert HTTPClientMixin.DEFAULT_REQUEST_TIMEOUT == 20
    assert HTTPClientMixin.DEFAULT_RETRY_TIMEOUT == 3
    assert HTTPClientMixin.MAX_HTTP_RETRIES == 3
    assert HTTPClientMixin.MAX_REDIRECTS == 5


async def test_defaults_reach_fetch(failing, caller, sleeps, captured):
    response = await caller.http_fetch(failing)
    assert response.attempts == 3  # MAX_HTTP_RETRIES
    assert sleeps == [3, 6]  # DEFAULT_RETRY_TIMEOUT
    first = captured[0]
    assert first["connect_timeout"] == 20
    assert first["request_timeout"] == 20
    # sprockets_http follows redirects itself (test_max_redirects_on_the_wire
    # covers MAX_REDIRECTS), so fetch is always told not to.
    assert first["follow_redirects"] is False
    assert first["validate_cert"] is True
    assert first["allow_nonstandard_methods"] is False


async def test_subclass_overrides(failing, sleeps, captured):
    class Tuned(HTTPClientMixin):
        DEFAULT_CONNECT_TIMEOUT = 1.5
        DEFAULT_REQUEST_TIMEOUT = 2.5
        DEFAULT_RETRY_TIMEOUT = 0.25
        MAX_HTTP_RETRIES = 4
        MAX_REDIRECTS = 2

    response = await Tuned().http_fetch(failing)
    assert response.attempts == 4
    assert _Always503.calls == 4
    assert sleeps == [0.25, 0.5, 1.0]
    assert {(c["connect_timeout"], c["request_timeout"]) for c in captured} == {(1.5, 2.5)}


async def test_instance_overrides(failing, sleeps, captured):
    caller = Caller()
    caller.DEFAULT_CONNECT_TIMEOUT = 4
    caller.DEFAULT_REQUEST_TIMEOUT = 6
    caller.DEFAULT_RETRY_TIMEOUT = 1
    caller.MAX_HTTP_RETRIES = 2
    caller.MAX_REDIRECTS = 9
    response = await caller.http_fetch(failing)
    assert response.attempts == 2
    assert sleeps == [1]
    assert (captured[0]["connect_timeout"], captured[0]["request_timeout"]) == (4, 6)
    # another instance keeps the class defaults
    sleeps.clear()
    other = await Caller().http_fetch(failing)
    assert other.attempts == 3
    assert sleeps == [3, 6]


async def test_class_attribute_changed_after_definition_is_seen(
    failing, sleeps, monkeypatch
):
    caller = Caller()
    monkeypatch.setattr(Caller, "MAX_HTTP_RETRIES", 5)
    monkeypatch.setattr(Caller, "DEFAULT_RETRY_TIMEOUT", 2)
    response = await caller.http_fetch(failing)
    assert response.attempts == 5
    assert sleeps == [2, 4, 8, 16]


async def test_request_timeout_default_caps_retry_after(serve, sleeps):
    """DEFAULT_REQUEST_TIMEOUT is the cap on a Retry-After wait."""

    class ShortTimeout(HTTPClientMixin):
        DEFAULT_REQUEST_TIMEOUT = 5

    url = serve([(r"/", _RetryAfter)]) + "/"
    await ShortTimeout().http_fetch(url)
    assert sleeps == [5, 5]


async def test_arguments_beat_the_class_attributes(failing, sleeps, captured):
    class Tuned(HTTPClientMixin):
        DEFAULT_CONNECT_TIMEOUT = 1
        DEFAULT_REQUEST_TIMEOUT = 1
        DEFAULT_RETRY_TIMEOUT = 100
        MAX_HTTP_RETRIES = 10
        MAX_REDIRECTS = 10

    response = await Tuned().http_fetch(
        failing,
        connect_timeout=7,
        request_timeout=8,
        retry_timeout=0.5,
        max_http_attempts=2,
        max_redirects=3,
    )
    assert response.attempts == 2
    assert sleeps == [0.5]
    assert (captured[0]["connect_timeout"], captured[0]["request_timeout"]) == (7, 8)


async def test_explicit_none_takes_the_class_attribute(failing, sleeps, captured):
    class Tuned(HTTPClientMixin):
        DEFAULT_RETRY_TIMEOUT = 0.5
        MAX_HTTP_RETRIES = 2
        DEFAULT_CONNECT_TIMEOUT = 3

    response = await Tuned().http_fetch(
        failing, retry_timeout=None, max_http_attempts=None, connect_timeout=None,
        request_timeout=None, max_redirects=None,
    )
    assert response.attempts == 2
    assert sleeps == [0.5]
    assert captured[0]["connect_timeout"] == 3
    assert captured[0]["request_timeout"] == 20


@pytest.mark.parametrize(
    "max_redirects, hops, code",
    [(None, 5, 200), (None, 6, 302), (2, 2, 200), (2, 3, 302)],
)
async def test_max_redirects_on_the_wire(serve, sleeps, max_redirects, hops, code):
    class Follower(HTTPClientMixin):
        pass

    if max_redirects is not None:
        Follower.MAX_REDIRECTS = max_redirects
    url = serve([(r"/r/(\d+)", _Redirect)])
    response = await Follower().http_fetch(f"{url}/r/{hops}", follow_redirects=True)
    assert response.code == code
    assert response.attempts == 1


@pytest.mark.parametrize("argument, hops, code", [(None, 3, 200), (1, 1, 200), (1, 2, 302)])
async def test_max_redirects_argument_and_instance_attribute(serve, sleeps, argument, hops, code):
    caller = Caller()
    caller.MAX_REDIRECTS = 3  # an instance override, beaten by the argument
    url = serve([(r"/r/(\d+)", _Redirect)])
    response = await caller.http_fetch(
        f"{url}/r/{hops}", follow_redirects=True, max_redirects=argument
    )
    assert response.code == code


async def test_redirects_not_followed_by_default(serve, caller):
    url = serve([(r"/r/(\d+)", _Redirect)])
    response = await caller.http_fetch(f"{url}/r/1")
    assert response.code == 302
    assert response.headers["Location"] == "/r/0"


# --- point 2: __init__ ----------------------------------------------------------------


class _Base:
    def __init__(self, first, *, second):
        self.received = (first, second)


class _WithBase(HTTPClientMixin, _Base):
    pass


def test_init_passes_arguments_through_super():
    instance = _WithBase("one", second="two")
    assert instance.received == ("one", "two")
    assert instance.simplify_error_response is True


def test_init_sets_simplify_error_response_on_a_bare_instance():
    instance = Caller()
    assert instance.__dict__["simplify_error_response"] is True


def test_init_passes_arguments_to_a_request_handler():
    from unittest import mock

    from tornado import httputil

    class Handler(HTTPClientMixin, web.RequestHandler):
        def initialize(self, extra):
            self.extra = extra

    app = web.Application([], service="svc", version="1")
    request = httputil.HTTPServerRequest(
        connection=mock.Mock(),
        start_line=httputil.RequestStartLine("GET", "/", "HTTP/1.1"),
        headers=httputil.HTTPHeaders({"Host": "127.0.0.1"}),
    )
    handler = Handler(app, request, extra="for initialize")
    assert handler.extra == "for initialize"
    assert handler.application is app
    assert handler.request is request
    assert handler.simplify_error_response is True
    assert handler._http_req_user_agent() == "svc/1"


class _BaseThatDoesNotChain:
    def __init__(self) -> None:  # never calls super().__init__()
        self.ready = True


class _NeverInitialised(_BaseThatDoesNotChain, HTTPClientMixin):
    pass


async def test_error_responses_are_simplified_when_the_mixin_init_never_ran(scripted_upstream):
    # A base class earlier in the MRO that does not chain __init__: the
    # mixin's attribute was never set, and its documented default holds.
    from sprockets_http.testing import Answer

    caller = _NeverInitialised()
    assert "simplify_error_response" not in caller.__dict__
    scripted_upstream.route(
        "GET",
        "/",
        Answer(400, b'{"message": "bad", "n": 1}', headers={"Content-Type": "application/json"}),
    )
    response = await caller.http_fetch(f"{scripted_upstream.url}/")
    assert response.code == 400 and response.body == "bad"
