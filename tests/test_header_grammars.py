"""Every grammar sprockets_http parses, from tables: ``sprockets_http._headers``.

Content-Type, Link, Retry-After (with HTTP-date) and the ``HTTP_MAX_CLIENTS``
integer. Each table lists valid forms, the quoting and escape rules, and
malformed input with what is kept and what is dropped; the expected values
are literals, worked out by hand (dates: with :func:`calendar.timegm`, once).
What is logged is asserted on the property that logs (``HTTPResponse.links``)
and on ``http_fetch`` (``HTTP_MAX_CLIENTS``).

The parsers are pure, so most tables need no server; the wiring tests at the
end of each section go through the public API.
"""

from __future__ import annotations

import io
import logging
import math
import time
from typing import Dict, Iterator, List

import pytest
from ietfparse import datastructures
from tornado import httpclient, httputil, web

import sprockets_http.retry
from sprockets_http import HTTPResponse, _headers, content
from sprockets_http._headers import (
    http_date,
    media_format,
    parse_content_type,
    parse_links,
    parse_positive_int,
    parse_retry_after,
)

# --- look-ups -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, name, expected",
    [
        ({"Content-Type": "x"}, "Content-Type", "Content-Type"),
        ({"content-type": "x"}, "Content-Type", "content-type"),
        ({"CONTENT-TYPE": "x"}, "content-type", "CONTENT-TYPE"),
        ({"Accept": "x", "Content-type": "y"}, "content-TYPE", "Content-type"),
        ({"content-type": "x", "Content-Type": "y"}, "Content-Type", "Content-Type"),
        ({"Accept": "x"}, "Content-Type", None),
        ({"Content-Type-X": "x"}, "Content-Type", None),
        ({}, "Content-Type", None),
    ],
)
def test_find_header(headers, name, expected):
    assert _headers.find_header(headers, name) == expected


def http_headers(*pairs):
    headers = httputil.HTTPHeaders()
    for name, value in pairs:
        headers.add(name, value)
    return headers


@pytest.mark.parametrize(
    "headers, name, expected",
    [
        (http_headers(("Link", "<a>")), "Link", "<a>"),
        (http_headers(("Link", "<a>")), "link", "<a>"),
        (http_headers(("Link", "<a>"), ("Link", "<b>")), "Link", "<a>,<b>"),
        (http_headers(("Link", "")), "Link", ""),
        (http_headers(("Accept", "x")), "Link", None),
        (http_headers(), "Link", None),
        ({"Link": "<a>"}, "Link", "<a>"),
        ({"Retry-After": 5}, "Retry-After", "5"),
        ({"Link": ""}, "Link", ""),
        ({"Accept": "x"}, "Link", None),
        ({}, "Link", None),
    ],
)
def test_header_value(headers, name, expected):
    assert _headers.header_value(headers, name) == expected


class ListOnlyHeaders:
    """Headers whose ``get`` must not be used: it raises and catches a
    KeyError in tornado's HTTPHeaders, which is slow."""

    def get_list(self, name):
        return {"Link": ["<a>", "<b>"]}.get(name, [])

    def get(self, name, default=None):
        raise AssertionError("header_value used get()")


def test_header_value_reads_get_list_when_there_is_one():
    assert _headers.header_value(ListOnlyHeaders(), "Link") == "<a>,<b>"
    assert _headers.header_value(ListOnlyHeaders(), "Warning") is None


# --- Content-Type -------------------------------------------------------------------

CONTENT_TYPES = [
    # (header value, (format, charset))
    # the two types and their structured syntax suffixes
    ("application/json", ("json", None)),
    ("application/msgpack", ("msgpack", None)),
    ("application/problem+json", ("json", None)),
    ("application/vnd.example+msgpack", ("msgpack", None)),
    ("text/vnd.example+json", ("json", None)),
    ("image/x+msgpack", ("msgpack", None)),
    ("application/+json", ("json", None)),
    ("application/vnd.a+b+json", ("json", None)),  # the last "+" counts
    ("application/json+msgpack", ("msgpack", None)),
    ("application/msgpack+json", ("json", None)),
    # other types
    ("text/json", (None, None)),
    ("text/msgpack", (None, None)),
    ("application/json+", (None, None)),
    ("application/json+xml", (None, None)),
    ("application/jsonx", (None, None)),
    ("application/x-json", (None, None)),
    ("application/xjson", (None, None)),
    ("text/plain", (None, None)),
    ("application/octet-stream", (None, None)),
    ("*/*", (None, None)),
    # case: type, subtype and parameter names are case-insensitive; the
    # charset is lower-cased
    ("APPLICATION/JSON", ("json", None)),
    ("Application/MsgPack", ("msgpack", None)),
    ("application/Problem+JSON", ("json", None)),
    ("application/json; CHARSET=UTF-8", ("json", "utf-8")),
    ("application/json; Charset=Latin-1", ("json", "latin-1")),
    # charset: unquoted, quoted, with escapes, with other parameters
    ("application/json; charset=utf-8", ("json", "utf-8")),
    ("application/json;charset=ISO-8859-1", ("json", "iso-8859-1")),
    ('application/json; charset="utf-8"', ("json", "utf-8")),
    ('application/json; charset="utf\\-8"', ("json", "utf-8")),
    ('application/json; charset="a\\"b"', ("json", 'a"b')),
    ('application/json; charset="a\\\\b"', ("json", "a\\b")),
    ('application/json; charset="a b"', ("json", "a b")),
    ("text/plain; charset=latin-1", (None, "latin-1")),
    ("application/msgpack; x=1", ("msgpack", None)),
    ("application/json; x=1; charset=utf-16", ("json", "utf-16")),
    ("application/json; charset=utf-16; x=1", ("json", "utf-16")),
    ("application/json; xcharset=latin-1", ("json", None)),
    ("application/json; charsetx=latin-1", ("json", None)),
    ("application/json; x=charset", ("json", None)),
    # a ";" or "," inside a quoted-string does not end the parameter
    ('application/json; x="a; charset=latin-1; b"', ("json", None)),
    ('application/json; x="a, b"; charset=latin-1', ("json", "latin-1")),
    # an escaped quote does not end a quoted-string, an escaped backslash
    # does not escape the quote after it
    ('application/json; x="\\"; charset=latin-1; y="', ("json", None)),
    ('application/json; x="\\\\"; charset=latin-1', ("json", "latin-1")),
    # "<" has no meaning in a Content-Type (it does in a Link header)
    ("application/json; x=<; charset=latin-1; >", ("json", "latin-1")),
    # empty elements and whitespace (OWS; leniently around "/" and "=")
    ("application/json;", ("json", None)),
    ("application/json;;; charset=utf-8;", ("json", "utf-8")),
    ("application/json; ; charset=utf-8", ("json", "utf-8")),
    ("  application/json  ", ("json", None)),
    ("application/json\t;\tcharset=latin-1\t", ("json", "latin-1")),
    ("application / json", ("json", None)),
    ("application/json; charset = latin-1", ("json", "latin-1")),
    ('application/json; charset= "latin-1" ', ("json", "latin-1")),
    # an empty charset is none; the last charset counts
    ("application/json; charset=", ("json", None)),
    ('application/json; charset=""', ("json", None)),
    ("text/plain; charset=utf-8; charset=latin-1", (None, "latin-1")),
    ("text/plain; charset=utf-8; charset=", (None, None)),
    ("text/plain; charset=utf-8; charset", (None, "utf-8")),
    # malformed parameters are skipped, the others kept
    ("application/json; charset", ("json", None)),
    ("application/json; =latin-1", ("json", None)),
    ("application/json; =x; charset=latin-1", ("json", "latin-1")),
    ("application/json; ch arset=latin-1", ("json", None)),
    ("application/json; char/set=latin-1", ("json", None)),
    ('application/json; "charset"=latin-1', ("json", None)),
    ('application/json; charset="utf-8', ("json", None)),
    ('application/json; charset="utf-8"x', ("json", None)),
    ('application/json; charset="utf-8" x', ("json", None)),
    ('application/json; charset=utf"8', ("json", None)),
    ('application/json; charset="utf-8\\"', ("json", None)),
    ('application/json; charset="', ("json", None)),
    ('application/json; charset="latin-1"; charset="broken', ("json", "latin-1")),
    # the first "=" ends the name
    ('application/json; charset="utf=8"', ("json", "utf=8")),
    ("text/plain; charset=a=b", (None, "a=b")),
    # unquoted values are taken as they are, up to the next ";"
    ("application/json; charset=utf-8, text/plain", ("json", "utf-8, text/plain")),
    # a type or subtype that is not a token: an unknown type, nothing kept
    ("", (None, None)),
    ("   ", (None, None)),
    (";;;", (None, None)),
    ("; charset=utf-8", (None, None)),
    ("application", (None, None)),
    ("application; charset=utf-8", (None, None)),
    ("application/", (None, None)),
    ("application/; charset=latin-1", (None, None)),
    ("/json", (None, None)),
    ("/", (None, None)),
    ("application/json/x", (None, None)),
    ("application/json extra", (None, None)),
    ("application/json extra; charset=utf-8", (None, None)),
    ("app lication/json", (None, None)),
    ('"application/json"', (None, None)),
    ("application/json, text/plain", (None, None)),
    ("application/json,application/json", (None, None)),  # a repeated header
    ("application/msgpac\u212a", (None, None)),  # "\u212a".lower() == "k"
    ("applicatio\u00f1/json", (None, None)),
]


@pytest.mark.parametrize("value, expected", CONTENT_TYPES)
def test_content_type_grammar(value, expected):
    assert parse_content_type(value) == expected


@pytest.mark.parametrize("value, expected", CONTENT_TYPES)
def test_content_media_type_reads_the_grammar(value, expected):
    assert content.media_type(value) == content.MediaType(*expected)


@pytest.mark.parametrize(
    "type_, subtype, expected",
    [
        ("application", "json", "json"),
        ("application", "msgpack", "msgpack"),
        ("application", "x+json", "json"),
        ("text", "x+msgpack", "msgpack"),
        ("text", "json", None),
        ("application", "jsonx", None),
        ("application", "", None),
        ("application", "+", None),
    ],
)
def test_media_format(type_, subtype, expected):
    assert media_format(type_, subtype) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (datastructures.ContentType("application", "json"), ("json", None)),
        (datastructures.ContentType("application", "msgpack"), ("msgpack", None)),
        (datastructures.ContentType("application", "problem", content_suffix="json"),
         ("json", None)),
        (datastructures.ContentType("application", "vnd.x+msgpack"), ("msgpack", None)),
        (datastructures.ContentType("text", "json"), (None, None)),
        (datastructures.ContentType("Application", "JSON", parameters={"charset": "UTF-8"}),
         ("json", "utf-8")),
        (datastructures.ContentType("text", "plain", parameters={"charset": ""}), (None, None)),
        (content.CONTENT_TYPE_JSON, ("json", None)),
        (content.CONTENT_TYPE_MSGPACK, ("msgpack", None)),
        (None, (None, None)),
    ],
)
def test_media_type_of_a_content_type_object(value, expected):
    assert content.media_type(value) == content.MediaType(*expected)


def test_media_type_is_cached_per_header_value():
    first = content.media_type("application/vnd.cached+json; charset=UTF-8")
    assert content.media_type("application/vnd.cached+json; charset=UTF-8") is first


# --- Link -------------------------------------------------------------------------

LINKS = [
    # (header value, links, dropped link-values)
    ("<http://a/>", [{"target": "http://a/"}], []),
    ("<>", [{"target": ""}], []),
    ("< http://a/ >", [{"target": "http://a/"}], []),
    ("  <http://a/>  ", [{"target": "http://a/"}], []),
    # unquoted and quoted values, with and without whitespace (OWS, BWS)
    ("<http://a/>; rel=next", [{"target": "http://a/", "rel": "next"}], []),
    ('<http://a/>; rel="next"', [{"target": "http://a/", "rel": "next"}], []),
    ("<http://a/>;rel=next", [{"target": "http://a/", "rel": "next"}], []),
    ('<http://a/> ; rel = "next" ', [{"target": "http://a/", "rel": "next"}], []),
    ("<http://a/>\t;\trel=next", [{"target": "http://a/", "rel": "next"}], []),
    ("<http://a/>; title=Next Page", [{"target": "http://a/", "title": "Next Page"}], []),
    # case: names are lower-cased; rel and rev values too, others kept
    ('<http://a/>; rel="Next"', [{"target": "http://a/", "rel": "next"}], []),
    ("<http://a/>; REL=NEXT", [{"target": "http://a/", "rel": "next"}], []),
    ('<http://a/>; Rev="Made"', [{"target": "http://a/", "rev": "made"}], []),
    ('<http://a/>; Title="Next Page"', [{"target": "http://a/", "title": "Next Page"}], []),
    ('<http://a/>; anchor="#Top"', [{"target": "http://a/", "anchor": "#Top"}], []),
    ("<HTTP://A/Path>", [{"target": "HTTP://A/Path"}], []),
    # a "," or ";" inside a quoted-string or inside <...> splits nothing
    (
        '<http://a/>; title="a, b", <http://b/>',
        [{"target": "http://a/", "title": "a, b"}, {"target": "http://b/"}],
        [],
    ),
    ('<http://a/>; title="a; rel=x"', [{"target": "http://a/", "title": "a; rel=x"}], []),
    ("<http://a/x,y;z>; rel=next", [{"target": "http://a/x,y;z", "rel": "next"}], []),
    (
        "<http://a/>; x=<b;c>, <http://d/>",
        [{"target": "http://a/", "x": "<b;c>"}, {"target": "http://d/"}],
        [],
    ),
    # a '"' inside <...> opens no quoted-string; a "<" or ">" inside a
    # quoted-string opens or closes nothing
    (
        '<http://a/"x>; rel=y, <http://b/>',
        [{"target": 'http://a/"x', "rel": "y"}, {"target": "http://b/"}],
        [],
    ),
    (
        '<http://a/>; title="<", <http://b/>',
        [{"target": "http://a/", "title": "<"}, {"target": "http://b/"}],
        [],
    ),
    (
        '<http://a/>; title="a>b", <http://b/>',
        [{"target": "http://a/", "title": "a>b"}, {"target": "http://b/"}],
        [],
    ),
    ("<http://a/>; title=a>b", [{"target": "http://a/", "title": "a>b"}], []),
    # escapes: \" and \\ and \x in a quoted-string
    ('<http://a/>; title="say \\"hi\\""', [{"target": "http://a/", "title": 'say "hi"'}], []),
    ('<http://a/>; title="back\\\\slash"', [{"target": "http://a/", "title": "back\\slash"}], []),
    ('<http://a/>; title="\\a\\b"', [{"target": "http://a/", "title": "ab"}], []),
    (
        '<http://a/>; title="x\\", <http://b/>"',
        [{"target": "http://a/", "title": 'x", <http://b/>'}],
        [],
    ),
    (
        '<http://a/>; title="x\\\\", <http://b/>',
        [{"target": "http://a/", "title": "x\\"}, {"target": "http://b/"}],
        [],
    ),
    ("<http://a/>; title=back\\slash", [{"target": "http://a/", "title": "back\\slash"}], []),
    # empty values, parameters without "=", empty elements
    ('<http://a/>; title=""', [{"target": "http://a/", "title": ""}], []),
    ("<http://a/>; title=", [{"target": "http://a/", "title": ""}], []),
    ("<http://a/>; crossorigin", [{"target": "http://a/", "crossorigin": ""}], []),
    ("<http://a/>;; rel=next;", [{"target": "http://a/", "rel": "next"}], []),
    ("<http://a/>; ; rel=next", [{"target": "http://a/", "rel": "next"}], []),
    (", <http://a/>,, ,", [{"target": "http://a/"}], []),
    ("", [], []),
    (" , ", [], []),
    # the first occurrence of a parameter counts; "target" is the target
    ("<http://a/>; rel=first; rel=second", [{"target": "http://a/", "rel": "first"}], []),
    ("<http://a/>; rel=a; REL=b", [{"target": "http://a/", "rel": "a"}], []),
    ("<http://a/>; target=other", [{"target": "http://a/"}], []),
    # ext-values (RFC 8187) are kept as sent
    (
        "<http://a/>; title*=UTF-8'de'n%c3%a4chstes",
        [{"target": "http://a/", "title*": "UTF-8'de'n%c3%a4chstes"}],
        [],
    ),
    # several links, in order
    (
        '<http://a/1>; rel="next", <http://a/0>; rel="prev"; title="x"',
        [
            {"target": "http://a/1", "rel": "next"},
            {"target": "http://a/0", "rel": "prev", "title": "x"},
        ],
        [],
    ),
    # malformed link-values are dropped, the others kept
    ("garbage", [], ["garbage"]),
    (";;;", [], [";;;"]),
    (
        "<http://a/>; rel=next, garbage",
        [{"target": "http://a/", "rel": "next"}],
        ["garbage"],
    ),
    ("http://a/>; rel=next", [], ["http://a/>; rel=next"]),
    ("<unterminated", [], ["<unterminated"]),
    ("<http://a/> rel=next", [], ["<http://a/> rel=next"]),
    ("<http://a/>x; rel=next", [], ["<http://a/>x; rel=next"]),
    ("<http://a/>x", [], ["<http://a/>x"]),
    ("<a, <b>; rel=next", [], ["<a, <b>; rel=next"]),
    ("<http://a/>; rel=ne\"xt", [], ['<http://a/>; rel=ne"xt']),
    ('<http://a/>; rel="next"x', [], ['<http://a/>; rel="next"x']),
    ('<http://a/>; rel="next" x', [], ['<http://a/>; rel="next" x']),
    ('<http://a/>; rel="a\\"', [], ['<http://a/>; rel="a\\"']),
    ('<http://a/>; rel="', [], ['<http://a/>; rel="']),
    ("<http://a/>; =next", [], ["<http://a/>; =next"]),
    ("<http://a/>; =", [], ["<http://a/>; ="]),
    ("<>; =; =", [], ["<>; =; ="]),
    ("<http://a/>; r el=next", [], ["<http://a/>; r el=next"]),
    ("<http://a/>; rel/x=next", [], ["<http://a/>; rel/x=next"]),
    ('<http://a/>; "rel"=next', [], ['<http://a/>; "rel"=next']),
    ("<http://a/>; r\u00e9l=next", [], ["<http://a/>; r\u00e9l=next"]),
    (
        "<http://a/>; rel=next; bad name, <http://b/>",
        [{"target": "http://b/"}],
        ["<http://a/>; rel=next; bad name"],
    ),
    # an unterminated quote or "<" runs to the end: one dropped link-value
    (
        '<http://a/>; rel="unterminated, <http://b/>',
        [],
        ['<http://a/>; rel="unterminated, <http://b/>'],
    ),
    ('<a>; rel="unterminated', [], ['<a>; rel="unterminated']),
    (
        "<http://a/>, <http://b/, <http://c/>",
        [{"target": "http://a/"}],
        ["<http://b/, <http://c/>"],
    ),
]


@pytest.mark.parametrize("value, links, dropped", LINKS)
def test_link_grammar(value, links, dropped):
    parsed = parse_links(value)
    assert parsed.links == links
    assert [list(link) for link in parsed.links] == [list(link) for link in links]  # order
    assert parsed.dropped == dropped


def tornado_response(
    headers: Dict[str, str], url: str = "http://127.0.0.1:1/items"
) -> httpclient.HTTPResponse:
    return httpclient.HTTPResponse(
        httpclient.HTTPRequest(url),
        200,
        headers=httputil.HTTPHeaders(headers),
        buffer=io.BytesIO(b""),
        effective_url=url,
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "sprockets_http" and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("value, links, dropped", LINKS)
def test_links_property_reads_the_grammar(value, links, dropped, caplog):
    caplog.set_level(logging.DEBUG, logger="sprockets_http")
    record = HTTPResponse()
    record.append_response(tornado_response({"Link": value}))
    assert record.links == links
    assert len(warnings_of(caplog)) == (1 if dropped else 0)


def test_a_malformed_link_header_is_logged_once_per_response_url_redacted(caplog):
    caplog.set_level(logging.WARNING, logger="sprockets_http")
    value = "<http://a/>; rel=next, garbage, <x"
    url = "http://user:s3cret@127.0.0.1:1/items"
    record = HTTPResponse()
    record.append_response(tornado_response({"Link": value}, url))
    first = record.links
    assert first == [{"target": "http://a/", "rel": "next"}]
    assert record.links == first
    assert warnings_of(caplog) == [
        "Malformed Link header in the response from "
        "http://[redacted]@127.0.0.1:1/items (1 link(s) parsed, 2 skipped): "
        "'<http://a/>; rel=next, garbage, <x'"
    ]
    # A later response with the same header is another response: logged too.
    record.append_response(tornado_response({"Link": value}, url))
    assert record.links == first
    assert len(warnings_of(caplog)) == 2


def test_the_logged_link_header_is_cut_at_200_characters(caplog):
    caplog.set_level(logging.WARNING, logger="sprockets_http")
    value = "x" * 300
    record = HTTPResponse()
    record.append_response(tornado_response({"Link": value}))
    assert record.links == []
    assert warnings_of(caplog) == [
        "Malformed Link header in the response from http://127.0.0.1:1/items "
        f"(0 link(s) parsed, 1 skipped): '{'x' * 200}'"
    ]


def test_each_read_of_links_returns_new_lists():
    record = HTTPResponse()
    record.append_response(tornado_response({"Link": "<http://a/>; rel=next"}))
    first = record.links
    assert first is not None
    first[0]["rel"] = "changed"
    first.append({"target": "added"})
    assert record.links == [{"target": "http://a/", "rel": "next"}]


class LinkHeaders(web.RequestHandler):
    def get(self) -> None:
        self.add_header("Link", '<http://a/>; rel="next"; title="a, b"')
        self.add_header("Link", "garbage")
        self.add_header("Link", "<http://b/>; REL=Prev")


async def test_repeated_link_headers_from_a_server(serve, caller, caplog):
    caplog.set_level(logging.WARNING, logger="sprockets_http")
    response = await caller.http_fetch(serve([("/", LinkHeaders)]) + "/")
    assert response.links == [
        {"target": "http://a/", "rel": "next", "title": "a, b"},
        {"target": "http://b/", "rel": "prev"},
    ]
    (warning,) = [m for m in warnings_of(caplog) if "Link" in m]
    assert "(2 link(s) parsed, 1 skipped)" in warning


# --- Retry-After and HTTP-date ---------------------------------------------------------

#: 2023-11-14 22:13:20 GMT, a Tuesday: "now" for the Retry-After tables.
NOW = 1_700_000_000.0
#: 2060-06-01 00:00:00 GMT: "now" for two-digit years past 2050.
NOW_2060 = 2_853_273_600.0
RFC_EXAMPLE = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example)

HTTP_DATES = [
    # (text, now, seconds since the epoch or None)
    # the three forms (RFC 9110 5.6.7), RFC 9110's example
    ("Sun, 06 Nov 1994 08:49:37 GMT", NOW, RFC_EXAMPLE),
    ("Sunday, 06-Nov-94 08:49:37 GMT", NOW, RFC_EXAMPLE),
    ("Sun Nov  6 08:49:37 1994", NOW, RFC_EXAMPLE),
    ("Sun Nov 06 08:49:37 1994", NOW, RFC_EXAMPLE),
    # every month name
    ("Mon, 15 Jan 2001 00:00:00 GMT", NOW, 979516800.0),
    ("Thu, 15 Feb 2001 00:00:00 GMT", NOW, 982195200.0),
    ("Thu, 15 Mar 2001 00:00:00 GMT", NOW, 984614400.0),
    ("Sun, 15 Apr 2001 00:00:00 GMT", NOW, 987292800.0),
    ("Tue, 15 May 2001 00:00:00 GMT", NOW, 989884800.0),
    ("Fri, 15 Jun 2001 00:00:00 GMT", NOW, 992563200.0),
    ("Sun, 15 Jul 2001 00:00:00 GMT", NOW, 995155200.0),
    ("Wed, 15 Aug 2001 00:00:00 GMT", NOW, 997833600.0),
    ("Sat, 15 Sep 2001 00:00:00 GMT", NOW, 1000512000.0),
    ("Mon, 15 Oct 2001 00:00:00 GMT", NOW, 1003104000.0),
    ("Thu, 15 Nov 2001 00:00:00 GMT", NOW, 1005782400.0),
    ("Sat, 15 Dec 2001 00:00:00 GMT", NOW, 1008374400.0),
    # every day name, short and long
    ("Sun, 18 Oct 2015 07:28:00 GMT", NOW, 1445153280.0),
    ("Mon, 19 Oct 2015 07:28:00 GMT", NOW, 1445239680.0),
    ("Tue, 20 Oct 2015 07:28:00 GMT", NOW, 1445326080.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", NOW, 1445412480.0),
    ("Thu, 22 Oct 2015 07:28:00 GMT", NOW, 1445498880.0),
    ("Fri, 23 Oct 2015 07:28:00 GMT", NOW, 1445585280.0),
    ("Sat, 24 Oct 2015 07:28:00 GMT", NOW, 1445671680.0),
    ("Sunday, 18-Oct-15 07:28:00 GMT", NOW, 1445153280.0),
    ("Monday, 19-Oct-15 07:28:00 GMT", NOW, 1445239680.0),
    ("Tuesday, 20-Oct-15 07:28:00 GMT", NOW, 1445326080.0),
    ("Wednesday, 21-Oct-15 07:28:00 GMT", NOW, 1445412480.0),
    ("Thursday, 22-Oct-15 07:28:00 GMT", NOW, 1445498880.0),
    ("Friday, 23-Oct-15 07:28:00 GMT", NOW, 1445585280.0),
    ("Saturday, 24-Oct-15 07:28:00 GMT", NOW, 1445671680.0),
    ("Mon Oct 19 07:28:00 2015", NOW, 1445239680.0),
    ("Tue Oct 20 07:28:00 2015", NOW, 1445326080.0),
    ("Wed Oct 21 07:28:00 2015", NOW, 1445412480.0),
    ("Thu Oct 22 07:28:00 2015", NOW, 1445498880.0),
    ("Fri Oct 23 07:28:00 2015", NOW, 1445585280.0),
    ("Sat Oct 24 07:28:00 2015", NOW, 1445671680.0),
    # the weekday is required, not checked against the date
    ("Mon, 06 Nov 1994 08:49:37 GMT", NOW, RFC_EXAMPLE),
    ("Monday, 06-Nov-94 08:49:37 GMT", NOW, RFC_EXAMPLE),
    # edges of the calendar and of the clock
    ("Thu, 01 Jan 1970 00:00:00 GMT", NOW, 0.0),
    ("Wed, 31 Dec 1969 23:59:59 GMT", NOW, -1.0),
    ("Mon, 01 Jan 0001 00:00:00 GMT", NOW, -62135596800.0),
    ("Fri, 31 Dec 9999 23:59:59 GMT", NOW, 253402300799.0),
    ("Tue, 29 Feb 2000 12:00:00 GMT", NOW, 951825600.0),
    ("Thu, 29 Feb 2024 12:00:00 GMT", NOW, 1709208000.0),
    ("Sat, 31 Dec 2016 23:59:60 GMT", NOW, 1483228800.0),  # a leap second
    ("Tue, 14 Nov 2023 22:13:30 GMT", NOW, 1700000010.0),
    ("Tue, 14 Nov 2023 23:59:59 GMT", NOW, 1700006399.0),
    ("Tue, 14 Nov 2023 00:00:00 GMT", NOW, 1699920000.0),
    ("Tue, 14 Nov 2023 09:09:09 GMT", NOW, 1699952949.0),
    # RFC 850's two-digit years: at most 50 years after now's year
    ("Monday, 06-Nov-73 08:49:37 GMT", NOW, 3277183777.0),  # 2073
    ("Wednesday, 06-Nov-74 08:49:37 GMT", NOW, 152959777.0),  # 1974
    ("Monday, 06-Nov-00 08:49:37 GMT", NOW, 973500577.0),  # 2000
    ("Thursday, 01-Jan-05 00:00:00 GMT", NOW_2060, 4260211200.0),  # 2105
    ("Wednesday, 01-Jan-10 00:00:00 GMT", NOW_2060, 4417977600.0),  # 2110
    ("Saturday, 01-Jan-11 00:00:00 GMT", NOW_2060, 1293840000.0),  # 2011
    # dates that do not exist
    ("Wed, 29 Feb 2023 12:00:00 GMT", NOW, None),
    ("Thu, 29 Feb 1900 12:00:00 GMT", NOW, None),
    ("Fri, 31 Apr 2015 12:00:00 GMT", NOW, None),
    ("Thu, 32 Jan 2015 12:00:00 GMT", NOW, None),
    ("Thu, 00 Jan 2015 12:00:00 GMT", NOW, None),
    ("Sat, 01 Jan 0000 00:00:00 GMT", NOW, None),
    ("Tue, 14 Nov 2023 24:00:00 GMT", NOW, None),
    ("Tue, 14 Nov 2023 12:60:00 GMT", NOW, None),
    ("Tue, 14 Nov 2023 12:00:61 GMT", NOW, None),
    ("Tuesday, 14-Nov-23 24:00:00 GMT", NOW, None),
    ("Tue Nov 31 12:00:00 2023", NOW, None),
    ("Tue Nov  0 12:00:00 2023", NOW, None),
    # not the grammar: no weekday, other zones, case, spacing, digits
    ("21 Oct 2015 07:28:00 GMT", NOW, None),
    ("06 Nov 1994 08:49:37 GMT", NOW, None),
    ("Wed, 21 Oct 2015", NOW, None),
    ("Wed, 21 Oct 2015 07:28:00", NOW, None),
    ("Wed, 21 Oct 2015 07:28:00 UTC", NOW, None),
    ("Wed, 21 Oct 2015 07:28:00 +0000", NOW, None),
    ("Wed, 21 Oct 2015 07:28:00 -0000", NOW, None),
    ("Wed, 21 Oct 2015 07:28:00 gmt", NOW, None),
    ("wed, 21 Oct 2015 07:28:00 GMT", NOW, None),
    ("Wed, 21 oct 2015 07:28:00 GMT", NOW, None),
    ("WED, 21 OCT 2015 07:28:00 GMT", NOW, None),
    ("Wed 21 Oct 2015 07:28:00 GMT", NOW, None),
    ("Wed,  21 Oct 2015 07:28:00 GMT", NOW, None),
    ("Wed, 21  Oct 2015 07:28:00 GMT", NOW, None),
    ("Wed, 1 Oct 2015 07:28:00 GMT", NOW, None),
    ("Wed, 21 Oct 15 07:28:00 GMT", NOW, None),
    ("Wed, 21 Oct 02015 07:28:00 GMT", NOW, None),
    ("Wed, 21 Oct 2015 7:28:00 GMT", NOW, None),
    ("Wed, 21 Oct 2015 07:28 GMT", NOW, None),
    ("Wed, 21 Oct 2015 07:28:00.5 GMT", NOW, None),
    ("Wed, 21 Oct 2015 07-28-00 GMT", NOW, None),
    ("Wed, 21-Oct-2015 07:28:00 GMT", NOW, None),
    ("Wed, 21 October 2015 07:28:00 GMT", NOW, None),
    ("Wednesday, 21 Oct 2015 07:28:00 GMT", NOW, None),
    ("Wed, 21-Oct-15 07:28:00 GMT", NOW, None),
    ("Wednesday, 21-Oct-2015 07:28:00 GMT", NOW, None),
    ("Wednesday, 21 Oct 15 07:28:00 GMT", NOW, None),
    ("Wed Oct 21 07:28:00 15", NOW, None),
    ("Wed Oct 21 07:28:00 2015 GMT", NOW, None),
    ("Wed Oct 1 07:28:00 2015", NOW, None),
    ("Wed Oct  21 07:28:00 2015", NOW, None),
    ("Wednesday Oct 21 07:28:00 2015", NOW, None),
    ("Wed, 2\u0661 Oct 2015 07:28:00 GMT", NOW, None),  # an Arabic-Indic digit
    ("Wed, 21 Oct 2015 07:28:00 GMT ", NOW, None),  # http_date is given trimmed text
    ("Xyz, 21 Oct 2015 07:28:00 GMT", NOW, None),
    ("Wed, 21 Foo 2015 07:28:00 GMT", NOW, None),
    ("", NOW, None),
    ("2015-10-21T07:28:00Z", NOW, None),
]


@pytest.fixture(params=["UTC0", "ABC-13:45", "XYZ+11:30"])
def time_zone(request, monkeypatch) -> Iterator[str]:
    """Run with the machine's local time zone set to UTC, 13:45 ahead of it and
    11:30 behind it: HTTP-dates are GMT whatever the machine's zone."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    try:
        # The zone took effect (POSIX TZ offsets count west of Greenwich).
        assert time.timezone == {"UTC0": 0, "ABC-13:45": -49500, "XYZ+11:30": 41400}[
            request.param
        ]
        yield request.param
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("text, now, expected", HTTP_DATES)
def test_http_date_grammar(text, now, expected, time_zone):
    assert http_date(text, now=now) == expected


RETRY_AFTER = [
    # (value, cap, wait or None), with now = NOW
    # delta-seconds, with a sign and a fraction leniently
    ("0", 20, 0.0),
    ("5", 20, 5.0),
    ("007", 20, 7.0),
    ("1.5", 20, 1.5),
    ("1.", 20, 1.0),
    (".5", 20, 0.5),
    ("0.000001", 20, 0.000001),
    ("+4", 20, 4.0),
    ("-3", 20, 0.0),
    ("-0", 20, 0.0),
    ("-0.0", 20, 0.0),
    ("+0", 20, 0.0),
    ("-.5", 20, 0.0),
    # whitespace around the value
    ("  7 ", 20, 7.0),
    ("\t7\t", 20, 7.0),
    (" Tue, 14 Nov 2023 22:13:30 GMT ", 20, 10.0),
    # the cap
    ("20", 20, 20.0),
    ("21", 20, 20.0),
    ("120", 20, 20.0),
    ("19.5", 20, 19.5),
    ("10", 0, 0.0),
    ("10", -1, 0.0),
    ("10", -0.0, 0.0),
    ("10", math.nan, 0.0),
    ("10", 2.5, 2.5),
    ("10", 0.5, 0.5),
    ("0.25", 1, 0.25),
    ("10", 1, 1.0),
    ("10", math.inf, 10.0),
    ("9" * 400, 20, 20.0),  # float() makes it inf: clamped like any other
    ("9" * 400, math.inf, 2147483648.0),  # 2**31 s, whatever the cap
    ("2147483647", math.inf, 2147483647.0),
    ("2147483649", math.inf, 2147483648.0),
    ("2147483649", 1e12, 2147483648.0),
    # HTTP-dates, from now; the past is 0
    ("Tue, 14 Nov 2023 22:13:30 GMT", 100, 10.0),
    ("Tuesday, 14-Nov-23 22:13:30 GMT", 100, 10.0),
    ("Tue Nov 14 22:13:30 2023", 100, 10.0),
    ("Tue, 14 Nov 2023 22:13:20 GMT", 100, 0.0),
    ("Tue, 14 Nov 2023 22:13:19 GMT", 100, 0.0),
    ("Sun, 06 Nov 1994 08:49:37 GMT", 100, 0.0),
    ("Tue, 14 Nov 2023 23:13:20 GMT", 100, 100.0),
    ("Fri, 31 Dec 9999 23:59:59 GMT", math.inf, 2147483648.0),
    ("Tue, 14 Nov 2023 22:13:30 GMT", 0, 0.0),
    # neither form: None, so the caller uses its backoff
    (None, 20, None),
    ("", 20, None),
    ("   ", 20, None),
    ("soon", 20, None),
    ("five", 20, None),
    ("12 seconds", 20, None),
    ("1 2", 20, None),
    ("1e3", 20, None),
    ("1E3", 20, None),
    ("1e", 20, None),
    ("inf", 20, None),
    ("+inf", 20, None),
    ("-inf", 20, None),
    ("Infinity", 20, None),
    ("nan", 20, None),
    ("NaN", 20, None),
    ("1_000", 20, None),
    ("\u0663", 20, None),  # an Arabic-Indic 3
    ("\uff15", 20, None),  # a fullwidth 5
    ("0x10", 20, None),
    ("-", 20, None),
    ("+", 20, None),
    (".", 20, None),
    ("+.", 20, None),
    ("1.2.3", 20, None),
    ("--1", 20, None),
    ("+-1", 20, None),
    ("1-", 20, None),
    ("\x00", 20, None),
    ("5\x00", 20, None),
    ("21 Oct 2015 07:28:00 GMT", 20, None),
    ("Someday, 99 Foo 2015 99:99:99 GMT", 20, None),
    ("Wed, 21 Oct 2015", 20, None),
    ("Tue, 14 Nov 2023 22:13:30 +0000", 20, None),
    ("Tue, 14 Nov 2023 24:13:30 GMT", 20, None),
]


@pytest.mark.parametrize("value, cap, expected", RETRY_AFTER)
def test_retry_after_grammar(value, cap, expected, time_zone):
    seconds = parse_retry_after(value, cap=cap, now=NOW)
    assert seconds == expected
    if expected is not None:
        assert type(seconds) is float
        assert math.copysign(1.0, seconds) == 1.0  # never -0.0


def test_retry_after_fractions_of_now():
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", cap=100, now=NOW + 0.25) == 9.75


def test_retry_after_now_defaults_to_the_clock(monkeypatch, time_zone):
    monkeypatch.setattr(time, "time", lambda: NOW)
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", cap=100) == 10.0
    assert parse_retry_after("Tuesday, 14-Nov-23 22:13:30 GMT", cap=100) == 10.0
    assert parse_retry_after("Tue Nov 14 22:13:25 2023", cap=100) == 5.0


def test_retry_after_two_digit_years_follow_now(monkeypatch):
    # RFC 850's century comes from "now", the clock's when it is not given.
    monkeypatch.setattr(time, "time", lambda: NOW_2060)
    assert parse_retry_after("Thursday, 01-Jan-05 00:00:00 GMT", cap=math.inf) == 1406937600.0
    assert parse_retry_after("Saturday, 01-Jan-11 00:00:00 GMT", cap=math.inf) == 0.0


def test_retry_after_is_re_exported_by_retry():
    assert sprockets_http.retry.parse_retry_after is _headers.parse_retry_after
    assert "parse_retry_after" in sprockets_http.retry.__all__


@pytest.mark.parametrize(
    "value, expected",
    [("7", (7.0, True)), ("Tue, 14 Nov 2023 22:13:25 GMT", (5.0, True)),
     ("21 Oct 2015 07:28:00 GMT", (3.0, False)), (None, (3.0, False))],
)
def test_retry_policy_waits_use_the_grammar(value, expected):
    wait = sprockets_http.RetryPolicy(retry_timeout=3.0).wait(1, value, now=NOW)
    assert (wait.seconds, wait.from_retry_after) == expected


# --- HTTP_MAX_CLIENTS: a positive decimal integer ---------------------------------------

POSITIVE_INTS = [
    ("1", 1),
    ("37", 37),
    ("010", 10),
    (" 10 ", 10),
    ("\t5\n", 5),
    ("99999999999999999999", 99999999999999999999),
    ("0", None),
    ("00", None),
    ("-1", None),
    ("-0", None),
    ("+5", None),
    ("1_000", None),
    ("1e3", None),
    ("10.0", None),
    ("0x10", None),
    ("ten", None),
    ("1 0", None),
    ("", None),
    ("   ", None),
    ("\u0665", None),  # an Arabic-Indic 5
    ("\u00b2", None),  # a superscript 2: str.isdigit() says yes
    ("\uff15", None),  # a fullwidth 5
]


@pytest.mark.parametrize("text, expected", POSITIVE_INTS)
def test_positive_int_grammar(text, expected):
    assert parse_positive_int(text) == expected


class Ok(web.RequestHandler):
    def get(self) -> None:
        self.write("ok")


@pytest.mark.parametrize(
    "text, max_clients, logged",
    [("5", 5, False), (" 7 ", 7, False), ("+5", 10, True), ("1_000", 10, True), ("00", 10, True)],
)
async def test_http_max_clients_is_read_with_the_grammar(
    serve, caller, monkeypatch, caplog, text, max_clients, logged
):
    # 10 is the simple client's own default, kept when the variable is ignored.
    caplog.set_level(logging.WARNING, logger="sprockets_http")
    monkeypatch.setenv("HTTP_MAX_CLIENTS", text)
    response = await caller.http_fetch(serve([("/", Ok)]) + "/")
    assert response.ok
    warning = f"Ignoring HTTP_MAX_CLIENTS={text!r}: not a positive integer"
    assert (warning in warnings_of(caplog)) is logged
    assert httpclient.AsyncHTTPClient().max_clients == max_clients


@pytest.mark.parametrize(
    "text, value, warning",
    [
        (None, None, None),
        ("", None, None),
        ("1", 1, None),
        ("999", 999, None),
        ("1000", 1000, None),  # the limit itself: no warning
        ("1001", 1000, "HTTP_MAX_CLIENTS='1001' is above the limit of 1000; using 1000"),
        ("0", None, "Ignoring HTTP_MAX_CLIENTS='0': not a positive integer"),
    ],
)
def test_max_clients_setting_table(caplog, text, value, warning):
    from sprockets_http import _transport

    caplog.set_level(logging.WARNING, logger="sprockets_http")
    # The same text twice: the second answer comes from the cache, alike.
    assert _transport.max_clients_setting(text) == value
    assert _transport.max_clients_setting(text) == value
    expected = [] if warning is None else [warning]
    assert warnings_of(caplog) == expected  # logged once per value
