"""The request, from what was typed: the URL, request items, ``-H``, ``-d``
and ``-a``.

Request items are httpie's:

==================  ===========================================================
``NAME=TEXT``       a body field whose value is the string *TEXT*
``NAME:=JSON``      a body field whose value is the JSON value *JSON* (a
                    number, ``true``, ``null``, an array, an object, a string)
``Header:VALUE``    a request header
``NAME==VALUE``     a query parameter, added to the URL's query
==================  ===========================================================

The separator is the first ``=``, ``:=``, ``:`` or ``==`` in the item (at one
position the longer one wins: ``a==b`` is a query parameter, ``a:=1`` a JSON
field); a backslash before ``=``, ``:`` or ``\\`` in the *name* makes it part
of the name (``a\\=b=c`` is the field ``a=b``). Values are taken as typed.
Every function here is pure, apart from :func:`read_data` reading a file and
:func:`resolve_auth` asking for a password.
"""

from __future__ import annotations

import json
import string
import sys
import urllib.parse
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    TextIO,
    Tuple,
    Union,
)

from sprockets_http._log import redact_url
from sprockets_http.cli.errors import UsageError, one_line

__all__ = [
    "PASSWORD_VARIABLE",
    "RequestItems",
    "check_url",
    "join_headers",
    "parse_header_option",
    "parse_items",
    "read_data",
    "resolve_auth",
    "with_query",
]

#: The environment variable ``-a USER`` (no password) reads the password from.
PASSWORD_VARIABLE = "SPROCKETS_HTTP_PASSWORD"  # noqa: S105 - a name, not a password

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
# Longest first: at one position "==" beats "=", ":=" beats ":".
_SEPARATORS = ("==", ":=", "=", ":")
_ESCAPABLE = frozenset("=:\\")
_ITEM_FORMS = "NAME=TEXT, NAME:=JSON, Header:VALUE or NAME==VALUE"


class RequestItems(NamedTuple):
    """Request items, sorted by what they become."""

    #: ``Header:VALUE`` items, in order, as (name, value).
    headers: List[Tuple[str, str]]
    #: ``NAME==VALUE`` items, in order, as (name, value).
    query: List[Tuple[str, str]]
    #: ``NAME=TEXT`` and ``NAME:=JSON`` items: the body's fields, in order.
    fields: Dict[str, Any]


def _split_item(item: str) -> Tuple[str, str, str]:
    """(name with its escapes resolved, separator, value) of one item.

    :raises UsageError: when the item has no separator
    """
    name: List[str] = []
    index = 0
    while index < len(item):
        char = item[index]
        if char == "\\" and index + 1 < len(item) and item[index + 1] in _ESCAPABLE:
            name.append(item[index + 1])
            index += 2
            continue
        for separator in _SEPARATORS:
            if item.startswith(separator, index):
                return "".join(name), separator, item[index + len(separator):]
        name.append(char)
        index += 1
    raise UsageError(f"{item!r} is not a request item: expected {_ITEM_FORMS}")


def parse_items(items: Sequence[str]) -> RequestItems:
    """Sort request items (see the module's table) into headers, query
    parameters and body fields.

    :raises UsageError: for an item with no separator or an empty name, a
        header with an invalid name, no value or a control character, a
        ``:=`` value that is not JSON, or a body field given twice. A
        header's value is never quoted in the message: it may be a
        credential.
    """
    found = RequestItems([], [], {})
    for item in items:
        name, separator, value = _split_item(item)
        if not name:
            raise UsageError(f"{item!r}: the name before {separator!r} is empty")
        if separator == ":":
            if not value.strip():
                raise UsageError(
                    f"header {name!r} has no value (removing a default header this way "
                    "is not supported)"
                )
            found.headers.append(check_header(name, value.strip(), "header"))
        elif separator == "==":
            found.query.append((name, value))
        else:
            if name in found.fields:
                raise UsageError(f"the body field {name!r} is given twice")
            found.fields[name] = value if separator == "=" else _json_item(name, value)
    return found


def _json_item(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise UsageError(f"'{name}:=': not valid JSON: {one_line(error)}") from None


def check_header(name: str, value: str, what: str) -> Tuple[str, str]:
    """*name* and *value* when they make a valid header; *what* names the
    option in an error (the value is never quoted).

    :raises UsageError: for an invalid name or a control character in the value
    """
    if not set(name) <= _TOKEN_CHARS:
        raise UsageError(f"{what} {name!r}: not a valid header name")
    if any(ord(char) < 32 and char != "\t" or ord(char) == 127 for char in value):
        raise UsageError(f"{what} {name!r}: control characters are not allowed in a value")
    return name, value


def parse_header_option(text: str) -> Tuple[str, str]:
    """One ``-H 'Name: value'`` option as (name, value).

    :raises UsageError: for text without a colon, an invalid name, or a
        control character in the value
    """
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not name:
        raise UsageError("-H: expected 'Name: value', with a name before a colon")
    return check_header(name, value.strip(), "-H")


def join_headers(pairs: Iterable[Tuple[str, str]]) -> Dict[str, str]:
    """Headers as a dict; a repeated name (in any letter case) gets its
    values joined with ``", "``, under the first spelling of the name."""
    headers: Dict[str, str] = {}
    lower: Dict[str, str] = {}
    for name, value in pairs:
        existing = lower.get(name.lower())
        if existing is None:
            headers[name] = value
            lower[name.lower()] = name
        else:
            headers[existing] = f"{headers[existing]}, {value}"
    return headers


def check_url(url: str) -> str:
    """*url* when it is an ``http://`` or ``https://`` URL with a host.

    :raises UsageError: naming the URL with its password redacted
    """
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:  # its text may quote a password cut short by "/": not shown
        raise UsageError(f"invalid URL {redact_url(url)!r}: a bad port or IPv6 address") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid URL {redact_url(url)!r}: expected http://HOST/... or https://HOST/..."
        )
    return url


def with_query(url: str, parameters: Sequence[Tuple[str, str]]) -> str:
    """*url* with *parameters* added after its own query, percent-encoded."""
    if not parameters:
        return url
    parts = urllib.parse.urlsplit(url)
    added = urllib.parse.urlencode(parameters, quote_via=urllib.parse.quote)
    query = f"{parts.query}&{added}" if parts.query else added
    return urllib.parse.urlunsplit(parts._replace(query=query))


def read_data(text: str, stdin: Optional[TextIO] = None) -> Any:
    """The ``-d`` value: JSON text, ``@FILE`` holding JSON, or ``@-`` for stdin.

    :raises UsageError: for a file that cannot be read or text that is not JSON
    """
    source = "-d"
    if text.startswith("@"):
        path = text[1:]
        source = f"-d {text}"
        try:
            if path == "-":
                stream = stdin if stdin is not None else sys.stdin
                buffer = getattr(stream, "buffer", None)
                raw: Union[str, bytes] = buffer.read() if buffer is not None else stream.read()
            else:
                with open(path, "rb") as handle:
                    raw = handle.read()
        except OSError as error:
            reason = error.strerror or one_line(error)
            raise UsageError(f"{source}: cannot read {path!r}: {reason}") from None
    else:
        raw = text
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise UsageError(f"{source} is not valid JSON: {one_line(error)}") from None


def resolve_auth(
    value: str,
    environ: Mapping[str, str],
    can_prompt: bool,
    prompt: Callable[[str], str],
) -> Tuple[str, str]:
    """The (user, password) of ``-a USER[:PASSWORD]``.

    The text after the first colon is the password (``USER:`` gives an empty
    one). Without a colon the password is read from the environment variable
    :data:`PASSWORD_VARIABLE` when it is set and not empty, else asked for
    with *prompt* (``getpass.getpass``, which does not echo) when
    *can_prompt* (standard input is a terminal).

    :raises UsageError: for an empty user name, or no password to be had;
        the message never holds the user name or the password
    """
    user, colon, password = value.partition(":")
    if not user:
        raise UsageError("-a: the user name is empty; expected USER or USER:PASSWORD")
    if colon:
        return user, password
    from_environment = environ.get(PASSWORD_VARIABLE)
    if from_environment:
        return user, from_environment
    if not can_prompt:
        raise UsageError(
            f"-a: no password: give USER:PASSWORD, set {PASSWORD_VARIABLE}, or run "
            "with standard input on a terminal to be asked for it"
        )
    try:
        return user, prompt(f"Password for {user}: ")
    except EOFError:
        raise UsageError("-a: no password was entered") from None
