"""The package logger, and redaction of credentials before anything is logged.

What counts as a credential (the rules are documented in ``docs/retry.rst``,
"Credentials in logs and errors"):

- a URL's userinfo, whole: ``https://TOKEN@host/`` and ``http://user:pw@host/``
  both become ``http://[redacted]@host/``, also when an unencoded ``#``, ``/``,
  ``?`` or ``@`` in the password hides it from :func:`urllib.parse.urlsplit`;
- the values of the query (and fragment) parameters named in
  :data:`SECRET_QUERY_PARAMETERS`, matched ignoring case, ``-`` and ``_``;
- the values of credential headers (:func:`is_secret_header`), whose
  authentication scheme word and cookie names are kept.

:func:`redact_url` and :func:`redact_header` make text safe to log;
:func:`secrets_of` lists the strings to :func:`scrub` from texts the package
does not write itself (exception messages); :func:`describe_url_for_error` and
:func:`describe_header_for_error` describe a bad argument without its secret;
the ``tornado.curl_httpclient`` logger gets a filter at import
(:func:`install_curl_debug_redaction`).
"""

from __future__ import annotations

import functools
import logging
import re
import urllib.parse
from typing import Any, Collection, Iterable, List, Mapping, Optional, Tuple

#: The package's logger. Every message sprockets_http logs goes through it.
LOGGER = logging.getLogger("sprockets_http")

REDACTED = "[redacted]"

#: Query (and fragment) parameters whose values are credentials, in lower
#: case. A name matches ignoring case, ``-`` and ``_`` (``apiKey``,
#: ``API-KEY`` and ``api_key`` are one name) after percent-decoding.
#: Borderline names are in because hiding one harmless value costs less than
#: logging a credential: ``key`` (Google API keys), ``code`` (OAuth
#: authorization codes, Azure Functions keys), ``auth`` (Firebase),
#: ``session``/``sessionid``/``jsessionid`` (session identifiers are bearer
#: credentials), ``sig`` (Azure SAS), and the ``*credential``/
#: ``awsaccesskeyid`` names of signed URLs (they name the key that signed).
SECRET_QUERY_PARAMETERS: frozenset[str] = frozenset(
    {
        "access_token",
        "api-key",
        "api_key",
        "apikey",
        "auth",
        "auth_token",
        "awsaccesskeyid",
        "client_secret",
        "code",
        "id_token",
        "jsessionid",
        "jwt",
        "key",
        "pass",
        "passwd",
        "password",
        "private_token",
        "pwd",
        "refresh_token",
        "secret",
        "session",
        "session_id",
        "sessionid",
        "sig",
        "signature",
        "token",
        "x-amz-credential",
        "x-amz-security-token",
        "x-amz-signature",
        "x-goog-credential",
        "x-goog-signature",
    }
)

#: Headers whose values are credentials, in lower case. Any header whose name
#: contains ``authoriz``, ``x-auth``, ``token``, ``secret``, ``passw``,
#: ``api-key``, ``api_key``, ``apikey``, ``session``, ``cookie``,
#: ``credential`` or ``signature`` is one too (:func:`is_secret_header`).
SECRET_HEADERS: frozenset[str] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie"}
)

_SECRET_HEADER_WORDS = re.compile(
    r"authoriz|x-auth|token|secret|passw|api-key|api_key|apikey|session|cookie|credential"
    r"|signature",
    re.IGNORECASE,
)

# Authentication schemes (the IANA registry and common others) whose name is
# kept in a redacted Authorization header: "Bearer [redacted]". A first word
# not listed here may be part of the credential, so it is redacted too.
_AUTH_SCHEMES = frozenset(
    {
        "aws4-hmac-sha256",
        "basic",
        "bearer",
        "concealed",
        "digest",
        "dpop",
        "gnap",
        "hoba",
        "mutual",
        "negotiate",
        "ntlm",
        "oauth",
        "privatetoken",
        "scram-sha-1",
        "scram-sha-256",
        "token",
        "vapid",
    }
)

# Where a URL's authority starts: after "scheme://" or a leading "//", or
# after "http:"/"https:" and any number of slashes (as browsers read them).
# Text that matches none of these is read from its start ("user:pw@host/").
_AUTHORITY_START = re.compile(
    r"[\x00-\x20]*(?:https?:[/\\]*|[A-Za-z][A-Za-z0-9+.-]*://|//)", re.IGNORECASE
)
_DELIMITERS = re.compile(r"[/?#]")
_DIGITS = re.compile(r"[0-9]*")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def is_secret_header(name: str) -> bool:
    """Whether the value of the header *name* is a credential: a name in
    :data:`SECRET_HEADERS`, or one containing a credential word (see there)."""
    lowered = name.strip().lower()
    return lowered in SECRET_HEADERS or _SECRET_HEADER_WORDS.search(lowered) is not None


# --- URLs -------------------------------------------------------------------


def redact_url(url: str, secret_parameters: Collection[str] = SECRET_QUERY_PARAMETERS) -> str:
    """*url* with its userinfo and its secret parameters' values replaced by
    ``[redacted]``; everything else (parameter order, other values, the
    fragment) is kept.

    ``https://TOKEN@host/a?token=x&page=2#top`` becomes
    ``https://[redacted]@host/a?token=[redacted]&page=2#top``.

    :param url: the URL; text that does not parse as one is redacted by the
        same rules
    :param secret_parameters: the names of the query and fragment parameters
        whose values are redacted, matched ignoring case, ``-``, ``_`` and
        percent-encoding; default :data:`SECRET_QUERY_PARAMETERS`
    """
    if "@" not in url and "=" not in url:  # the common case, without parsing
        return url
    return _redact(url, _normalized(secret_parameters), [])


def secrets_of(
    url: str,
    headers: Optional[Mapping[str, Any]],
    auth_password: Optional[str],
    *,
    secret_parameters: Collection[str] = SECRET_QUERY_PARAMETERS,
    other_secrets: Iterable[Optional[str]] = (),
) -> frozenset[str]:
    """The credential strings of one request, to :func:`scrub` from texts
    such as exception messages.

    Every value :func:`redact_url` and :func:`redact_header` hide is in it:
    the URL's userinfo (the user name too: it may be a token) and secret
    parameter values, each also percent-decoded; the value of each credential
    header, whole and without its scheme word (``Bearer``); *auth_password*
    and *other_secrets* (a ``proxy_password``, say). Each string is also given
    as :func:`repr` writes it inside quotes (``TOKEN\\\\n`` for a value with a
    trailing newline), so a message quoting it with ``%r`` is scrubbed too.
    """
    found: List[str] = []
    if "@" in url or "=" in url:
        _redact(url, _normalized(secret_parameters), found)
    found.append(auth_password or "")
    found.extend(secret or "" for secret in other_secrets)
    for name, value in (headers or {}).items():
        if value is None:
            continue
        name = str(name)
        if ":" in name:  # a whole "Name: value" line given as a name
            name, _, tail = name.partition(":")
            found.append(tail.strip())
        if is_secret_header(name):
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            found.append(text)
            found.append(text.strip())
            # "Bearer abc": the token alone may appear in an error message.
            found.append(text.strip().partition(" ")[2].strip())
    secrets = set()
    for secret in found:
        if secret:
            secrets.add(secret)
            secrets.add(repr(secret)[1:-1])
            secrets.add(repr(secret.encode("latin-1", "backslashreplace"))[2:-1])
    return frozenset(secrets)


@functools.lru_cache(maxsize=16)
def _normalized_frozen(names: frozenset[str]) -> frozenset[str]:
    return frozenset(_parameter_key(name) for name in names)


def _normalized(names: Collection[str]) -> frozenset[str]:
    if isinstance(names, frozenset):
        return _normalized_frozen(names)
    return frozenset(_parameter_key(name) for name in names)


def _parameter_key(name: str) -> str:
    """A parameter name as it is compared: decoded, lower case, without - and _."""
    return urllib.parse.unquote_plus(name).lower().replace("-", "").replace("_", "")


def _redact(url: str, secret_keys: frozenset[str], found: List[str]) -> str:
    """Redact *url*, appending every value it hides (and its decoded forms)
    to *found*."""
    start = _authority_start(url)
    rest = url[start:]
    at, _ = _userinfo_end(rest)
    if at >= 0:
        userinfo = rest[:at]
        user, _, password = userinfo.partition(":")
        for secret in (userinfo, user, password):
            found.extend((secret, urllib.parse.unquote(secret)))
        rest = rest[at + 1 :]
    hash_index = rest.find("#")
    fragment = None if hash_index < 0 else rest[hash_index + 1 :]
    before_fragment = rest if hash_index < 0 else rest[:hash_index]
    path, question, query = before_fragment.partition("?")
    redacted = url[:start] + (REDACTED + "@" if at >= 0 else "") + path + question
    redacted += _redact_parameters(query, secret_keys, found)
    if fragment is not None:
        redacted += "#" + _redact_parameters(fragment, secret_keys, found)
    return redacted


def _authority_start(url: str) -> int:
    match = _AUTHORITY_START.match(url)
    return match.end() if match else 0


def _delimiter(text: str, start: int) -> int:
    """The index of the first "/", "?" or "#" in *text* from *start*, else its length."""
    match = _DELIMITERS.search(text, start)
    return match.start() if match else len(text)


def _userinfo_end(rest: str) -> Tuple[int, bool]:
    """The index of the ``@`` that ends the userinfo of *rest* (a URL from
    its authority on), or -1; and whether that userinfo holds an unencoded
    ``/``, ``?`` or ``#`` (a password urlsplit would not see).

    The authority runs to the first ``/``, ``?`` or ``#``; an ``@`` in it
    ends the userinfo (the last one: a password may hold ``@``). Without
    one, an authority ``NAME:TEXT`` followed later by an ``@`` was a password
    cut short by a delimiter when *TEXT* is not a port (``u:p/w@host``); when
    it is one (``admin:12#PW@host``), only when what lies between the
    delimiter and the ``@`` cannot be a path segment, query or fragment
    holding an ``@`` (``host:8080/@scope``, ``host:8080/a/@b``,
    ``host:8080/?mail=a@b``): see :func:`_password_after_port`.
    """
    end = _delimiter(rest, 0)
    at = rest.rfind("@", 0, end)
    if at >= 0:
        return at, False
    # The colon of "NAME:", after a bracketed IPv6 address's colons.
    colon = rest.find(":", rest.find("]", 0, end) + 1 if rest.startswith("[") else 0, end)
    if colon < 0:
        return -1, False
    at = rest.find("@", end)
    if at < 0:
        return -1, False
    if _DIGITS.fullmatch(rest, colon + 1, end) and not _password_after_port(
        rest[end], rest[end + 1 : at]
    ):
        return -1, False
    # From that "@", the userinfo runs to the last "@" before the next delimiter.
    return rest.rfind("@", at, _delimiter(rest, at)), True


def _password_after_port(delimiter: str, between: str) -> bool:
    """Whether ``HOST:DIGITS{delimiter}{between}@`` is a password starting with
    digits rather than a host, a port and an ``@`` later in the URL.

    After ``?`` or ``#`` (a query or fragment straight after the port is rare)
    anything without a ``/`` is taken for a password; after ``/`` only a
    non-empty text without ``/``, ``?`` or ``#`` (not ``/@scope/``, not
    ``/a/b@c``, not ``/?mail=a@b``), at the cost of redacting the host of a
    URL such as ``http://host:8080/a@b``.
    """
    if delimiter != "/":
        return "/" not in between
    return bool(between) and _DELIMITERS.search(between) is None


def _redact_parameters(text: str, secret_keys: frozenset[str], found: List[str]) -> str:
    """Redact the secret ``name=value`` pairs of a query or fragment.

    Pairs are split at ``&``, ``;``, ``?`` and ``#`` (an unencoded URL in a
    value may bring its own query; a fragment holding another ``#``, invalid
    but sent, would otherwise hide the pair after it), and a value holding
    ``//`` and ``@`` is redacted as a URL.
    """
    if "=" not in text:
        return text
    pieces = re.split(r"([&;?#])", text)
    for index in range(0, len(pieces), 2):
        name, equals, value = pieces[index].partition("=")
        if not value:
            continue
        if _parameter_key(name) in secret_keys:
            found.extend(
                (value, urllib.parse.unquote(value), urllib.parse.unquote_plus(value))
            )
            pieces[index] = name + equals + REDACTED
        elif "@" in value and "//" in value:
            pieces[index] = name + equals + _redact(value, secret_keys, found)
    return "".join(pieces)


# --- headers ----------------------------------------------------------------


def redact_header(name: str, value: str) -> str:
    """*value* made safe to log as the value of the header *name*.

    The value of a credential header (:func:`is_secret_header`) is replaced
    by ``[redacted]``, keeping what helps a reader and is no secret: a known
    authentication scheme (``Bearer [redacted]``), cookie names
    (``Cookie: a=[redacted]; b=[redacted]``) and a ``Set-Cookie``'s
    attributes (``sid=[redacted]; Path=/; HttpOnly``). Other values are
    returned as they are.
    """
    if not is_secret_header(name) or not value.strip():
        return value
    lowered = name.strip().lower()
    if lowered == "cookie":
        return "; ".join(
            _redact_cookie_pair(pair) for pair in value.split(";") if pair.strip()
        )
    if lowered == "set-cookie":
        pair, semicolon, attributes = value.partition(";")
        return _redact_cookie_pair(pair) + semicolon + attributes
    scheme, space, _ = value.strip().partition(" ")
    if space and scheme.lower() in _AUTH_SCHEMES:
        return f"{scheme} {REDACTED}"
    return REDACTED


def _redact_cookie_pair(pair: str) -> str:
    name, equals, _ = pair.strip().partition("=")
    return f"{name}={REDACTED}" if equals else REDACTED


# --- describing bad arguments without their secrets ----------------------------


def describe_header_for_error(name: Any, value: Any) -> Optional[str]:
    """What is wrong with the request header *name*: *value*, for a
    :exc:`ValueError` message, or ``None`` when nothing is.

    Checked: the name is a non-empty str token (RFC 9110); the value is a
    str (or bytes) of Latin-1 characters without CR, LF, NUL, DEL or another
    control character (a tab is allowed). The message names the header, the
    problem and its index, never the value; of an invalid name it shows only
    the part before the first invalid character (a whole ``"Authorization:
    Bearer ..."`` line given as a name shows as ``'Authorization'``).
    """
    if not isinstance(name, str):
        return f"a header name must be a str, not {type(name).__name__}"
    if not name:
        return "a header name is empty"
    valid = _TOKEN.match(name)
    valid_part = valid.group() if valid else ""
    if valid_part != name:
        return (
            f"the header name {valid_part!r} is followed by "
            f"{_describe_character(name[len(valid_part)])} at index {len(valid_part)}: "
            "a header name is a token (letters, digits and !#$%&'*+-.^_`|~)"
        )
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return f"the value of the header {name!r} must be a str, not {type(value).__name__}"
    for index, character in enumerate(value):
        if (character < " " and character != "\t") or character == "\x7f" or character > "\xff":
            return (
                f"the value of the header {name!r} contains "
                f"{_describe_character(character)} at index {index} of {len(value)} "
                "(the value is not shown)"
            )
    return None


def _describe_character(character: str) -> str:
    if character in "\r\n":
        return "a line break (CR or LF)"
    if character == "\x00":
        return "a NUL character"
    if character == " ":
        return "a space"
    if character < " " or character == "\x7f":
        return "a control character"
    if character > "\xff":
        return "a character that is not Latin-1"
    return f"the character {character!r}"


def describe_url_for_error(url: Any) -> Optional[str]:
    """What is wrong with *url* as the target of a request, for a
    :exc:`ValueError` message, or ``None`` when nothing is.

    Checked: *url* is a str without spaces or control characters; its
    scheme is ``http`` or ``https``; it has a host and a valid port; its
    userinfo holds no unencoded ``/``, ``?`` or ``#`` (such a URL sends the
    request to the user name as a host). The message shows the URL through
    :func:`redact_url` and never quotes :mod:`urllib.parse`'s own errors
    (``Port could not be cast to integer value as 'PASSW'``).
    """
    if not isinstance(url, str):
        return f"the URL must be a str, not {type(url).__name__}"
    shown = repr(redact_url(url))
    for character in url:
        if character <= " " or character == "\x7f":
            return f"the URL {shown} contains {_describe_character(character)}"
    start = _authority_start(url)
    if _userinfo_end(url[start:])[1]:
        return (
            f"the URL {shown} has a user name or password with an unencoded '/', '?' "
            "or '#': percent-encode it (urllib.parse.quote(password, safe=''))"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"the URL {shown} does not parse (a bad port or IPv6 address)"
    if parts.scheme.lower() not in ("http", "https"):
        return f"the URL {shown} is not an http:// or https:// URL"
    if not parts.hostname:
        return f"the URL {shown} has no host"
    return None


# --- exception texts ---------------------------------------------------------


def describe_outcome(outcome: Any, secrets: Iterable[str] = ()) -> str:
    """``"503 Service Unavailable"`` for a response; an exception's type and
    text, with *secrets* scrubbed, for an exception."""
    code = getattr(outcome, "code", None)
    if isinstance(code, int) and not isinstance(outcome, BaseException):
        return f"{code} {getattr(outcome, 'reason', '')}".rstrip()
    return scrub(f"{type(outcome).__name__}: {outcome}", secrets)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret from *text*."""
    # Longer secrets first, so a short one inside a long one cannot leave
    # half of the long one behind.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


# --- tornado's curl client at DEBUG --------------------------------------------

#: The logger of tornado's curl client. At DEBUG it makes libcurl verbose and
#: logs the request line, every request and response header and the body.
CURL_LOGGER_NAME = "tornado.curl_httpclient"

# "Name: value" in a header line tornado logs ("> Authorization: Bearer x",
# "< Set-Cookie: ...") or in libcurl's HTTP/2 and HTTP/3 text lines
# ("[HTTP/2] [1] [authorization: Bearer x]").
_HEADER_LINE = re.compile(
    r"^(?P<lead>[<>] |.*?\[)(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]+)(?P<colon>[ \t]*:[ \t]*)"
    r"(?P<value>.*)$",
    re.MULTILINE,
)
# An absolute URL in free text, up to the next whitespace. The scheme is
# bounded: unbounded, a long run of letters (a 70 KB header line) is scanned
# from each of its letters, in time quadratic in its length.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://\S+")
# "name=value" after "?", "&", ";", "#", a quote, whitespace or the start: the
# request line's query, a Location, a form-encoded body.
_PARAMETER_IN_TEXT = re.compile(r"(?<![^?&;#'\"\s])(?P<name>[^=&;#\s?'\"]+)=(?P<value>[^&;#\s]*)")
# libcurl's "Server auth using Basic with user 'NAME'" (and "Proxy auth ..."):
# the name may be the token of a URL's userinfo.
_AUTH_USER = re.compile(r"(?P<lead>auth using \S+ with user ')(?P<user>.*)'$", re.MULTILINE)
# '"name": "value"' in a JSON body.
_JSON_MEMBER = re.compile(r'"(?P<name>[^"\\]{1,64})"(?P<colon>\s*:\s*)"(?P<value>(?:[^"\\]|\\.)*)"')


def redact_text(text: str, secret_parameters: Collection[str] = SECRET_QUERY_PARAMETERS) -> str:
    """Free text (a libcurl debug line, a request line, a request body) with
    credentials redacted: credential header values (:func:`redact_header`),
    the userinfo and secret parameters of absolute URLs (:func:`redact_url`),
    and the values of secret parameters written as ``name=value`` or as
    ``"name": "value"`` anywhere in it."""
    secret_keys = _normalized(secret_parameters)

    def header(match: re.Match[str]) -> str:
        value = match["value"]
        closing = "]" if match["lead"].endswith("[") and value.endswith("]") else ""
        value = value[: len(value) - len(closing)]
        return (
            match["lead"] + match["name"] + match["colon"]
            + redact_header(match["name"], value) + closing
        )

    def parameter(match: re.Match[str]) -> str:
        if not match["value"] or _parameter_key(match["name"]) not in secret_keys:
            return match.group()
        # Keep the "]" of "[:path: /?token=x]" or the quote closing a body's
        # repr, when it ends the line.
        value = match["value"]
        at_line_end = match.end() == len(match.string) or match.string[match.end()] == "\n"
        closing = value[-1] if at_line_end and len(value) > 1 and value[-1] in "]'\"" else ""
        if value in (REDACTED, REDACTED + closing):  # already redacted (a cookie)
            return match.group()
        return f"{match['name']}={REDACTED}{closing}"

    def member(match: re.Match[str]) -> str:
        if match["value"] and _parameter_key(match["name"]) in secret_keys:
            return f'"{match["name"]}"{match["colon"]}"{REDACTED}"'
        return match.group()

    text = _HEADER_LINE.sub(header, text)
    text = _AUTH_USER.sub(lambda match: f"{match['lead']}{REDACTED}'", text)
    text = _URL_IN_TEXT.sub(lambda match: _redact(match.group(), secret_keys, []), text)
    text = _PARAMETER_IN_TEXT.sub(parameter, text)
    return _JSON_MEMBER.sub(member, text)


# The formats of tornado.curl_httpclient's own lines (identical in tornado
# 6.2 to 6.6): "%s %s" for the method and URL and for a header line
# (">"/"<" and the line), "%s %s (username: %r)" for the method and URL of a
# request with auth_username, "%s %r" for a chunk of the request body.
_URL_FORMATS = ("%s %s", "%s %s (username: %r)")
_BODY_FORMAT = "%s %r"


class _CurlDebugRedaction(logging.Filter):
    """Redacts the records of ``tornado.curl_httpclient`` (see
    :func:`install_curl_debug_redaction`)."""

    def __init__(self, secret_parameters: Collection[str]) -> None:
        super().__init__()
        self.secret_parameters = secret_parameters

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 2 and args[0] not in ("<", ">"):
            if record.msg in _URL_FORMATS:  # METHOD URL: structured, spaces and all
                args = (args[0], redact_url(str(args[1]), self.secret_parameters), *args[2:])
        elif isinstance(args, tuple) and len(args) == 2 and record.msg == _BODY_FORMAT:
            args = (args[0], _describe_body(args[1], self.secret_parameters))
            record.msg = "%s %s"
        try:
            message = str(record.msg) % args if args else str(record.msg)
        except (TypeError, ValueError, KeyError):  # logging reports it as usual
            return True
        record.msg, record.args = redact_text(message, self.secret_parameters), ()
        return True


def _describe_body(body: Any, secret_parameters: Collection[str]) -> str:
    """A chunk of a request body as tornado logs it (its ``repr``), with
    secret form and JSON fields redacted; a binary body (msgpack, say)
    cannot be redacted by field and is shown by its size only."""
    if not isinstance(body, bytes):
        return repr(redact_text(str(body), secret_parameters))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = "\x00"
    if any((character < " " and character not in "\t\r\n") or character == "\x7f"
           for character in text):
        return f"[{len(body)} bytes of binary request body, not shown]"
    # Redacted before repr: repr doubles the backslash of a JSON escape.
    return repr(redact_text(text, secret_parameters).encode("utf-8"))


def install_curl_debug_redaction(
    secret_parameters: Collection[str] = SECRET_QUERY_PARAMETERS,
) -> None:
    """Make the ``tornado.curl_httpclient`` logger redact credentials.

    With that logger at DEBUG, tornado makes libcurl verbose and logs the
    request line, every request header (``Authorization``,
    ``Proxy-Authorization``, ``Cookie``), every response header
    (``Set-Cookie``) and the request body, for every curl client in the
    process. The filter installed here rewrites each record: credential
    header values are redacted (:func:`redact_header`), URLs and request
    lines lose their userinfo and secret parameter values, and a request
    body its secret form or JSON fields (a binary body is shown by its
    size). The lines stay, so the output keeps its use.

    Called when sprockets_http is imported; call it again to use other
    *secret_parameters* there. Installing twice keeps one filter.
    """
    logger = logging.getLogger(CURL_LOGGER_NAME)
    for existing in logger.filters:
        if isinstance(existing, _CurlDebugRedaction):
            existing.secret_parameters = secret_parameters
            return
    logger.addFilter(_CurlDebugRedaction(secret_parameters))


install_curl_debug_redaction()
