"""Following redirects: credentials stay with their origin, the deadline
covers every hop, and a bad ``Location`` never raises."""

from __future__ import annotations

import re
import time
import urllib.parse
from typing import Any, Dict, Optional, Tuple

from tornado import httpclient

from sprockets_http._headers import find_header, header_value
from sprockets_http._log import LOGGER, redact_url

#: Request headers that are credentials for the origin they were meant for.
_ORIGIN_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")
#: Headers that describe a request body, dropped when a redirect turns the
#: request into a GET without one.
_BODY_HEADERS = ("Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding")
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


# What a URL holds unencoded: printable ASCII, no space.
_TEXT_OF_A_URL = re.compile(r"[\x21-\x7e]*")
_BYTE_OUTSIDE_A_URL = re.compile(r"[^\x21-\x7e]")


def _percent_encoded(url: str) -> Optional[str]:
    """*url* (from a ``Location`` header) with every character outside
    printable ASCII in its path, query and fragment percent-encoded, or
    ``None`` when its scheme or authority has one.

    Tornado decodes header bytes as Latin-1, so each such character stands
    for one byte the server sent, and that byte is what is encoded: a UTF-8
    ``café`` comes out as ``caf%C3%A9``, as the server meant it.
    """
    parts = urllib.parse.urlsplit(url)
    if _BYTE_OUTSIDE_A_URL.search(parts.scheme + parts.netloc):
        return None  # a host must be ASCII (IDNA) already: not followed

    def encode(match: re.Match[str]) -> str:
        character = match.group()
        data = character.encode("latin-1" if character <= "\xff" else "utf-8")
        return "".join(f"%{byte:02X}" for byte in data)

    return urllib.parse.urlunsplit(
        parts._replace(
            path=_BYTE_OUTSIDE_A_URL.sub(encode, parts.path),
            query=_BYTE_OUTSIDE_A_URL.sub(encode, parts.query),
            fragment=_BYTE_OUTSIDE_A_URL.sub(encode, parts.fragment),
        )
    )


def _pop_header(headers: Dict[str, str], name: str) -> None:
    key = find_header(headers, name)
    while key is not None:
        del headers[key]
        key = find_header(headers, name)


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    """The (scheme, host, port) origin of *url*, default ports filled in.

    :raises ValueError: for a URL that does not parse (a bad port, say)
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or _DEFAULT_PORTS.get(scheme)


async def fetch_following_redirects(
    client: httpclient.AsyncHTTPClient,
    url: str,
    max_redirects: int,
    fetch_args: Dict[str, Any],
    deadline: Optional[float] = None,
) -> httpclient.HTTPResponse:
    """One attempt of a request, following up to *max_redirects* redirects
    here instead of in the client.

    Following redirects here makes every supported Tornado and both clients
    behave alike:

    - Credentials stay with their origin. On a redirect to another origin
      (scheme, host or port differ from the first URL's) the ``Authorization``,
      ``Proxy-Authorization`` and ``Cookie`` headers, ``auth_username`` /
      ``auth_password`` and any userinfo in the new URL are dropped, for the
      rest of the chain. (The simple client of older Tornado releases that
      this package supports, 6.4.2 for one, sends them on to whatever origin
      a redirect names.)
    - The call's deadline covers every hop: each gets the time left, and a
      :class:`tornado.httpclient.HTTPClientError` (599, a timeout) is raised
      when none is.
    - A redirect that cannot be followed (a ``Location`` that is not an http
      or https URL, does not parse, or names a host that is not ASCII) and a
      chain longer than *max_redirects* return the last 3xx response (libcurl
      would raise "too many redirects"; the simple client raises
      ``ValueError`` for a scheme it does not support).
    - A ``Location`` with bytes a URL cannot hold unencoded (a space, a
      control character, a byte above 0x7E in the path, query or fragment)
      is followed with each such byte percent-encoded, as libcurl and
      browsers do. (Sent as they are, they made pycurl raise a
      ``UnicodeEncodeError`` that quoted the whole URL, userinfo and query
      included.)

    Otherwise this does what tornado's simple client does: 301, 302, 303,
    307 and 308 with a ``Location`` are followed, the ``Host`` header is
    dropped, 303 (except for HEAD) and a POST's 301 or 302 become a GET
    without a body. ``streaming_callback`` and ``header_callback`` also see
    the redirect responses.
    """
    origin: Optional[Tuple[str, str, Optional[int]]] = None
    fetch_args = dict(fetch_args)
    headers = fetch_args["headers"] = dict(fetch_args["headers"])
    redirects_left = max_redirects
    while True:
        response = await client.fetch(url, follow_redirects=False, **fetch_args)
        location = header_value(response.headers, "Location")
        if response.code not in _REDIRECT_CODES or not location or redirects_left <= 0:
            return response
        try:
            if origin is None:
                origin = _origin(url)
            next_url = urllib.parse.urljoin(url, location)
            next_origin = _origin(next_url)
        except ValueError:  # a Location such as "http://[::1/" or a bad port
            return response
        if next_origin[0] not in _DEFAULT_PORTS:  # ftp:, data:, ...
            return response
        if not _TEXT_OF_A_URL.fullmatch(next_url):
            encoded = _percent_encoded(next_url)
            if encoded is None:
                return response
            next_url = encoded
        redirects_left -= 1
        url = next_url
        if next_origin != origin:
            fetch_args["auth_username"] = fetch_args["auth_password"] = None
            for name in _ORIGIN_CREDENTIAL_HEADERS:
                _pop_header(headers, name)
            parts = urllib.parse.urlsplit(url)
            if "@" in parts.netloc:
                url = urllib.parse.urlunsplit(
                    parts._replace(netloc=parts.netloc.rpartition("@")[2])
                )
        _pop_header(headers, "Host")
        method = fetch_args["method"]
        if (response.code == 303 and method != "HEAD") or (
            response.code in (301, 302) and method == "POST"
        ):
            fetch_args["method"] = "GET"
            fetch_args["body"] = None
            for name in _BODY_HEADERS:
                _pop_header(headers, name)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpclient.HTTPClientError(
                    599, f"Timeout: the call's deadline passed after a {response.code} redirect"
                )
            fetch_args["connect_timeout"] = min(fetch_args["connect_timeout"], remaining)
            fetch_args["request_timeout"] = min(fetch_args["request_timeout"], remaining)
        LOGGER.debug("Following a %d redirect to %s", response.code, redact_url(url))
