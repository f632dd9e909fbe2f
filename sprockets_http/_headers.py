"""Header look-ups, and the grammar of every value sprockets_http parses.

Each parser is a pure function of its text: no I/O, no logging, no clock
(the caller passes "now"), and no exception for malformed input. Each says
what it keeps and what it drops; the caller decides what to log.

=====================  ======================  ==================================
Value                  Parser                  Read by
=====================  ======================  ==================================
``Content-Type``       parse_content_type      ``content.media_type`` (bodies)
``Link``               parse_links             ``HTTPResponse.links``
``Retry-After``        parse_retry_after       ``RetryPolicy.wait``
``HTTP_MAX_CLIENTS``   parse_positive_int      the mixin's client (environment)
=====================  ======================  ==================================

The quoting rules are shared: a value is a quoted-string (RFC 9110 5.6.4:
``\\`` escapes the next character) or, leniently, any text without a ``"``
up to the next delimiter, trimmed of whitespace; delimiters inside a
quoted-string (and, in a Link header, inside ``<...>``) do not count. Names
(types, subtypes, parameter names) are tokens (RFC 9110 5.6.2) compared in
any case.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple

__all__ = [
    "ParsedLinks",
    "find_header",
    "header_value",
    "http_date",
    "media_format",
    "parse_content_type",
    "parse_links",
    "parse_positive_int",
    "parse_retry_after",
]


# --- look-ups -----------------------------------------------------------------


def find_header(headers: Mapping[str, Any], name: str) -> Optional[str]:
    """Return the key under which *headers* holds *name* (any case), or None."""
    if name in headers:
        return name
    lowered = name.lower()
    for key in headers:
        if key.lower() == lowered:
            return key
    return None


def header_value(headers: Any, name: str) -> Optional[str]:
    """A response header's value (repeated ones joined by commas), or None.

    ``HTTPHeaders.get`` raises and catches a KeyError for every missing
    header, which costs more than the rest of recording a response; its
    ``get_list`` does not.
    """
    get_list = getattr(headers, "get_list", None)
    if get_list is None:  # a plain mapping
        value = headers.get(name)
        return None if value is None else str(value)
    values = get_list(name)
    return ",".join(values) if values else None


# --- tokens and quoted-strings (RFC 9110 5.6.2 and 5.6.4) ---------------------

_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")


def _is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


def _split_outside_quotes(text: str, delimiter: str, *, brackets: bool) -> List[str]:
    """Split *text* at each *delimiter* outside quoted-strings and, with
    *brackets*, outside ``<...>``. An unterminated quote or bracket runs to the
    end of *text*."""
    parts: List[str] = []
    current: List[str] = []
    quoted = bracketed = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif bracketed:
            bracketed = char != ">"
        elif char == '"':
            quoted = True
        elif char == "<" and brackets:
            bracketed = True
        elif char == delimiter:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(text: str) -> Optional[str]:
    """The value of a quoted-string, or of unquoted text (trimmed); None when
    the quotes are broken (unterminated, text after the closing quote, a ``"``
    in unquoted text)."""
    text = text.strip()
    if not text.startswith('"'):
        return None if '"' in text else text
    result: List[str] = []
    escaped = False
    for index, char in enumerate(text[1:], start=1):
        if escaped:
            result.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            # The closing quote: it must end the value.
            return "".join(result) if index == len(text) - 1 else None
        else:
            result.append(char)
    return None  # no closing quote


# --- Content-Type (RFC 9110 8.3.1) ---------------------------------------------

_FORMATS = ("json", "msgpack")


def media_format(type_: str, subtype: str) -> Optional[str]:
    """``"json"``, ``"msgpack"`` or None for a lower-cased type and subtype.

    ``application/json`` and ``application/msgpack``, and any type whose
    subtype has the structured syntax suffix (RFC 6838 4.2.8: after the last
    ``+``) ``+json`` or ``+msgpack``: ``application/problem+json``,
    ``text/vnd.x+json``, ``application/json+msgpack`` (msgpack).
    ``text/json`` is none of them.
    """
    _name, plus, suffix = subtype.rpartition("+")
    if plus and suffix in _FORMATS:
        return suffix
    if type_ == "application" and subtype in _FORMATS:
        return subtype
    return None


def _parameters(text: str) -> Iterator[Tuple[str, str]]:
    """The well-formed ``name=value`` parameters of ``;``-separated *text*, as
    (lower-cased name, value); the others are skipped."""
    for part in _split_outside_quotes(text, ";", brackets=False):
        name, equals, raw_value = part.partition("=")
        name = name.strip()
        value = _unquote(raw_value)
        if equals and _is_token(name) and value is not None:
            yield name.lower(), value


def parse_content_type(value: str) -> Tuple[Optional[str], Optional[str]]:
    """The (format, charset) of a Content-Type header value.

    The grammar is RFC 9110's ``type "/" subtype *( OWS ";" OWS parameter )``,
    with ``parameter = name "=" ( token / quoted-string )``. *format* is
    :func:`media_format`'s answer; *charset* is the ``charset`` parameter,
    lower-cased, or None when it is missing or empty.

    Malformed input, leniently: whitespace around the ``/`` and the ``=`` is
    ignored; a type or subtype that is not a token (missing, empty, holding a
    space or a ``,``, several media types joined by commas) gives
    ``(None, None)``; an unquoted value is the text up to the next ``;``,
    trimmed, whatever it holds but a ``"``; a malformed parameter (no ``=``,
    a name that is not a token, broken quotes) is skipped and the others are
    kept; when ``charset`` appears more than once the last well-formed one
    counts.
    """
    media_range, _, parameters = value.partition(";")
    type_, _, subtype = media_range.partition("/")
    type_ = type_.strip()
    subtype = subtype.strip()
    # Checked before lower-casing: "\u212a".lower() is an ASCII "k".
    if not (_is_token(type_) and _is_token(subtype)):
        return None, None
    charset = None
    for name, parameter in _parameters(parameters):
        if name == "charset":
            charset = parameter.lower() or None
    return media_format(type_.lower(), subtype.lower()), charset


# --- Link (RFC 8288 3) ---------------------------------------------------------

# Link parameters whose values are case-insensitive tokens (RFC 8288 3.3):
# lower-cased so callers can compare them directly. Others (title, anchor,
# type, ...) keep the case the server sent.
_CASE_INSENSITIVE_LINK_PARAMS = frozenset({"rel", "rev"})


class ParsedLinks(NamedTuple):
    """What :func:`parse_links` made of a Link header."""

    #: the well-formed link-values: ``target`` and the parameters, in order
    links: List[Dict[str, str]]
    #: the malformed link-values, as sent (trimmed)
    dropped: List[str]


def _parse_link_value(text: str) -> Optional[Dict[str, str]]:
    """Parse one trimmed link-value (``<target>; name=value; ...``); None if
    malformed."""
    if not text.startswith("<"):
        return None
    target, closed, rest = text[1:].partition(">")
    if not closed or "<" in target:
        return None
    link = {"target": target.strip()}
    params = _split_outside_quotes(rest, ";", brackets=True)
    if params[0].strip():  # text between ">" and the first ";"
        return None
    for param in params[1:]:
        name, has_value, raw_value = param.partition("=")
        name = name.strip()
        if not (name or has_value):  # an empty element: "<a>;;rel=x"
            continue
        value = _unquote(raw_value)  # "" without "="
        if not _is_token(name) or value is None:
            return None
        name = name.lower()
        if name in _CASE_INSENSITIVE_LINK_PARAMS:
            value = value.lower()
        # RFC 8288: occurrences of a parameter after the first are ignored.
        link.setdefault(name, value)
    return link


def parse_links(value: str) -> ParsedLinks:
    """Parse a Link header value (RFC 8288), keeping every well-formed link.

    ``Link = #( "<" URI-Reference ">" *( OWS ";" OWS link-param ) )`` and
    ``link-param = token BWS [ "=" BWS ( token / quoted-string ) ]``. Each
    link is a dict of ``target`` (trimmed) and its parameters: names
    lower-cased, the first occurrence of a name kept (a ``target`` parameter
    never replaces the target), ``rel`` and ``rev`` values lower-cased,
    others as sent, ``""`` for a parameter without ``=``. Empty list elements
    are skipped.

    A link-value is dropped, the others kept, when it does not start with
    ``<``, has no ``>`` or a ``<`` inside its target, has text between ``>``
    and the first ``;``, has a parameter name that is not a token, or has
    broken quotes. An unterminated quote or ``<`` runs to the end of the
    header: the rest is one dropped link-value.
    """
    links: List[Dict[str, str]] = []
    dropped: List[str] = []
    for part in _split_outside_quotes(value, ",", brackets=True):
        part = part.strip()
        if not part:
            continue
        link = _parse_link_value(part)
        if link is None:
            dropped.append(part)
        else:
            links.append(link)
    return ParsedLinks(links, dropped)


# --- Retry-After (RFC 9110 10.2.3) and HTTP-date (RFC 9110 5.6.7) ---------------

# delta-seconds (1*DIGIT), leniently with a sign (a negative wait is 0) and a
# decimal fraction; not float()'s "inf", "1e3", "1_000" or non-ASCII digits.
_DELTA_SECONDS = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "(?P<month>" + "|".join(_MONTHS) + ")"
_DAY_NAME = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_TIME_OF_DAY = "(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
# Sun, 06 Nov 1994 08:49:37 GMT
_IMF_FIXDATE = re.compile(
    _DAY_NAME + ", (?P<day>[0-9]{2}) " + _MONTH + " (?P<year>[0-9]{4}) " + _TIME_OF_DAY + " GMT"
)
# Sunday, 06-Nov-94 08:49:37 GMT
_RFC850_DATE = re.compile(
    "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    "(?P<day>[0-9]{2})-" + _MONTH + "-(?P<year>[0-9]{2}) " + _TIME_OF_DAY + " GMT"
)
# Sun Nov  6 08:49:37 1994
_ASCTIME_DATE = re.compile(
    _DAY_NAME + " " + _MONTH + " (?P<day>[0-9]{2}| [0-9]) " + _TIME_OF_DAY + " (?P<year>[0-9]{4})"
)
_EPOCH_DAY = datetime.date(1970, 1, 1).toordinal()

# The longest wait a Retry-After gives, whatever the cap: 2**31 seconds (68
# years), the value RFC 9111 (1.2.2) gives a delta-seconds too large to
# represent. It keeps the result finite when the cap is infinite.
_MAX_RETRY_AFTER = 2.0**31


def _rfc850_year(two_digits: int, now: float) -> int:
    # RFC 9110: a two-digit year that appears to be more than 50 years in the
    # future is the most recent past year with those digits (by calendar year).
    latest = time.gmtime(now).tm_year + 50
    return latest - (latest - two_digits) % 100


def http_date(text: str, *, now: float) -> Optional[float]:
    """The seconds since the epoch of an HTTP-date, or None.

    The three forms of RFC 9110, exactly (case included) and always in GMT,
    whatever the machine's time zone: IMF-fixdate (``Sun, 06 Nov 1994
    08:49:37 GMT``), RFC 850 (``Sunday, 06-Nov-94 08:49:37 GMT``; the century
    is the one that puts the year at most 50 years after *now*'s) and asctime
    (``Sun Nov  6 08:49:37 1994``). The weekday is required but not checked
    against the date; a second of 60 (a leap second) is accepted. A date
    that does not exist (``30 Feb``, hour 24) is None.
    """
    match = (
        _IMF_FIXDATE.fullmatch(text)
        or _RFC850_DATE.fullmatch(text)
        or _ASCTIME_DATE.fullmatch(text)
    )
    if match is None:
        return None
    year = int(match["year"])
    if len(match["year"]) == 2:
        year = _rfc850_year(year, now)
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    if hour > 23 or minute > 59 or second > 60:
        return None
    try:
        date = datetime.date(year, _MONTHS.index(match["month"]) + 1, int(match["day"]))
    except ValueError:  # day 00, 31 Apr, 29 Feb of a common year, year 0000
        return None
    days = date.toordinal() - _EPOCH_DAY
    return float(days * 86400 + hour * 3600 + minute * 60 + second)


def parse_retry_after(
    value: Optional[str], *, cap: float, now: Optional[float] = None
) -> Optional[float]:
    """Return the wait a ``Retry-After`` header asks for, in ``[0, cap]``.

    *value* is delta-seconds (``"120"``; a sign and a decimal fraction are
    accepted, not ``inf``, exponents, ``_`` or non-ASCII digits) or an
    HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``, see :func:`http_date`),
    which is compared with *now* (seconds since the epoch, :func:`time.time`
    by default). Whitespace around *value* is ignored. A negative wait or a
    date in the past is ``0.0``; a *cap* of 0 or less (or NaN) makes every
    wait ``0.0``; no wait exceeds 2**31 seconds (68 years), whatever the
    cap. The result is a finite float, never ``-0.0``. Returns ``None`` when *value* is missing or
    is neither form, so the caller falls back to its backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)  # inf for 400 digits: clamped below
    else:
        current = time.time() if now is None else now
        when = http_date(text, now=current)
        if when is None:
            return None
        seconds = when - current
    upper = float(min(cap, _MAX_RETRY_AFTER)) if cap > 0 else 0.0
    # max(0.0, x), not max(x, 0.0): for x == -0.0 that returns the 0.0.
    return min(max(0.0, seconds), upper)


# --- the environment ------------------------------------------------------------


def parse_positive_int(text: str) -> Optional[int]:
    """The value of a positive decimal integer (``HTTP_MAX_CLIENTS``), or None.

    ASCII digits only, whitespace around them ignored: ``" 10 "`` is 10;
    ``"0"``, ``"-1"``, ``"+5"``, ``"1_000"``, ``"1e3"`` and non-ASCII digits
    are None.
    """
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if number > 0 else None
