"""``HTTPClientMixin``: ``AsyncHTTPClient.fetch`` in a retry loop.

``http_fetch`` reads as the algorithm: resolve the call's options once
(:mod:`sprockets_http._options` checks them), then loop: send an attempt
(:mod:`sprockets_http._transport`), ask the :class:`RetryPolicy` for the next
step, emit what happened (:mod:`sprockets_http.events`; logging is one of the
subscribers), wait.
"""

from __future__ import annotations

import asyncio
from typing import (
    Any,
    Collection,
    Dict,
    Mapping,
    MutableMapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from sprockets_http import _clock, _options, _transport, content
from sprockets_http._headers import find_header, header_value
from sprockets_http._log import SECRET_QUERY_PARAMETERS
from sprockets_http._logging import log_event
from sprockets_http._version import __version__
from sprockets_http.events import (
    AttemptStarted,
    Call,
    CallEnded,
    CallStarted,
    RetryDecided,
    Subscriber,
    WaitStarted,
    _add_builtin,
    _decided,
    dispatch_for,
    emit,
)
from sprockets_http.response import HTTPResponse
from sprockets_http.retry import IDEMPOTENT_METHODS, Reason, RetryBudget, RetryPolicy

__all__ = ["DEFAULT_USER_AGENT", "HTTPClientMixin"]

#: The User-Agent sent when nothing more specific is known.
DEFAULT_USER_AGENT = f"sprockets.mixins.http/{__version__}"

_add_builtin(log_event)

# Policies built from the same options are the same value: built (and their
# options checked) once, then reused by every call with those options.
_policies: Dict[Tuple[Any, ...], RetryPolicy] = {}
_NUMBERS = (int, float)
_INF = float("inf")


def _retry_after(outcome: Any) -> Optional[str]:
    """The Retry-After header of an error response (the only ones it can
    change a wait for), or None."""
    if isinstance(outcome, Exception) or outcome.code < 400:
        return None
    return header_value(outcome.headers, "Retry-After")


class _Plan:
    """A call's options, resolved and checked once by
    :meth:`HTTPClientMixin._http_plan`."""

    __slots__ = (
        "budget",
        "connect_timeout",
        "fetch_args",
        "headers",
        "method",
        "payload",
        "policy",
        "redact_parameters",
        "request_timeout",
        "sender",
        "total_timeout",
        "url",
    )

    def __init__(
        self,
        url: str,
        method: str,
        headers: MutableMapping[str, str],
        payload: Any,
        policy: RetryPolicy,
        budget: Optional[RetryBudget],
        connect_timeout: float,
        request_timeout: float,
        total_timeout: Optional[float],
        fetch_args: Dict[str, Any],
        sender: _transport.Attempt,
        redact_parameters: Collection[str],
    ) -> None:
        self.url = url
        self.method = method
        self.headers = headers
        self.payload = payload
        self.policy = policy
        self.budget = budget
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.total_timeout = total_timeout
        self.fetch_args = fetch_args
        self.sender = sender
        self.redact_parameters = redact_parameters

    def call(self, owner: Any, started: float) -> Call:
        """The call as its event subscribers see it."""
        return Call(
            self.method,
            self.url,
            self.policy.max_attempts,
            started,
            owner,
            self.headers,
            self.fetch_args["auth_password"],
            self.redact_parameters,
            self.fetch_args.get("proxy_password"),
        )

    def cut_timeouts(self, deadline: float, now: float) -> None:
        """Give the next attempt no more than the time left before *deadline*."""
        left = max(deadline - now, 0.001)
        self.fetch_args["connect_timeout"] = min(self.connect_timeout, left)
        self.fetch_args["request_timeout"] = min(self.request_timeout, left)

    def retarget(self, url: str, headers: MutableMapping[str, str], payload: Any) -> str:
        """Take what the retry hook returned for the next attempt; it is the
        caller's, so it is checked like the arguments. Returns the URL."""
        url = _options.url(url)
        _options.check_headers(headers)
        self.fetch_args["headers"], self.fetch_args["body"] = headers, payload
        return url


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
    #: Subscribers to the events of this class's calls, after the built-in
    #: and the process-wide ones (see :mod:`sprockets_http.events`).
    HTTP_EVENT_SUBSCRIBERS: Sequence[Subscriber] = ()
    #: Query (and fragment) parameters whose values are redacted from every
    #: URL this class's calls log, trace or describe, matched ignoring case,
    #: ``-`` and ``_`` (see :data:`~sprockets_http.SECRET_QUERY_PARAMETERS`).
    REDACT_QUERY_PARAMETERS: Collection[str] = SECRET_QUERY_PARAMETERS
    #: Trace and measure this class's calls with OpenTelemetry, when
    #: ``opentelemetry-api`` is installed (see :mod:`sprockets_http.otel`).
    OPENTELEMETRY: bool = True

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
        dont_retry: Union[int, Collection[int], None] = None,
        *,
        max_retry_timeout: Optional[float] = None,
        retry_jitter: Optional[bool] = None,
        total_timeout: Optional[float] = None,
        retry_methods: Union[str, Collection[str], None] = None,
        retry_policy: Optional[RetryPolicy] = None,
        **kwargs: Any,
    ) -> HTTPResponse:
        """Perform a HTTP request.

        Will retry up to *max_http_attempts* times with an exponentially
        increasing sleep time starting with *retry_timeout* seconds. If a
        ``Retry-After`` header is included in a response, then it overrides
        the calculated sleep time. Never raises for anything the server or
        the network does (a status, a refused or reset connection, a timeout,
        a response the client cannot read): read :attr:`HTTPResponse.ok`.
        Mistakes in the arguments raise before anything is sent.

        Cancelling the task that awaits ``http_fetch`` raises
        :exc:`asyncio.CancelledError` at once. The curl client's transfer is
        then aborted and its slot freed; tornado's simple client offers no way
        to stop a request it has started, which keeps one of the client's
        ``max_clients`` slots (10 by default, see ``HTTP_MAX_CLIENTS``) until
        it ends or its *request_timeout* passes. Where calls are cancelled
        often (a caller's own timeout), keep *request_timeout* short or use
        the curl client.

        :param url: the URL for the request: an absolute ``http`` or ``https``
            URL with a host (a str, or any object whose ``str()`` is it)
        :param method: the HTTP request method, defaults to ``GET``; one of
            GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS (case-sensitive)
            unless *allow_nonstandard_methods*
        :param request_headers: headers to include in the request (a dict,
            or a :class:`tornado.httputil.HTTPHeaders` whose repeated headers
            are sent repeated); copied, never changed
        :param body: the request body: str and bytes go as they are, other
            values (dicts, lists, ...) are encoded by the Content-Type
        :param content_type: the Content-Type for a request body, defaults to
            ``application/msgpack``
        :param follow_redirects: follow HTTP redirects when received. They are
            followed by sprockets_http, alike with every client: credentials
            (``auth_username``/``auth_password``, the ``Authorization``,
            ``Proxy-Authorization`` and ``Cookie`` headers and any other
            header the redaction rules call a credential, URL userinfo) are
            dropped on a redirect to another origin, the deadline covers every
            hop, and a redirect that cannot be followed returns its 3xx
            response
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
            certificate? Default is True. A certificate that fails
            verification is not retried.
        :param allow_nonstandard_methods: allow methods that don't adhere to
            the HTTP spec
        :param dont_retry: status codes that end the call without a retry: one
            int or a collection of them. Default: none
        :param max_retry_timeout: a cap on each backoff wait in seconds,
            default :attr:`MAX_RETRY_TIMEOUT` (none)
        :param retry_jitter: draw each backoff wait from ``[0, wait]``,
            default :attr:`RETRY_JITTER` (False); Retry-After waits are kept
        :param total_timeout: a deadline in seconds for the whole call,
            default :attr:`DEFAULT_TOTAL_TIMEOUT` (none)
        :param retry_methods: methods retried after a 5xx or an exception, one
            str or a collection, default :attr:`RETRY_METHODS` (all); 423 and
            429 always retry. With the curl client, a request whose method is
            not retried goes out on a new connection, so libcurl never sends
            it twice
        :param retry_policy: a :class:`~sprockets_http.RetryPolicy` to use
            instead of the one built from *retry_timeout*,
            *max_http_attempts*, *dont_retry*, *max_retry_timeout*,
            *retry_jitter* and *retry_methods* (which may then not be given)
        :param kwargs: passed to :meth:`tornado.httpclient.AsyncHTTPClient.fetch`
        :rtype: HTTPResponse
        :raises RuntimeError: if the ``raise_error`` keyword argument is given
        :raises ValueError: for an argument out of its range (a timeout that
            is not a finite number > 0, *max_http_attempts* that is not an int
            >= 1, a URL that is not absolute http(s), a method or header that
            cannot be sent, a body that cannot be encoded for its
            Content-Type, ...); the message never includes a credential, and
            no request is sent
        :raises TypeError: for a keyword argument ``fetch`` does not take
        """
        plan = self._http_plan(
            url,
            method,
            request_headers,
            body,
            content_type,
            follow_redirects,
            max_redirects,
            connect_timeout,
            request_timeout,
            retry_timeout,
            max_http_attempts,
            auth_username,
            auth_password,
            user_agent,
            validate_cert,
            allow_nonstandard_methods,
            dont_retry,
            max_retry_timeout,
            retry_jitter,
            total_timeout,
            retry_methods,
            retry_policy,
            kwargs,
        )
        # Nothing was sent before this line: every argument is checked.
        url, headers, payload, policy = plan.url, plan.headers, plan.payload, plan.policy
        started = _clock.now()
        deadline = None if plan.total_timeout is None else started + plan.total_timeout
        response = HTTPResponse(
            simplify_error_response=getattr(self, "simplify_error_response", True)
        )
        response._start = started
        call = plan.call(self, started)
        subscribers = dispatch_for(self.HTTP_EVENT_SUBSCRIBERS, otel=self.OPENTELEMETRY)
        number, reason = 1, Reason.CANCELLED
        try:
            # Inside the try: CallEnded always follows CallStarted.
            if subscribers.call_started:
                emit(subscribers.call_started, CallStarted(call))
            if plan.budget is not None:
                plan.budget.record_first_attempt()
            while True:
                # --- attempt
                if subscribers.attempt_started:
                    emit(subscribers.attempt_started, AttemptStarted(call, number, headers))
                attempt_started = _clock.now()
                if deadline is not None:
                    plan.cut_timeouts(deadline, attempt_started)
                outcome = await plan.sender.send(url, plan.fetch_args, deadline, _clock.now)
                now = _clock.now()
                ended = response.record(call, number, outcome, now - attempt_started)
                # --- ask the policy
                step = policy.next_step(
                    plan.method,
                    number,
                    ended.status,
                    ended.error,
                    _retry_after(outcome),
                    now,
                    deadline,
                    plan.budget,
                )
                # --- emit what happened
                if subscribers.attempt_ended:
                    emit(subscribers.attempt_ended, ended)
                if subscribers.retry_decided:
                    emit(subscribers.retry_decided, _decided(call, ended, step))
                if not step.retry or step.wait is None:
                    reason = step.reason
                    break
                # --- wait
                wait = step.wait
                response.append_wait(wait.seconds)
                if subscribers.wait_started:
                    emit(
                        subscribers.wait_started,
                        WaitStarted(call, number + 1, wait.seconds, wait.source, _clock.instant()),
                    )
                await _clock.wait(wait.seconds)
                if deadline is not None and _clock.now() >= deadline:
                    # The wait fit when it began, but a busy event loop woke
                    # us late: no attempt starts after the deadline.
                    reason = Reason.DEADLINE
                    if subscribers.retry_decided:
                        emit(
                            subscribers.retry_decided,
                            RetryDecided(call, ended, False, reason, None, None),
                        )
                    break
                number += 1
                call._moving()
                # After the wait, so a hook that signs the request signs it
                # for the moment it is sent.
                url, headers, payload = self._http_req_modify_for_retry(
                    response, number - 1, url, headers, payload
                )
                url = plan.retarget(url, headers, payload)
                call._moved(url, headers)
        except asyncio.CancelledError:
            plan.sender.release()
            raise
        finally:
            response.finish(_clock.now())
            if subscribers.call_ended:
                emit(subscribers.call_ended, CallEnded(call, response, reason, response.duration))
        return response

    def _http_plan(
        self,
        url: Any,
        method: Any,
        request_headers: Optional[Mapping[str, str]],
        body: Any,
        content_type: content.ContentTypeLike,
        follow_redirects: bool,
        max_redirects: Optional[int],
        connect_timeout: Optional[float],
        request_timeout: Optional[float],
        retry_timeout: Optional[float],
        max_http_attempts: Optional[int],
        auth_username: Optional[str],
        auth_password: Optional[str],
        user_agent: Optional[str],
        validate_cert: bool,
        allow_nonstandard_methods: bool,
        dont_retry: Union[int, Collection[int], None],
        max_retry_timeout: Optional[float],
        retry_jitter: Optional[bool],
        total_timeout: Optional[float],
        retry_methods: Union[str, Collection[str], None],
        retry_policy: Optional[RetryPolicy],
        kwargs: Dict[str, Any],
    ) -> _Plan:
        """Resolve a call's options once: the class defaults filled in, every
        argument checked (see ``docs/retry.rst``, "Arguments are checked
        first"), the headers and body built by the hooks."""
        if "raise_error" in kwargs:
            raise RuntimeError(
                "raise_error is not supported: http_fetch never raises for a "
                "response; read HTTPResponse.ok and .code instead"
            )
        url = _options.url(url)
        method = _options.method(method, allow_nonstandard_methods)
        connect: Any = self.DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
        request: Any = self.DEFAULT_REQUEST_TIMEOUT if request_timeout is None else request_timeout
        total: Any = self.DEFAULT_TOTAL_TIMEOUT if total_timeout is None else total_timeout
        # Checked inline for the common types; _options.seconds says what is wrong.
        if not (type(connect) in _NUMBERS and 0 < connect < _INF):
            connect = _options.seconds(connect, "connect_timeout")
        if not (type(request) in _NUMBERS and 0 < request < _INF):
            request = _options.seconds(request, "request_timeout")
        if total is not None and not (type(total) in _NUMBERS and 0 < total < _INF):
            total = _options.seconds(total, "total_timeout")
        if retry_policy is not None:
            given = {
                "retry_timeout": retry_timeout,
                "max_http_attempts": max_http_attempts,
                "dont_retry": dont_retry,
                "max_retry_timeout": max_retry_timeout,
                "retry_jitter": retry_jitter,
                "retry_methods": retry_methods,
            }
            policy = _options.retry_policy(
                retry_policy, [name for name, value in given.items() if value is not None]
            )
        else:
            policy = self._http_retry_policy(
                request,
                retry_timeout,
                max_http_attempts,
                dont_retry,
                max_retry_timeout,
                retry_jitter,
                retry_methods,
            )
        redirects = _options.count(
            self.MAX_REDIRECTS if max_redirects is None else max_redirects, "max_redirects"
        )
        if auth_username is not None or auth_password is not None:
            auth_username = _options.credential(auth_username, "auth_username")
            auth_password = _options.credential(auth_password, "auth_password")
        headers = self._http_req_apply_default_headers(request_headers, content_type, body)
        user_agent_key = find_header(headers, "User-Agent")
        if user_agent:
            headers[user_agent_key or "User-Agent"] = user_agent
        elif user_agent_key is None:  # an override that did not call super()
            headers["User-Agent"] = self._http_req_user_agent()
        payload = None
        if body is not None:
            content_type_key = find_header(headers, "Content-Type")
            payload = self._http_req_body_serialize(
                body, str(headers[content_type_key]) if content_type_key else str(content_type)
            )
        _options.check_headers(headers)
        client = _transport.client()
        curl = _transport.is_curl(client)
        if kwargs:
            _options.client_options(kwargs, curl)
            has_body = payload is not None or kwargs.get("body_producer") is not None
        else:
            has_body = payload is not None
        if allow_nonstandard_methods or curl or has_body is not (method in _options.BODY_METHODS):
            _options.body_matches_method(method, has_body, allow_nonstandard_methods, curl)
        if curl and (
            not policy.retries(method)
            or (policy.max_attempts == 1 and method not in IDEMPOTENT_METHODS)
        ):
            # The caller said this request must not be sent twice.
            kwargs["prepare_curl_callback"] = _transport.fresh_connection(
                kwargs.get("prepare_curl_callback")
            )
        # The arguments every attempt passes to fetch; a retry replaces the
        # headers and body, a deadline the timeouts.
        fetch_args: Dict[str, Any] = dict(
            method=method,
            headers=headers,
            body=payload,
            connect_timeout=connect,
            request_timeout=request,
            auth_username=auth_username,
            auth_password=auth_password,
            validate_cert=validate_cert,
            allow_nonstandard_methods=allow_nonstandard_methods,
            **kwargs,
        )
        return _Plan(
            url,
            method,
            headers,
            payload,
            policy,
            self.RETRY_BUDGET,
            connect,
            request,
            total,
            fetch_args,
            _transport.Attempt(client, redirects if follow_redirects else None),
            self.REDACT_QUERY_PARAMETERS,
        )

    def _http_retry_policy(
        self,
        request_timeout: float,
        retry_timeout: Optional[float],
        max_http_attempts: Optional[int],
        dont_retry: Union[int, Collection[int], None],
        max_retry_timeout: Optional[float],
        retry_jitter: Optional[bool],
        retry_methods: Union[str, Collection[str], None],
    ) -> RetryPolicy:
        """The policy for a call's options, each left at None taking the
        class's default; checked and built once per distinct set."""
        options = (
            self.MAX_HTTP_RETRIES if max_http_attempts is None else max_http_attempts,
            self.DEFAULT_RETRY_TIMEOUT if retry_timeout is None else retry_timeout,
            request_timeout,
            dont_retry,
            self.MAX_RETRY_TIMEOUT if max_retry_timeout is None else max_retry_timeout,
            self.RETRY_JITTER if retry_jitter is None else retry_jitter,
            self.RETRY_METHODS if retry_methods is None else retry_methods,
        )
        # True == 1 == 1.0: a bool where a number belongs is never looked up
        # (it is refused below), so equal keys are equally valid.
        key: Tuple[Any, ...] = options
        if bool in (type(options[0]), type(options[1]), type(options[4])):
            key = ()
        else:
            try:
                return _policies[key]
            except KeyError:
                pass
            except TypeError:  # an unhashable option (a set): build, don't keep
                key = ()
        policy = RetryPolicy(
            max_attempts=options[0],
            retry_timeout=options[1],
            request_timeout=options[2],
            dont_retry=options[3],
            max_retry_timeout=options[4],
            jitter=options[5],
            retry_methods=options[6],
        )
        if key:
            if len(_policies) >= 512:  # bounded: options seldom vary
                _policies.clear()
            _policies[key] = policy
        return policy

    def _http_req_apply_default_headers(
        self,
        request_headers: Optional[Mapping[str, str]],
        content_type: content.ContentTypeLike,
        body: Any,
    ) -> MutableMapping[str, str]:
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
        :returns: a dict, or a :class:`tornado.httputil.HTTPHeaders` (which
            keeps repeated headers) when *request_headers* is one
        :rtype: dict
        """
        headers: MutableMapping[str, str] = _options.copy_headers(request_headers)
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
        self, body: Any, content_type: content.ContentTypeLike
    ) -> Union[bytes, str, None]:
        """Conditionally serialize the request body value if mime_type is set
        and it's serializable.

        Called only for a request with a body, with the request's
        ``Content-Type`` header value (a str). str and bytes are returned as
        they are (bytearray and memoryview as bytes); any other value is
        encoded by *content_type*: JSON for ``application/json`` and
        ``+json``, msgpack for ``application/msgpack`` and ``+msgpack``.

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
        raises: a missing attribute, or a value that is ``None`` or empty
        (rejected's ``consumer_version`` when the consumer's module has no
        version), falls through to the next choice.

        :rtype: str
        """
        # getattr with a default: most callers have neither attribute, and a
        # raised and caught AttributeError costs more than the rest of this.
        settings = getattr(self, "settings", None)
        if settings is not None:
            try:
                if "service" in settings and "version" in settings:
                    service, version = settings["service"], settings["version"]
                    if service is not None and version is not None:
                        service, version = str(service), str(version)
                        if service and version:
                            return f"{service}/{version}"
            except (AttributeError, KeyError, TypeError):
                pass
        process = getattr(self, "_process", None)
        if process is not None:
            name = getattr(process, "consumer_name", None)
            version = getattr(process, "consumer_version", None)
            if name is not None and version is not None:
                name, version = str(name), str(version)
                if name and version:
                    return f"{name}/{version}"
        return DEFAULT_USER_AGENT

    def _http_req_modify_for_retry(
        self,
        response: HTTPResponse,
        attempt: int,
        url: str,
        headers: MutableMapping[str, str],
        body: Any,
    ) -> Tuple[str, MutableMapping[str, str], Any]:
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
