"""One attempt through the IOLoop's ``AsyncHTTPClient``.

What the retry loop needs from the client, and nothing about retries: the
client with ``HTTP_MAX_CLIENTS`` applied, one attempt (redirects followed
here, see :mod:`sprockets_http._redirects`) that returns the response or the
exception it raised, libcurl kept from sending a request twice when the caller
said it must not be, and the client's slot released when the caller cancels.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, Union

from tornado import httpclient, httputil
from tornado.concurrent import (
    Future,
    future_set_exception_unless_cancelled,
    future_set_result_unless_cancelled,
)

from sprockets_http._headers import parse_positive_int
from sprockets_http._log import LOGGER
from sprockets_http._redirects import fetch_following_redirects

#: The largest ``HTTP_MAX_CLIENTS`` honoured. The curl client allocates one
#: libcurl handle per slot when it is created, so an absurd value would
#: allocate until memory runs out; few services need more than this many
#: requests in flight per IOLoop.
MAX_CLIENTS_LIMIT = 1000

_env_cache: Dict[str, Optional[int]] = {}

#: True while :mod:`sprockets_http.otel` has a span open for the attempt in
#: this context: the request is then marked so that fetch-level tracing
#: (``opentelemetry-instrumentation-tornado``) does not make a second span.
attempt_traced: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sprockets_http_attempt_traced", default=False
)


def max_clients_setting(text: Optional[str]) -> Optional[int]:
    """The ``max_clients`` an ``HTTP_MAX_CLIENTS`` value asks for, or None.

    Not a positive integer: logged (once per value) and ignored. Above
    :data:`MAX_CLIENTS_LIMIT`: logged and lowered to it.
    """
    if not text:
        return None
    try:
        return _env_cache[text]
    except KeyError:
        pass
    value = parse_positive_int(text)
    if value is None:
        LOGGER.warning("Ignoring HTTP_MAX_CLIENTS=%r: not a positive integer", text)
        value = None
    elif value > MAX_CLIENTS_LIMIT:
        LOGGER.warning(
            "HTTP_MAX_CLIENTS=%r is above the limit of %d; using %d",
            text,
            MAX_CLIENTS_LIMIT,
            MAX_CLIENTS_LIMIT,
        )
        value = MAX_CLIENTS_LIMIT
    if len(_env_cache) < 64:
        _env_cache[text] = value
    return value


# os.environ.get raises and catches a KeyError for an unset variable, which
# costs more than the rest of this module's work for a call; the mapping
# behind os.environ (kept in step by its __setitem__) answers at once.
_ENVIRON_DATA: Optional[Dict[Any, Any]] = getattr(os.environ, "_data", None)
_MAX_CLIENTS_KEY: Any = os.environ.encodekey("HTTP_MAX_CLIENTS")


def _max_clients_text() -> Optional[str]:
    if _ENVIRON_DATA is None:  # pragma: no cover - not CPython's os.environ
        return os.environ.get("HTTP_MAX_CLIENTS")
    raw = _ENVIRON_DATA.get(_MAX_CLIENTS_KEY)
    return None if raw is None else str(os.environ.decodevalue(raw))


# The last event loop seen and its client: AsyncHTTPClient() looks the
# IOLoop and its instance up anew each time, which costs more than the rest
# of a call's bookkeeping. One entry: a process usually runs one loop.
_last: Tuple[Any, Any] = (None, None)


def client() -> httpclient.AsyncHTTPClient:
    """The running loop's AsyncHTTPClient, with ``HTTP_MAX_CLIENTS`` applied.

    The variable is read when ``http_fetch`` first uses the loop's client (or
    after that client was closed). The simple client takes ``max_clients``
    at any time; the curl client sizes its pool when it is created, so there
    the variable counts only when this creates the loop's client (unless the
    application made one before).
    """
    global _last
    loop = asyncio.get_running_loop()
    last_loop, last_client = _last
    if loop is last_loop and not getattr(last_client, "_closed", True):
        return last_client  # type: ignore[no-any-return]
    found = _loop_client()
    _last = (loop, found)
    return found


def _loop_client() -> httpclient.AsyncHTTPClient:
    max_clients = max_clients_setting(_max_clients_text())
    if max_clients is None:
        return httpclient.AsyncHTTPClient()
    found = httpclient.AsyncHTTPClient(max_clients=max_clients)
    found.max_clients = max_clients  # type: ignore[attr-defined]
    return found


_curl_classes: Dict[type, bool] = {}


def is_curl(found: httpclient.AsyncHTTPClient) -> bool:
    """Whether *found* is tornado's ``CurlAsyncHTTPClient`` (or a subclass)."""
    kind = type(found)
    try:
        return _curl_classes[kind]
    except KeyError:
        # By name: importing tornado.curl_httpclient would import pycurl.
        answer = any(cls.__name__ == "CurlAsyncHTTPClient" for cls in kind.__mro__)
        _curl_classes[kind] = answer
        return answer


def fresh_connection(
    prepare_curl_callback: Optional[Callable[[Any], None]],
) -> Callable[[Any], None]:
    """A ``prepare_curl_callback`` that makes libcurl open a new connection.

    libcurl sends a request again, inside one attempt, when a kept-alive
    connection it reused turns out to be closed by the server: a POST the
    server read before resetting the connection goes out twice. On a new
    connection it never does that. The caller's own callback runs after.
    """
    import pycurl

    def prepare(curl: Any) -> None:
        curl.setopt(pycurl.FRESH_CONNECT, 1)
        if prepare_curl_callback is not None:
            prepare_curl_callback(curl)

    return prepare


# What AsyncHTTPClient.fetch is when nothing wraps or replaces it.
_TORNADO_FETCH: Any = httpclient.AsyncHTTPClient.__dict__.get("fetch")


def fetch(
    found: httpclient.AsyncHTTPClient, request: httpclient.HTTPRequest
) -> Awaitable[httpclient.HTTPResponse]:
    """``found.fetch(request, raise_error=False)``, for less.

    ``AsyncHTTPClient.fetch`` hands the client a ``_RequestProxy`` that fills
    in the client's defaults on each attribute read; every read first fails
    the normal look-up, which costs a formatted ``AttributeError``, and a
    request is read some 30 to 50 times: about a fifth of a small call's
    instructions with the curl client, a quarter with the simple one (see
    ``docs/performance.rst``). Here the defaults are filled into the request
    once, and the client's documented ``fetch_impl`` gets the request itself;
    the rest is what ``fetch`` does: a copy of the headers the client may
    change, and the response (or the error that is not a response) on a
    future. A client class whose ``fetch`` is replaced or wrapped (an
    instrumentation, a test double) gets its own ``fetch``.
    """
    fetch_method = type(found).fetch
    if fetch_method is not _TORNADO_FETCH or hasattr(fetch_method, "__wrapped__"):
        return found.fetch(request, raise_error=False)
    if getattr(found, "_closed", False):
        raise RuntimeError("fetch() called on closed AsyncHTTPClient")
    request.headers = httputil.HTTPHeaders(request.headers)
    for name, value in found.defaults.items():
        if getattr(request, name, None) is None:
            setattr(request, name, value)
    future: Future[httpclient.HTTPResponse] = Future()

    def handle_response(response: httpclient.HTTPResponse) -> None:
        if response.error is not None and not getattr(
            response, "_error_is_response_code", False
        ):
            future_set_exception_unless_cancelled(future, response.error)
        else:
            future_set_result_unless_cancelled(future, response)

    found.fetch_impl(request, handle_response)
    return future


class Attempt:
    """Sends the attempts of one call, and remembers the request in flight
    so that a cancelled call can give the client's slot back."""

    __slots__ = ("client", "in_flight", "max_redirects")

    def __init__(self, found: httpclient.AsyncHTTPClient, max_redirects: Optional[int]) -> None:
        self.client = found
        #: ``None``: do not follow redirects; else how many to follow.
        self.max_redirects = max_redirects
        self.in_flight: Optional[httpclient.HTTPRequest] = None

    def _request(self, url: str, fetch_args: Dict[str, Any]) -> httpclient.HTTPRequest:
        """The request of one fetch, remembered as the one in flight."""
        request = httpclient.HTTPRequest(url, follow_redirects=False, **fetch_args)
        if attempt_traced.get():
            # The Tornado instrumentation (0.66b1) leaves alone a request that
            # has this attribute, as it does tornado's own redirect hops; it
            # does not read the context's suppression keys.
            request.original_request = request  # type: ignore[attr-defined]
        self.in_flight = request
        return request

    async def fetch(
        self, url: str, follow_redirects: bool = False, **fetch_args: Any
    ) -> httpclient.HTTPResponse:
        """One request, no redirect followed (what the redirect loop calls)."""
        response: httpclient.HTTPResponse = await fetch(
            self.client, self._request(url, fetch_args)
        )
        self.in_flight = None
        return response

    async def send(
        self,
        url: str,
        fetch_args: Dict[str, Any],
        deadline: Optional[float],
        clock: Callable[[], float],
    ) -> Union[httpclient.HTTPResponse, Exception]:
        """Make one attempt: the response, or the exception it raised.

        Every exception is an outcome: the call's own arguments were checked
        before the first attempt, so what is raised here comes from the
        server, the network or the client's handling of them (a reset, a
        timeout, a header block too big, a redirect to a host that does not
        encode, ...).
        """
        try:
            if self.max_redirects is None:  # without fetch's own frame: the common case
                response: httpclient.HTTPResponse = await fetch(
                    self.client, self._request(url, fetch_args)
                )
                self.in_flight = None
                return response
            return await fetch_following_redirects(
                self,  # type: ignore[arg-type]
                url,
                self.max_redirects,
                fetch_args,
                deadline,
                clock=clock,
            )
        except Exception as error:  # noqa: BLE001 - see the docstring
            self.in_flight = None
            return error

    def release(self) -> None:
        """Give back the client's slot held by the request in flight (the call
        was cancelled), where the client allows it.

        The curl client's transfer is aborted and its handle freed; a request
        still waiting in either client's queue is removed from it. The simple
        client offers no way to stop a request it has started: that one runs
        until it ends or its ``request_timeout``.
        """
        request, self.in_flight = self.in_flight, None
        if request is None:
            return
        try:
            if is_curl(self.client):
                _release_curl(self.client, request)
            else:
                _release_simple(self.client, request)
        except Exception:  # noqa: BLE001 - best effort, on private state
            LOGGER.debug("Could not release the client slot of a cancelled request", exc_info=True)


def _is_ours(proxy: Any, request: httpclient.HTTPRequest) -> bool:
    # AsyncHTTPClient.fetch wraps the request in a _RequestProxy.
    return proxy is request or getattr(proxy, "request", None) is request


def _release_curl(found: Any, request: httpclient.HTTPRequest) -> None:
    import pycurl

    queue: List[Any] = list(getattr(found, "_requests", ()))
    for entry in queue:
        if _is_ours(entry[0], request):
            found._requests.remove(entry)
            return
    for curl in list(getattr(found, "_curls", ())):
        info = getattr(curl, "info", None)
        if info and _is_ours(info.get("request"), request):
            found._finish(curl, pycurl.E_ABORTED_BY_CALLBACK, "cancelled by the caller")
            found._process_queue()
            return


def _release_simple(found: Any, request: httpclient.HTTPRequest) -> None:
    waiting = getattr(found, "waiting", None)
    if not waiting:
        return
    for key, entry in list(waiting.items()):
        if _is_ours(entry[0], request):
            found._remove_timeout(key)  # _process_queue skips it from now on
            return
