"""Following redirects: the rules as pure functions, and the short loop that
does the I/O.

:func:`next_hop` decides, from the request of one hop and the response to
it, what the next request is or why there is none. It reads no clock, does
no I/O and logs nothing, so each rule is tested from a table;
:func:`fetch_following_redirects` sends the requests it decides on.

The rules:

- Only 301, 302, 303, 307 and 308 with a ``Location`` are followed (a 201 or
  a 300 with one is an answer, a 3xx without one too: the same URL is never
  fetched again because a ``Location`` is missing).
- ``Location`` is resolved against the URL that answered (RFC 3986,
  section 5); when it has no fragment, that URL's fragment is kept
  (RFC 9110, section 10.2.2). A ``Location`` that is not an http or https
  URL, has no host, a port that is not 1 to 65535 in ASCII digits, or does
  not parse, or two different ``Location`` fields, cannot be followed.
  Characters a URL cannot hold (a space, a control character, a byte above
  0x7E) are percent-encoded in the path, query and fragment, as libcurl and
  browsers do; in the host or userinfo they make the ``Location``
  unfollowable.
- The origin is the scheme, the host (compared without letter case) and the
  port, the scheme's default port when the URL names none. A hop whose
  origin is not the first request's is cross-origin: ``Authorization``,
  ``Proxy-Authorization`` and ``Cookie`` (in any letter case),
  ``auth_username`` and ``auth_password``, and any userinfo in the new URL
  (the one the ``Location`` carries included) are dropped, for the rest of
  the chain. A same-origin hop keeps them, the current URL's userinfo
  included when an absolute ``Location`` names none.
- ``Host`` is always dropped (the client sets it from the new URL).
- A 303 turns any method but HEAD into a GET without a body; a 301 or 302
  turns a POST into a GET without a body; any other hop keeps the method and
  the body. Dropping the body drops the headers that describe it
  (``Content-*`` and ``Transfer-Encoding``).
- No hop starts once the deadline has passed; one that starts gets the time
  left.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import time
import urllib.parse
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Union,
)

from tornado import httpclient, httputil

from sprockets_http._log import LOGGER, is_secret_header, redact_url

#: The statuses that are followed (with a ``Location``).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: The schemes that are followed, with their default ports.
DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443}
#: Request headers (lower case) that are credentials for one origin: dropped
#: on a cross-origin hop.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
#: Request headers (lower case, besides every ``content-*`` one) that describe
#: the body: dropped with it.
BODY_HEADERS = frozenset({"transfer-encoding"})


class UnfollowableLocation(ValueError):
    """A URL that a redirect cannot lead to; the text says why, without the
    URL (which may carry a password)."""


class Origin(NamedTuple):
    """The origin of a URL: where its credentials may be sent."""

    scheme: str  #: ``http`` or ``https``
    host: str  #: lower case, without the brackets of an IPv6 address
    port: int  #: the scheme's default port when the URL names none


class HopRequest(NamedTuple):
    """The request of one hop: what :func:`next_hop` reads and returns."""

    url: str
    method: str
    headers: Mapping[str, str]
    body: Optional[Union[bytes, str]] = None
    auth_username: Optional[str] = None
    auth_password: Optional[str] = None


class NextHop(NamedTuple):
    """The request to send next."""

    request: HopRequest
    #: The hop leaves the first request's origin.
    cross_origin: bool
    #: At least one credential the request carried (a header, the ``auth_*``
    #: arguments, URL userinfo) was dropped because the hop is cross-origin.
    credentials_dropped: bool
    #: Seconds until the deadline, None without one; the hop's timeouts must
    #: not exceed it.
    time_left: Optional[float]


class Stop(enum.Enum):
    """Why a response has no next hop."""

    #: The status is not 301, 302, 303, 307 or 308: the response is the answer.
    NOT_A_REDIRECT = "not a redirect"
    #: A redirect status without a ``Location`` (or an empty one).
    NO_LOCATION = "no Location"
    #: No redirects are left.
    TOO_MANY_REDIRECTS = "too many redirects"
    #: The ``Location`` cannot be followed; :attr:`NoNextHop.detail` says why.
    UNFOLLOWABLE_LOCATION = "Location cannot be followed"
    #: The deadline passed before the next hop could start.
    DEADLINE_PASSED = "deadline passed"


class NoNextHop(NamedTuple):
    """The response ends the chain."""

    reason: Stop
    #: What was wrong with the ``Location`` (never the URL itself), or "".
    detail: str = ""


def origin_of(url: str) -> Origin:
    """The origin of an http or https *url*.

    Ports are read strictly (ASCII digits, 1 to 65535) so that every Python
    this package supports reads a URL alike: 3.9 takes ``:+80``, ``: 80``
    and non-ASCII digits, which the curl client refuses.

    :raises UnfollowableLocation: *url* does not parse, is not http or
        https, has no host, a bad port, or a host or userinfo that is not
        printable ASCII
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:  # "http://[::1/", "http://[127.0.0.1]/", ...
        raise UnfollowableLocation("it does not parse") from None
    if parts.scheme not in DEFAULT_PORTS:  # urlsplit lower-cases the scheme
        raise UnfollowableLocation("it is not an http or https URL")
    host_and_port = parts.netloc.rpartition("@")[2]
    if host_and_port.startswith("["):  # "[::1]:8080"
        # Python 3.9 reads "[::1]junk" as ::1, "[127.0.0.1]" as 127.0.0.1
        # and "[:a]" as :a; later releases refuse the last two.
        bracketed, _, after_host = host_and_port[1:].partition("]")
        try:
            ipaddress.IPv6Address(bracketed)  # a zone ("%25eth0") included
        except ValueError:
            raise UnfollowableLocation("it does not parse") from None
        if after_host and not after_host.startswith(":"):
            raise UnfollowableLocation("it does not parse")
        port_text = after_host[1:]
    else:
        port_text = host_and_port.partition(":")[2]
    if not host:
        raise UnfollowableLocation("it has no host")
    # No port, or "host:" (RFC 3986): the scheme's default.
    if port_text and (
        not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536
    ):
        raise UnfollowableLocation("its port is not a number from 1 to 65535")
    if _OUTSIDE_A_URL.search(parts.netloc):
        # A host must be ASCII (IDNA-encoded) already; userinfo percent-encoded.
        raise UnfollowableLocation("its host or userinfo is not ASCII")
    return Origin(parts.scheme, host, int(port_text) if port_text else DEFAULT_PORTS[parts.scheme])


def redirect_url(url: str, location: str) -> str:
    """The URL *location* names, resolved against *url*, the URL that
    answered (RFC 3986); *url*'s fragment is kept when *location* has none
    (RFC 9110).

    :raises UnfollowableLocation: the result does not parse
    """
    try:
        resolved = urllib.parse.urljoin(url, location)
    except ValueError:  # "http://[::1/"
        raise UnfollowableLocation("it does not parse") from None
    fragment = url.partition("#")[2]
    if fragment and "#" not in location:
        resolved = f"{resolved}#{fragment}"
    if _OUTSIDE_A_URL.search(resolved):
        return _percent_encoded(resolved)
    return resolved


# What a URL cannot hold unencoded: anything but printable ASCII.
_OUTSIDE_A_URL = re.compile(r"[^\x21-\x7e]")


def _percent_encoded(url: str) -> str:
    """*url* with each character outside printable ASCII in its path, query
    and fragment percent-encoded, as libcurl and browsers do.

    Tornado decodes header bytes as Latin-1, so each such character stands
    for one byte the server sent, and that byte is what is encoded: a UTF-8
    ``café`` comes out as ``caf%C3%A9``, as the server meant it. (Sent as
    they are, such bytes made pycurl raise a ``UnicodeEncodeError`` that
    quoted the whole URL, userinfo and query included.) The authority is
    left as it is: :func:`origin_of` refuses it.
    """
    parts = urllib.parse.urlsplit(url)

    def encode(match: re.Match[str]) -> str:
        character = match.group()
        data = character.encode("latin-1" if character <= "\xff" else "utf-8")
        return "".join(f"%{byte:02X}" for byte in data)

    return urllib.parse.urlunsplit(
        parts._replace(
            path=_OUTSIDE_A_URL.sub(encode, parts.path),
            query=_OUTSIDE_A_URL.sub(encode, parts.query),
            fragment=_OUTSIDE_A_URL.sub(encode, parts.fragment),
        )
    )


def redirect_drops_body(method: str, status: int) -> bool:
    """Whether a *status* redirect of a *method* request turns it into a GET
    without a body: a 303 does for every method but HEAD, a 301 or a 302
    for POST."""
    if status == 303:
        return method != "HEAD"
    return status in (301, 302) and method == "POST"


def redirect_method(method: str, status: int) -> str:
    """The method of the request that follows a *status* redirect of a
    *method* request."""
    return "GET" if redirect_drops_body(method, status) else method


def _is_credential(name: str) -> bool:
    return name.lower() in CREDENTIAL_HEADERS or is_secret_header(name)


def redirect_headers(
    headers: Mapping[str, str], *, cross_origin: bool, body_dropped: bool
) -> Any:
    """The headers of the next request: a new mapping (an ``HTTPHeaders``,
    repeated headers kept, when *headers* is one; else a dict) without
    ``Host``, without the credentials when *cross_origin* (the
    ``CREDENTIAL_HEADERS`` and every header the redaction rules call a
    credential, ``X-Api-Key`` for one), without the body's headers when
    *body_dropped*."""
    repeated = isinstance(headers, httputil.HTTPHeaders)
    kept: Any = httputil.HTTPHeaders() if repeated else {}
    pairs = headers.get_all() if repeated else headers.items()  # type: ignore[attr-defined]
    for name, value in pairs:
        lowered = name.lower()
        if lowered == "host":
            continue
        if cross_origin and _is_credential(name):
            continue
        if body_dropped and (lowered.startswith("content-") or lowered in BODY_HEADERS):
            continue
        if repeated:
            kept.add(name, value)
        else:
            kept[name] = value
    return kept


def _userinfo(url: str) -> Optional[str]:
    """The userinfo of a URL that parses (without its ``@``), None without
    one."""
    netloc = urllib.parse.urlsplit(url).netloc
    userinfo, at, _host_and_port = netloc.rpartition("@")
    return userinfo if at else None


def _with_userinfo(url: str, userinfo: Optional[str]) -> str:
    parts = urllib.parse.urlsplit(url)
    host_and_port = parts.netloc.rpartition("@")[2]
    netloc = host_and_port if userinfo is None else f"{userinfo}@{host_and_port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def next_hop(
    request: HopRequest,
    status: int,
    location: Union[str, Sequence[str], None],
    *,
    origin: Optional[Origin],
    redirects_left: int,
    now: float,
    deadline: Optional[float] = None,
) -> Union[NextHop, NoNextHop]:
    """The request that follows the response to *request*, or why there is
    none.

    :param request: the request that got the response
    :param status: the response's status code
    :param location: the response's ``Location`` field values (one string
        or a sequence); None or an empty sequence when it has none. Several
        different values cannot be followed.
    :param origin: the origin of the chain's first request, from
        :func:`origin_of`; None when it has none, which makes every hop
        cross-origin
    :param redirects_left: how many more redirects may be followed
    :param now: the time, on the clock *deadline* is on
    :param deadline: when the chain must end, None for never
    """
    if status not in REDIRECT_STATUSES:
        return NoNextHop(Stop.NOT_A_REDIRECT)
    values = [location] if isinstance(location, str) else list(location or ())
    distinct = {value.strip() for value in values} - {""}
    if not distinct:
        return NoNextHop(Stop.NO_LOCATION)
    if redirects_left <= 0:
        return NoNextHop(Stop.TOO_MANY_REDIRECTS)
    if len(distinct) > 1:
        return NoNextHop(Stop.UNFOLLOWABLE_LOCATION, "the response has several")
    (target,) = distinct
    try:
        url = redirect_url(request.url, target)
        cross_origin = origin_of(url) != origin
    except UnfollowableLocation as error:
        return NoNextHop(Stop.UNFOLLOWABLE_LOCATION, str(error))
    time_left = None if deadline is None else deadline - now
    if time_left is not None and time_left <= 0:
        return NoNextHop(Stop.DEADLINE_PASSED)

    userinfo = _userinfo(url)
    if cross_origin:
        credentials_dropped = bool(
            userinfo
            or _userinfo(request.url)
            or request.auth_username is not None
            or request.auth_password is not None
            or any(_is_credential(name) for name in request.headers)
        )
        if userinfo is not None:
            url = _with_userinfo(url, None)
        auth_username = auth_password = None
    else:
        credentials_dropped = False
        if userinfo is None:  # an absolute Location without one: keep the current
            current_userinfo = _userinfo(request.url)
            if current_userinfo is not None:
                url = _with_userinfo(url, current_userinfo)
        auth_username, auth_password = request.auth_username, request.auth_password
    body_dropped = redirect_drops_body(request.method, status)
    return NextHop(
        HopRequest(
            url=url,
            method=redirect_method(request.method, status),
            headers=redirect_headers(
                request.headers, cross_origin=cross_origin, body_dropped=body_dropped
            ),
            body=None if body_dropped else request.body,
            auth_username=auth_username,
            auth_password=auth_password,
        ),
        cross_origin=cross_origin,
        credentials_dropped=credentials_dropped,
        time_left=time_left,
    )


def _origin_or_none(url: str) -> Optional[Origin]:
    try:
        return origin_of(url)
    except UnfollowableLocation:
        return None


async def fetch_following_redirects(
    client: httpclient.AsyncHTTPClient,
    url: str,
    max_redirects: int,
    fetch_args: Dict[str, Any],
    deadline: Optional[float] = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> httpclient.HTTPResponse:
    """One attempt of a request, following up to *max_redirects* redirects
    by the rules of :func:`next_hop` instead of in the client, so that every
    client and Tornado version behaves alike.

    *fetch_args* are the keyword arguments of ``client.fetch`` (``method``
    and ``headers`` required; ``follow_redirects`` is always False). Each
    hop's ``connect_timeout`` and ``request_timeout`` are cut to the time
    left before *deadline*, read on *clock*. ``streaming_callback`` and
    ``header_callback`` also see the redirect responses.

    :returns: the first response that is not followed: not a redirect, a
        redirect without ``Location``, with one that cannot be followed, or
        past *max_redirects*
    :raises tornado.httpclient.HTTPClientError: 599, when the deadline passed
        before a redirect could be followed
    :raises Exception: whatever ``client.fetch`` raises for a hop (an invalid
        host name in a ``Location`` raises :exc:`UnicodeError` in the simple
        client)
    """
    fetch: Callable[..., Awaitable[httpclient.HTTPResponse]] = client.fetch
    fetch_args = dict(fetch_args, follow_redirects=False)
    request = HopRequest(
        url,
        fetch_args["method"],
        fetch_args["headers"],
        fetch_args.get("body"),
        fetch_args.get("auth_username"),
        fetch_args.get("auth_password"),
    )
    origin: Optional[Origin] = None
    redirects_left = max_redirects
    while True:
        response = await fetch(request.url, **fetch_args)
        if redirects_left == max_redirects and response.code in REDIRECT_STATUSES:
            origin = _origin_or_none(url)  # parsed only when needed: most answers are not 3xx
        hop = next_hop(
            request,
            response.code,
            response.headers.get_list("Location"),
            origin=origin,
            redirects_left=redirects_left,
            now=clock(),
            deadline=deadline,
        )
        if isinstance(hop, NoNextHop):
            if hop.reason is Stop.DEADLINE_PASSED:
                raise httpclient.HTTPClientError(
                    599, f"Timeout: the call's deadline passed after a {response.code} redirect"
                )
            if hop.reason is not Stop.NOT_A_REDIRECT:
                LOGGER.debug(
                    "Not following the %d from %s: %s%s",
                    response.code, redact_url(request.url), hop.reason.value,
                    f" ({hop.detail})" if hop.detail else "",
                )
            return response
        request, redirects_left = hop.request, redirects_left - 1
        fetch_args.update(
            method=request.method,
            headers=request.headers,
            body=request.body,
            auth_username=request.auth_username,
            auth_password=request.auth_password,
        )
        if hop.time_left is not None:
            for name in ("connect_timeout", "request_timeout"):
                timeout = fetch_args.get(name)
                fetch_args[name] = hop.time_left if timeout is None else min(timeout, hop.time_left)
        LOGGER.debug(
            "Following a %d redirect to %s%s",
            response.code, redact_url(request.url),
            " (another origin: credentials dropped)" if hop.credentials_dropped else "",
        )
