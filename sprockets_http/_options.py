"""Checking a call's arguments before anything is sent.

Every mistake in the caller's own arguments raises :exc:`ValueError` here,
naming the argument and never the value of a credential, before the first
attempt; so whatever an attempt raises later comes from the server or the
network, and is recorded instead of raised.
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
import urllib.parse
from typing import Any, Collection, Dict, Iterable, Mapping, Optional, Set, Tuple

from tornado import httpclient, httputil

from sprockets_http._log import describe_header_for_error, describe_url_for_error, redact_url
from sprockets_http.retry import RetryPolicy

#: The methods both of tornado's clients send without
#: ``allow_nonstandard_methods``.
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
#: Methods for which tornado's clients expect a body.
BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})
#: Options of ``http_fetch`` that a ``retry_policy`` replaces.
POLICY_OPTIONS = (
    "retry_timeout",
    "max_http_attempts",
    "dont_retry",
    "max_retry_timeout",
    "retry_jitter",
    "retry_methods",
)
_SIMPLE_UNSUPPORTED = ("proxy_host", "proxy_port", "proxy_username", "proxy_password")

# RFC 9110 token: header names and methods.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Characters percent-encoding leaves alone in the path, query and fragment of
# a URL with non-ASCII text: the reserved and unreserved sets, and "%".
_URL_SAFE = "/:@!$&'()*+,;=?#[]~%-._"


def seconds(value: Any, name: str) -> float:
    """A timeout argument: a finite number > 0.

    The caller checks the common case (an int or float in range) inline and
    calls this for any other value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number of seconds > 0, not {value!r}")
    return number


def count(value: Any, name: str) -> int:
    """An argument that counts (``max_redirects``): an int >= 0."""
    if type(value) is int and value >= 0:  # the common case
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, not {value!r}")
    return int(value)


# The common URL, recognised without parsing: http(s)://[userinfo@]host[:port]
# followed by the end or by "/", "?" or "#".
_PLAIN_URL = re.compile(
    r"[Hh][Tt][Tt][Pp][Ss]?://(?:[^/?#@]*@)?"
    r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)"
    r"(?::([0-9]{1,5}))?(?=[/?#]|\Z)"
)


def url(value: Any) -> str:
    """The request URL as text: absolute, http or https, with a host.

    Any object whose ``str()`` is the URL is accepted, but not ``None`` or
    bytes. A URL with non-ASCII text is encoded for the wire (IDNA for the
    host, UTF-8 percent-encoding for the rest), as both clients need it.

    :raises ValueError: naming the URL with its credentials redacted
    """
    if type(value) is str:
        if value in _good_urls:
            return value
        if value.isascii() and value.isprintable() and " " not in value:
            match = _PLAIN_URL.match(value)
            if (
                match is not None
                and (match.group(1) is None or 0 < int(match.group(1)) < 65536)
                # an "@" further on may end a userinfo with an unencoded "#"
                and "@" not in value[match.end() :]
            ):
                if len(_good_urls) >= 1024:  # bounded: URLs with IDs in them vary
                    _good_urls.clear()
                _good_urls.add(value)
                return value
    return _checked_url(value)


# URLs already found good: services call the same few URLs again and again.
_good_urls: Set[str] = set()


def _checked_url(value: Any) -> str:
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueError(
            f"url must be a str (or an object whose str() is the URL), not "
            f"{type(value).__name__}"
        )
    text = str(value)
    if not text.isascii():
        text = _encode_url(text)
    problem = describe_url_for_error(text)
    if problem is not None:
        raise ValueError(f"url: {problem}")
    if urllib.parse.urlsplit(text).port == 0:
        raise ValueError(f"url: the URL {redact_url(text)!r} has port 0")
    return text


def _encode_url(text: str) -> str:
    try:
        parts = urllib.parse.urlsplit(text)
        host = parts.hostname or ""
        port = parts.port
    except ValueError as error:
        raise ValueError(f"url {redact_url(text)!r} is not a valid URL: {error}") from None
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise ValueError(
            f"url {redact_url(text)!r} has a host that is not a valid IDNA name"
        ) from None
    netloc = ascii_host if ":" not in ascii_host else f"[{ascii_host}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{urllib.parse.quote(userinfo, safe=':%')}@{netloc}"
    return urllib.parse.urlunsplit(
        (
            parts.scheme,
            netloc,
            urllib.parse.quote(parts.path, safe=_URL_SAFE),
            urllib.parse.quote(parts.query, safe=_URL_SAFE),
            urllib.parse.quote(parts.fragment, safe=_URL_SAFE),
        )
    )


def method(value: Any, allow_nonstandard_methods: bool) -> str:
    """The request method: a standard one, or any token with
    *allow_nonstandard_methods* (methods are case-sensitive)."""
    if value in STANDARD_METHODS and type(value) is str:
        return value
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(f"method must be an HTTP method name, not {value!r}")
    if value not in STANDARD_METHODS and not allow_nonstandard_methods:
        hint = (
            f" (methods are case-sensitive: did you mean {value.upper()!r}?)"
            if value.upper() in STANDARD_METHODS
            else ""
        )
        raise ValueError(
            f"method {value!r} is not one of {', '.join(sorted(STANDARD_METHODS))}{hint}; "
            "pass allow_nonstandard_methods=True to send it as it is"
        )
    return value


def body_matches_method(
    method_name: str, has_body: bool, allow_nonstandard_methods: bool, curl: bool
) -> None:
    """Tornado's clients refuse a POST, PUT or PATCH without a body and other
    methods with one (unless *allow_nonstandard_methods*); the curl client
    refuses a GET with a body always. Refuse them here, before sending."""
    if curl and method_name == "GET" and has_body:
        raise ValueError("a GET request cannot have a body with the curl client")
    if allow_nonstandard_methods:
        return
    expected = method_name in BODY_METHODS
    if expected and not has_body:
        raise ValueError(
            f"a {method_name} request needs a body (pass body=..., or "
            "allow_nonstandard_methods=True to send it without one)"
        )
    if has_body and not expected:
        raise ValueError(
            f"a {method_name} request cannot have a body (unless "
            "allow_nonstandard_methods=True)"
        )


def header_pairs(headers: Any) -> Iterable[Tuple[str, Any]]:
    """Every (name, value) of *headers*, repeated names kept."""
    if type(headers) is not dict and isinstance(headers, httputil.HTTPHeaders):
        return headers.get_all()
    items: Iterable[Tuple[str, Any]] = headers.items()
    return items


def copy_headers(request_headers: Optional[Mapping[str, str]]) -> Any:
    """A copy of the caller's headers to build on: an ``HTTPHeaders`` (with
    its repeated names kept) or a dict."""
    if request_headers is None:
        return {}
    if type(request_headers) is dict:  # the common case, without ABC checks
        return dict(request_headers)
    if isinstance(request_headers, httputil.HTTPHeaders):
        copied = httputil.HTTPHeaders()
        for name, value in request_headers.get_all():
            try:
                copied.add(name, value)
            except httputil.HTTPInputError:
                pass
            else:
                continue
            # Tornado 6.3+ checks what add() is given (not what item
            # assignment is), and its message shows the value, which may be a
            # credential: say what is wrong naming the header only (and
            # outside the except block, so that no traceback shows it).
            check_headers({name: value})
            raise ValueError(
                f"request headers: Tornado refuses the value of the header "
                f"{_safe_name(name)} (the value is not shown)"
            )
        return copied
    if not isinstance(request_headers, Mapping):
        raise ValueError(
            f"request_headers must be a mapping of names to values, not "
            f"{type(request_headers).__name__}"
        )
    return dict(request_headers)


def check_headers(headers: Any) -> None:
    """Header names must be tokens; values str of Latin-1 characters without
    CR, LF, NUL or another control character (a tab is allowed). The message
    names the header, never its value."""
    if type(headers) is dict:
        # The common case, decided at C speed: every value a printable ASCII
        # str (join raises TypeError for any other type) and every name one
        # already found good.
        try:
            joined = "".join(headers.values())
        except TypeError:
            pass
        else:
            if joined.isascii() and joined.isprintable() and _good_names.issuperset(headers):
                return
    for name, value in header_pairs(headers):
        if type(value) is str and value.isascii() and value.isprintable() and name in _good_names:
            continue
        if not isinstance(value, str):
            raise ValueError(
                f"request header {_safe_name(name)} must have a str value, not "
                f"{type(value).__name__}"
            )
        problem = describe_header_for_error(name, value)
        if problem is not None:
            hint = (
                " (a value read from a file often ends with a newline: strip it)"
                if "line break" in problem
                else ""
            )
            raise ValueError(f"request headers: {problem}{hint}")
        if len(_good_names) < 1024:
            _good_names.add(name)


# Header names already found good (a service sends the same few).
_good_names: Set[str] = set()


def _safe_name(name: Any) -> str:
    text = repr(name)
    return text if len(text) <= 60 else text[:57] + "..."


#: The keyword arguments of tornado's HTTPRequest, which fetch takes.
FETCH_OPTIONS = frozenset(inspect.signature(httpclient.HTTPRequest.__init__).parameters) - {
    "self",
    "url",
}


def client_options(kwargs: Dict[str, Any], curl: bool) -> None:
    """The fetch options one client does not support, refused before sending.

    :raises TypeError: for a keyword fetch does not take, as fetch would
    """
    if not kwargs:
        return
    unknown = kwargs.keys() - FETCH_OPTIONS
    if unknown:
        raise TypeError(
            f"http_fetch() got keyword arguments that fetch does not take: "
            f"{', '.join(sorted(unknown))}"
        )
    if not curl:
        for key in _SIMPLE_UNSUPPORTED:
            if kwargs.get(key):
                raise ValueError(f"{key} needs the curl client (tornado's simple client has none)")
        interface = kwargs.get("network_interface")
        if interface:
            from tornado import netutil

            if not netutil.is_valid_ip(interface):
                raise ValueError(
                    "network_interface must be an IP address with the simple client, "
                    f"not {interface!r}"
                )
    auth_mode = kwargs.get("auth_mode")
    allowed = ("basic", "digest") if curl else ("basic",)
    if auth_mode is not None and auth_mode not in allowed:
        raise ValueError(f"auth_mode must be one of {', '.join(allowed)}, not {auth_mode!r}")


def credential(value: Any, name: str) -> Optional[str]:
    """``auth_username`` / ``auth_password``: a str or None (never echoed)."""
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name} must be a str or None, not {type(value).__name__}")


def retry_policy(given: Any, explicit: Collection[str]) -> RetryPolicy:
    """A caller's ``retry_policy``; the per-call options it replaces may not
    be given with it (which one would win is not obvious)."""
    if not isinstance(given, RetryPolicy):
        raise ValueError(f"retry_policy must be a RetryPolicy, not {type(given).__name__}")
    if explicit:
        raise ValueError(
            f"retry_policy replaces {', '.join(sorted(explicit))}: give one or the other"
        )
    return given
