"""``HTTPClientMixin``: ``AsyncHTTPClient.fetch`` in a retry loop."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Collection, Dict, Mapping, Optional, Tuple, Union

from tornado import httpclient

from sprockets_http import content
from sprockets_http._headers import find_header, header_value, parse_positive_int
from sprockets_http._log import LOGGER, describe_outcome, redact_url, secrets_of
from sprockets_http._redirects import fetch_following_redirects
from sprockets_http._version import __version__
from sprockets_http.response import HTTPResponse
from sprockets_http.retry import Decision, RetryBudget, RetryPolicy

__all__ = ["DEFAULT_USER_AGENT", "HTTPClientMixin"]

#: The User-Agent sent when nothing more specific is known.
DEFAULT_USER_AGENT = f"sprockets.mixins.http/{__version__}"


def _client() -> httpclient.AsyncHTTPClient:
    """The IOLoop's AsyncHTTPClient, with ``HTTP_MAX_CLIENTS`` applied.

    The simple client reads ``max_clients`` on every request; the curl client
    sizes its pool when it is created, so there the variable counts only when
    this creates the IOLoop's client (the first call on that loop, unless the
    application made one before).
    """
    text = os.environ.get("HTTP_MAX_CLIENTS")
    if not text:
        return httpclient.AsyncHTTPClient()
    max_clients = parse_positive_int(text)
    if max_clients is None:
        LOGGER.warning("Ignoring HTTP_MAX_CLIENTS=%r: not a positive integer", text)
        return httpclient.AsyncHTTPClient()
    client = httpclient.AsyncHTTPClient(max_clients=max_clients)
    client.max_clients = max_clients  # type: ignore[attr-defined]
    return client


class _CallLog:
    """Writes the log lines of one call.

    Every line starts with the method and the URL, its password redacted;
    exception texts are scrubbed of the request's credentials. Nothing of
    this is worked out for a call that succeeds at once.
    """

    __slots__ = ("attempts", "auth_password", "headers", "method", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        auth_password: Optional[str],
        attempts: int,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.auth_password = auth_password
        self.attempts = attempts

    def attempt(self, number: int) -> None:
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug(
                "%s %s (attempt %d of %d)", self.method, redact_url(self.url), number,
                self.attempts,
            )

    def warning(self, message: str, *args: Any) -> None:
        """Log ``"METHOD URL" + message`` at WARNING."""
        LOGGER.warning("%s %s" + message, self.method, redact_url(self.url), *args)

    def describe(self, outcome: Any) -> str:
        """``"503 Service Unavailable"``, or an exception's type and text
        without credentials."""
        if isinstance(outcome, httpclient.HTTPResponse):
            return describe_outcome(outcome)
        return describe_outcome(outcome, secrets_of(self.url, self.headers, self.auth_password))


class HTTPClientMixin:
    """Mixin for making http requests using the asynchronous :meth:`http_fetch`.

    Put it before :class:`tornado.web.RequestHandler` (or a rejected
    consumer class) in the bases. The defaults below are read at call time,
    so a subclass or an instance can override them; an :meth:`http_fetch`
    argument left at ``None`` takes them.
    """

    #: Seconds to wait for a connection.
    DEFAULT_CONNECT_TIMEOUT: float = 20
    #: Seconds for a whole attempt.
    DEFAULT_REQUEST_TIMEOUT: float = 20
    #: Seconds before the first retry; each further retry waits twice as long.
    DEFAULT_RETRY_TIMEOUT: float = 3
    #: Attempts in all, the first included.
    MAX_HTTP_RETRIES: int = 3
    #: Redirects followed when ``follow_redirects`` is true.
    MAX_REDIRECTS: int = 5
    #: A cap on each computed backoff wait, in seconds; ``None``: no cap.
    MAX_RETRY_TIMEOUT: Optional[float] = None
    #: Draw each backoff wait uniformly from ``[0, wait]`` ("full jitter").
    RETRY_JITTER: bool = False
    #: A deadline in seconds for a whole call, attempts and waits together.
    DEFAULT_TOTAL_TIMEOUT: Optional[float] = None
    #: Methods retried after a 5xx or a connection error; ``None``: all.
    RETRY_METHODS: Optional[Collection[str]] = None
    #: A :class:`~sprockets_http.RetryBudget` shared by calls; ``None``: none.
    RETRY_BUDGET: Optional[RetryBudget] = None

    simplify_error_response: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: See :class:`~sprockets_http.HTTPResponse`'s parameter of that name.
        #: Set before the base class's ``__init__`` so that a handler's
        #: ``initialize()`` (which ``RequestHandler.__init__`` calls) can
        #: change it.
        self.simplify_error_response = True
        super().__init__(*args, **kwargs)

    async def http_fetch(
        self,
        url: Any,
        method: str = "GET",
        request_headers: Optional[Mapping[str, str]] = None,
        body: Any = None,
        content_type: content.ContentTypeLike = content.CONTENT_TYPE_MSGPACK,
        follow_redirects: bool = False,
        max_redirects: Optional[int] = None,
        connect_timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
        retry_timeout: Optional[float] = None,
        max_http_attempts: Optional[int] = None,
        auth_username: Optional[str] = None,
        auth_password: Optional[str] = None,
        user_agent: Optional[str] = None,
        validate_cert: bool = True,
        allow_nonstandard_methods: bool = False,
        dont_retry: Optional[Collection[int]] = None,
        *,
        max_retry_timeout: Optional[float] = None,
        retry_jitter: Optional[bool] = None,
        total_timeout: Optional[float] = None,
        retry_methods: Optional[Collection[str]] = None,
        **kwargs: Any,
    ) -> HTTPResponse:
        """Perform a HTTP request.

        Will retry up to *max_http_attempts* times with an exponentially
        increasing sleep time starting with *retry_timeout* seconds. If a
        ``Retry-After`` header is included in a response, then it overrides
        the calculated sleep time. Never raises for a status or a connection
        failure: read :attr:`HTTPResponse.ok`.

        :param url: the URL for the request (any object whose ``str()`` is it)
        :param method: the HTTP request method, defaults to ``GET``
        :param request_headers: headers to include in the request; the dict
            is copied, never changed
        :param body: the request body: str and bytes go as they are, other
            values (dicts, lists, ...) are encoded by the Content-Type
        :param content_type: the Content-Type for a request body, defaults to
            ``application/msgpack``
        :param follow_redirects: follow HTTP redirects when received. They are
            followed by sprockets_http, alike with every client: credentials
            (``auth_username``/``auth_password``, the ``Authorization`` and
            ``Cookie`` headers, URL userinfo) are dropped on a redirect to
            another origin, the deadline covers every hop, and a redirect
            that cannot be followed returns its 3xx response
        :param max_redirects: maximum number of redirects to follow, default
            :attr:`MAX_REDIRECTS` (5)
        :param connect_timeout: timeout for the connection in seconds, default
            :attr:`DEFAULT_CONNECT_TIMEOUT` (20)
        :param request_timeout: timeout for each attempt in seconds, default
            :attr:`DEFAULT_REQUEST_TIMEOUT` (20); also the cap on a
            ``Retry-After`` wait
        :param retry_timeout: the wait before the first retry in seconds,
            doubled for each further one, default :attr:`DEFAULT_RETRY_TIMEOUT` (3)
        :param max_http_attempts: attempts in all, default
            :attr:`MAX_HTTP_RETRIES` (3)
        :param auth_username: username for HTTP authentication
        :param auth_password: password for HTTP authentication
        :param user_agent: the User-Agent header; see :meth:`_http_req_user_agent`
            for the default
        :param validate_cert: for HTTPS requests, validate the server's
            certificate? Default is True
        :param allow_nonstandard_methods: allow methods that don't adhere to
            the HTTP spec
        :param dont_retry: status codes that end the call without a retry.
            Default: none
        :param max_retry_timeout: a cap on each backoff wait in seconds,
            default :attr:`MAX_RETRY_TIMEOUT` (none)
        :param retry_jitter: draw each backoff wait from ``[0, wait]``,
            default :attr:`RETRY_JITTER` (False); Retry-After waits are kept
        :param total_timeout: a deadline in seconds for the whole call,
            default :attr:`DEFAULT_TOTAL_TIMEOUT` (none)
        :param retry_methods: methods retried after a 5xx or connection error,
            default :attr:`RETRY_METHODS` (all); 423 and 429 always retry
        :param kwargs: passed to :meth:`tornado.httpclient.AsyncHTTPClient.fetch`
        :rtype: HTTPResponse
        :raises RuntimeError: if the ``raise_error`` keyword argument is given
        :raises ValueError: if *max_http_attempts* is below 1, or *body* cannot
            be encoded for its Content-Type; no request is sent
        """
        if "raise_error" in kwargs:
            raise RuntimeError(
                "raise_error is not supported: http_fetch never raises for a "
                "response; read HTTPResponse.ok and .code instead"
            )
        attempts = self.MAX_HTTP_RETRIES if max_http_attempts is None else max_http_attempts
        if attempts < 1:
            raise ValueError(f"max_http_attempts must be at least 1, not {attempts!r}")
        if connect_timeout is None:
            connect_timeout = self.DEFAULT_CONNECT_TIMEOUT
        if request_timeout is None:
            request_timeout = self.DEFAULT_REQUEST_TIMEOUT
        if total_timeout is None:
            total_timeout = self.DEFAULT_TOTAL_TIMEOUT
        policy = RetryPolicy(
            max_attempts=attempts,
            retry_timeout=self.DEFAULT_RETRY_TIMEOUT if retry_timeout is None else retry_timeout,
            request_timeout=request_timeout,
            dont_retry=dont_retry or (),
            max_retry_timeout=(
                self.MAX_RETRY_TIMEOUT if max_retry_timeout is None else max_retry_timeout
            ),
            jitter=self.RETRY_JITTER if retry_jitter is None else retry_jitter,
            retry_methods=self.RETRY_METHODS if retry_methods is None else retry_methods,
        )
        budget = self.RETRY_BUDGET

        url = str(url)
        headers = self._http_req_apply_default_headers(request_headers, content_type, body)
        user_agent_key = find_header(headers, "User-Agent") or "User-Agent"
        if user_agent:
            headers[user_agent_key] = user_agent
        content_type_key = None if body is None else find_header(headers, "Content-Type")
        payload = self._http_req_body_serialize(
            body, headers[content_type_key] if content_type_key else None
        )
        # The arguments every attempt passes to fetch; a retry replaces the
        # headers and body, a deadline the timeouts.
        fetch_args: Dict[str, Any] = dict(
            method=method,
            headers=headers,
            body=payload,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            auth_username=auth_username,
            auth_password=auth_password,
            user_agent=headers.get(user_agent_key),
            validate_cert=validate_cert,
            allow_nonstandard_methods=allow_nonstandard_methods,
            raise_error=False,
            **kwargs,
        )
        redirects = self.MAX_REDIRECTS if max_redirects is None else max_redirects
        client = _client()
        log = _CallLog(method, url, headers, auth_password, attempts)
        response = HTTPResponse(
            simplify_error_response=getattr(self, "simplify_error_response", True)
        )
        deadline = None if total_timeout is None else time.monotonic() + total_timeout
        if budget is not None:
            budget.record_first_attempt()

        outcome: Any = None  # the last attempt's response or exception
        for attempt in range(attempts):
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning(
                        ": the %ss deadline passed before attempt %d of %d",
                        total_timeout, attempt + 1, attempts,
                    )
                    break
                fetch_args["connect_timeout"] = min(connect_timeout, remaining)
                fetch_args["request_timeout"] = min(request_timeout, remaining)
            if attempt:  # after the deadline check: a hook may sign the request
                url, headers, payload = self._http_req_modify_for_retry(
                    response, attempt, url, headers, payload
                )
                fetch_args["headers"], fetch_args["body"] = headers, payload
                log.url, log.headers = url, headers
            log.attempt(attempt + 1)
            try:
                if follow_redirects:
                    outcome = await fetch_following_redirects(
                        client, url, redirects, fetch_args, deadline
                    )
                else:
                    outcome = await client.fetch(url, follow_redirects=False, **fetch_args)
            except (OSError, httpclient.HTTPClientError) as error:
                outcome = error
                response.append_exception(error)
                decision = policy.decide(method, None)
            else:
                response.append_response(outcome)
                decision = policy.decide(method, outcome.code)
            if decision is Decision.SUCCESS or not await self._http_resp_wait_to_retry(
                response, outcome, decision, policy, budget, deadline, attempt, log
            ):
                break

        response.finish()
        if not response.ok:
            log.warning(
                " failed after %d attempt(s): %s",
                response.attempts,
                "no attempt was made" if outcome is None else log.describe(outcome),
            )
        return response

    async def _http_resp_wait_to_retry(
        self,
        response: HTTPResponse,
        outcome: Any,
        decision: Decision,
        policy: RetryPolicy,
        budget: Optional[RetryBudget],
        deadline: Optional[float],
        attempt: int,
        log: _CallLog,
    ) -> bool:
        """Log a failed attempt and sleep before the next; False ends the call."""
        number, attempts = attempt + 1, policy.max_attempts
        described = log.describe(outcome)
        if decision is not Decision.RETRY:
            log.warning(
                ": attempt %d of %d failed, not retried: %s", number, attempts, described
            )
            return False
        if number >= attempts:
            log.warning(
                ": attempt %d of %d failed, no attempts left: %s", number, attempts, described
            )
            return False
        retry_after = (
            header_value(outcome.headers, "Retry-After")
            if isinstance(outcome, httpclient.HTTPResponse)
            else None
        )
        wait = policy.wait(number, retry_after)
        if deadline is not None and time.monotonic() + wait.seconds >= deadline:
            log.warning(
                ": attempt %d of %d failed (%s); a %.3fs wait would cross the "
                "call's deadline, giving up",
                number, attempts, described, wait.seconds,
            )
            return False
        if budget is not None and not budget.try_retry():
            log.warning(
                ": attempt %d of %d failed (%s); the retry budget refuses a retry",
                number, attempts, described,
            )
            return False
        log.warning(
            ": attempt %d of %d failed, retrying in %.3fs: %s",
            number, attempts, wait.seconds, described,
        )
        response.append_wait(wait.seconds)
        # asyncio.sleep is looked up at call time so tests can patch it.
        await asyncio.sleep(wait.seconds)
        return True

    def _http_req_apply_default_headers(
        self,
        request_headers: Optional[Mapping[str, str]],
        content_type: content.ContentTypeLike,
        body: Any,
    ) -> Dict[str, str]:
        """Set default values for common HTTP request headers.

        Works on a copy: *request_headers* is never changed, and a header it
        holds (in any letter case) always wins. Sets ``Accept``
        (``application/json, application/msgpack``), ``Content-Type``
        (``str(content_type)``, only with a body), ``Correlation-Id`` (from
        ``self.correlation_id``, else the incoming request's header) and
        ``User-Agent`` (:meth:`_http_req_user_agent`).

        :param request_headers: the HTTP request headers
        :param content_type: the mime-type used in the request/response
            (an :class:`ietfparse.datastructures.ContentType` or str)
        :param body: the request body
        :rtype: dict
        """
        headers: Dict[str, str] = dict(request_headers or {})
        present = {name.lower() for name in headers}  # one pass, any letter case
        if "accept" not in present:
            headers["Accept"] = content.DEFAULT_ACCEPT
        if body is not None and "content-type" not in present:
            headers["Content-Type"] = str(content_type)
        if "correlation-id" not in present:
            correlation_id = self._http_req_correlation_id()
            if correlation_id:
                headers["Correlation-Id"] = correlation_id
        if "user-agent" not in present:
            headers["User-Agent"] = self._http_req_user_agent()
        return headers

    def _http_req_correlation_id(self) -> Optional[str]:
        """The Correlation-Id to send: ``self.correlation_id`` when truthy,
        else the incoming request's ``Correlation-Id`` header."""
        correlation_id = getattr(self, "correlation_id", None)
        if correlation_id:
            return str(correlation_id)
        incoming = getattr(getattr(self, "request", None), "headers", None)
        if incoming is not None:
            try:
                value = incoming.get("Correlation-Id")
            except (AttributeError, TypeError):
                return None
            return str(value) if value else None
        return None

    def _http_req_body_serialize(
        self, body: Any, content_type: Optional[content.ContentTypeLike]
    ) -> Union[bytes, str, None]:
        """Conditionally serialize the request body value if mime_type is set
        and it's serializable.

        ``None``, str and bytes are returned as they are (bytearray and
        memoryview as bytes); any other value is encoded by *content_type*:
        JSON for ``application/json`` and ``+json``, msgpack for
        ``application/msgpack`` and ``+msgpack``.

        :param body: the request body
        :param content_type: the content type for the request body
        :raises ValueError: for a value to encode with any other content type,
            or one that cannot be encoded
        """
        if body is None or isinstance(body, (str, bytes)):
            return body
        if isinstance(body, (bytearray, memoryview)):
            return bytes(body)
        return content.encode_body(body, content_type)

    def _http_req_user_agent(self) -> str:
        """Return the User-Agent value to specify in HTTP requests.

        ``"{service}/{version}"`` when both keys are in the application
        settings; else, in a rejected consumer,
        ``"{consumer_name}/{consumer_version}"`` from its process; else
        :data:`DEFAULT_USER_AGENT` (``sprockets.mixins.http/VERSION``). Never
        raises: a missing attribute falls through to the next choice.

        :rtype: str
        """
        # getattr with a default: most callers have neither attribute, and a
        # raised and caught AttributeError costs more than the rest of this.
        settings = getattr(self, "settings", None)
        if settings is not None:
            try:
                if "service" in settings and "version" in settings:
                    return f"{settings['service']}/{settings['version']}"
            except (AttributeError, KeyError, TypeError):
                pass
        process = getattr(self, "_process", None)
        if process is not None:
            try:
                return f"{process.consumer_name}/{process.consumer_version}"
            except AttributeError:
                pass
        return DEFAULT_USER_AGENT

    def _http_req_modify_for_retry(
        self,
        response: HTTPResponse,
        attempt: int,
        url: str,
        headers: Dict[str, str],
        body: Any,
    ) -> Tuple[str, Dict[str, str], Any]:
        """Implement this method to modify the request on each attempt.

        Called before every attempt after the first, after the wait. The
        default behavior is to set the ``X-Retry-Attempt`` header to the
        1-based number of the attempt about to be made (``"2"`` on the
        second). You will need to implement this for protocols that include a
        one-time-use value such as the OAuth 1 request nonce.

        :param response: the current HTTP response which includes both
            response and exception history
        :param attempt: the zero-based index of the attempt about to be made
            (1 before the second attempt)
        :param url: current request URL
        :param headers: current request headers
        :param body: serialized request body
        :returns: a tuple containing the URL, headers, and body to use in the
            next request
        """
        headers["X-Retry-Attempt"] = str(attempt + 1)
        return url, headers, body
