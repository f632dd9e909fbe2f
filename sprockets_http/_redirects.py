"""Following redirects for a request that carries credentials.

Credentials belong to the origin they were sent to: on a redirect to another
origin they are dropped, whichever Tornado version and client is in use.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Dict, Mapping, Optional, Tuple

from tornado import httpclient

from sprockets_http._headers import find_header, header_value
from sprockets_http._log import LOGGER, redact_url

#: Request headers that are credentials for the origin they were meant for.
_ORIGIN_CREDENTIAL_HEADERS = ("Authorization", "Cookie")
#: Headers that describe a request body, dropped when a redirect turns the
#: request into a GET without one.
_BODY_HEADERS = ("Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding")
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _pop_header(headers: Dict[str, str], name: str) -> None:
    key = find_header(headers, name)
    while key is not None:
        del headers[key]
        key = find_header(headers, name)


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    """The (scheme, host, port) origin of *url*, default ports filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # an unparseable port: an origin of its own
        return scheme, parts.netloc.lower(), -1
    return scheme, (parts.hostname or ""), port or _DEFAULT_PORTS.get(scheme)


def carries_credentials(
    url: str,
    headers: Mapping[str, str],
    auth_username: Optional[str],
    auth_password: Optional[str],
) -> bool:
    """Does this request carry credentials that must not follow a redirect
    to another origin?"""
    if auth_username is not None or auth_password is not None:
        return True
    if any(find_header(headers, name) for name in _ORIGIN_CREDENTIAL_HEADERS):
        return True
    return "@" in urllib.parse.urlsplit(url).netloc


async def fetch_following_redirects(
    client: httpclient.AsyncHTTPClient,
    url: str,
    max_redirects: int,
    fetch_args: Dict[str, Any],
) -> httpclient.HTTPResponse:
    """One attempt of a request that carries credentials, following up to
    *max_redirects* redirects here instead of in the client.

    The simple client of older Tornado releases that this package supports
    (6.4.2 was checked) sends the ``Authorization`` and ``Cookie`` headers and
    the ``auth_username`` / ``auth_password`` credentials on to whatever
    origin a redirect names, so any server a request was sent to could
    collect them. Following redirects here makes every supported Tornado and
    both clients behave alike: on a
    redirect to another origin (scheme, host or port differ from the first
    URL's) the credentials are dropped, with any userinfo in the new URL, and
    stay dropped for the rest of the chain. Otherwise this does what
    tornado's simple client does: 301, 302, 303, 307 and 308 with a
    ``Location`` are followed, the ``Host`` header is dropped, 303 (except
    for HEAD) and a POST's 301 or 302 become a GET without a body, and when
    the redirects run out the last 3xx response is returned (where libcurl
    raises "too many redirects"). Each hop gets the attempt's timeouts.
    ``streaming_callback`` and ``header_callback`` also see the redirect
    responses.
    """
    origin = _origin(url)
    fetch_args = dict(fetch_args)
    headers = fetch_args["headers"] = dict(fetch_args["headers"])
    redirects_left = max_redirects
    while True:
        response = await client.fetch(url, follow_redirects=False, **fetch_args)
        location = header_value(response.headers, "Location")
        if response.code not in _REDIRECT_CODES or not location or redirects_left <= 0:
            return response
        redirects_left -= 1
        url = urllib.parse.urljoin(url, location)
        if _origin(url) != origin:
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
        LOGGER.debug("Following a %d redirect to %s", response.code, redact_url(url))
