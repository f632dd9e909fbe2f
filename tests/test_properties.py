"""Property-based tests (hypothesis): whatever a server sends, the parsing
and decoding code gives a documented answer and never an undocumented error.

No server here: the responses are tornado ``HTTPResponse`` objects built in
memory, which allows header values no real server could even send.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import io
import json
import math
import re
import uuid
from typing import Any, Dict, List, Optional, Tuple

import msgpack
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tornado import httpclient, httputil

from sprockets_http import BodyDecodeError, HTTPResponse, content
from sprockets_http._headers import parse_links
from sprockets_http.retry import RetryPolicy, parse_retry_after

BOUNDED = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
UTC = datetime.timezone.utc
NOW = 1_700_000_000.0  # a fixed "now" for HTTP-date arithmetic


def tornado_response(
    body: bytes = b"",
    content_type: Optional[str] = None,
    code: int = 200,
    link: Optional[str] = None,
) -> httpclient.HTTPResponse:
    headers = httputil.HTTPHeaders()
    if content_type is not None:
        headers["Content-Type"] = content_type
    if link is not None:
        headers["Link"] = link
    return httpclient.HTTPResponse(
        httpclient.HTTPRequest("http://127.0.0.1/"),
        code,
        headers=headers,
        buffer=io.BytesIO(body),
        effective_url="http://127.0.0.1/",
    )


def recorded(response: httpclient.HTTPResponse, simplify: bool = True) -> HTTPResponse:
    record = HTTPResponse(simplify_error_response=simplify)
    record.append_response(response)
    record.finish()
    return record


# --- Retry-After -----------------------------------------------------------------

http_dates = st.datetimes(
    min_value=datetime.datetime(1900, 1, 1),
    max_value=datetime.datetime(9999, 12, 31),
    timezones=st.just(UTC),
).map(lambda when: email.utils.format_datetime(when, usegmt=True))

retry_after_values = st.one_of(
    st.text(),
    st.from_regex(r"\s*[+-]?[0-9]{0,12}(\.[0-9]{0,6})?([eE][+-]?[0-9]{1,3})?\s*", fullmatch=True),
    st.floats().map(str),
    http_dates,
    http_dates.map(lambda text: text.replace("GMT", "-0000")),
    http_dates.map(lambda text: text[: len(text) // 2]),
    st.sampled_from(["inf", "-inf", "+inf", "nan", "-nan", "1e999", "1_000", "٣", "  7  "]),
)
caps = st.floats(min_value=0, max_value=1e6)


@BOUNDED
@given(value=retry_after_values, cap=caps)
@example(value="-5", cap=3.0)
@example(value="Mon, 32 Jan 2024 00:00:00 GMT", cap=3.0)
def test_retry_after_is_a_wait_within_the_cap_or_none(value: str, cap: float) -> None:
    seconds = parse_retry_after(value, cap=cap, now=NOW)
    assert seconds is None or (isinstance(seconds, float) and 0.0 <= seconds <= cap)


@BOUNDED
@given(value=st.one_of(st.none(), retry_after_values), retry_number=st.integers(1, 80))
def test_an_unparseable_retry_after_falls_back_to_the_backoff(
    value: Optional[str], retry_number: int
) -> None:
    policy = RetryPolicy(retry_timeout=0.5, request_timeout=20.0)
    wait = policy.wait(retry_number, value, now=NOW)
    parsed = parse_retry_after(value, cap=20.0, now=NOW)
    if parsed is None:
        assert wait.seconds == policy.backoff(retry_number) and not wait.from_retry_after
        assert wait.seconds == min(0.5 * 2 ** (retry_number - 1), 0.5 * 2.0**64)
    else:
        assert wait.seconds == parsed and wait.from_retry_after
    assert math.isfinite(wait.seconds) and wait.seconds >= 0


@BOUNDED
@given(delta=st.integers(0, 10**12), cap=caps, padding=st.sampled_from(["", " ", "\t"]))
def test_delta_seconds_are_clamped_to_the_cap(delta: int, cap: float, padding: str) -> None:
    assert parse_retry_after(f"{padding}{delta}{padding}", cap=cap) == min(float(delta), cap)


@BOUNDED
@given(
    when=st.datetimes(
        min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(9999, 1, 1)
    ),
    cap=caps,
)
def test_http_dates_are_seconds_from_now_clamped(when: datetime.datetime, cap: float) -> None:
    when = when.replace(microsecond=0, tzinfo=UTC)
    text = email.utils.format_datetime(when, usegmt=True)
    expected = min(max(when.timestamp() - NOW, 0.0), cap)
    assert parse_retry_after(text, cap=cap, now=NOW) == pytest.approx(expected)


# --- Link ----------------------------------------------------------------------

TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
tokens = st.from_regex(r"[-!#$%&'*+.^_`|~0-9A-Za-z]{1,8}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
param_names = st.one_of(
    st.sampled_from(["rel", "Rel", "REV", "title", "anchor", "title*", "type"]),
    tokens.filter(lambda name: name.lower() != "target"),
)
link_params = st.lists(
    st.tuples(param_names, texts, st.booleans()), max_size=4, unique_by=lambda p: p[0].lower()
)
targets = st.text(st.characters(blacklist_characters="<>", blacklist_categories=("Cs",)),
                  max_size=20)
# Never a link-value: no "<" to start one, no quote or comma to run into the next.
garbage = st.text(
    st.characters(blacklist_characters='<",', blacklist_categories=("Cs",)), min_size=1,
    max_size=12,
).filter(str.strip)
link_elements = st.lists(
    st.one_of(st.tuples(targets, link_params), garbage, st.just("")), max_size=5
)


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_link(target: str, params: Any, separator: str) -> str:
    rendered = f"<{target}>"
    for name, value, bare in params:
        shown = value if bare and TOKEN.fullmatch(value) else quoted(value)
        rendered += f"{separator}{name}={shown}"
    return rendered


def link_sent(target: str, params: Any) -> Dict[str, str]:
    """The link a client must read back: names lower-cased, rel and rev values
    too, the target trimmed."""
    link = {"target": target.strip()}
    for name, value, _bare in params:
        link[name.lower()] = value.lower() if name.lower() in ("rel", "rev") else value
    return link


@BOUNDED
@given(
    elements=link_elements,
    separator=st.sampled_from([", ", ",", " , ", ",\t"]),
    param_separator=st.sampled_from(["; ", ";", " ; ", "\t;\t"]),
)
@example(elements=[("http://a/", [("rel", "next", True)]), "garbage"], separator=", ",
         param_separator="; ")
@example(elements=[("a, b; c", [("title", 'say "hi", \\o/', False)])], separator=",",
         param_separator=";")
def test_links_never_raise(elements: List[Any], separator: str, param_separator: str) -> None:
    """Links rendered with every quoting rule come back as they were sent, in
    order, and the garbage between them is dropped, not the links."""
    rendered, expected, dropped = [], [], []
    for element in elements:
        if isinstance(element, tuple):
            rendered.append(render_link(element[0], element[1], param_separator))
            expected.append(link_sent(*element))
        else:
            rendered.append(element)
            if element.strip():
                dropped.append(element.strip())
    value = separator.join(rendered)
    links = recorded(tornado_response(link=value)).links
    assert links == expected
    assert [list(link) for link in links] == [list(link) for link in expected]  # order
    assert parse_links(value).dropped == dropped


@BOUNDED
@given(value=st.text())
@example(value='<http://a/>; rel="unterminated, <http://b/>')
def test_any_link_header_gives_links_or_drops(value: str) -> None:
    parsed = parse_links(value)
    links = recorded(tornado_response(link=value)).links
    assert links == parsed.links
    for link in parsed.links:
        assert link["target"] in value
        assert all(name == "target" or TOKEN.fullmatch(name) for name in link)
        assert all(name == name.lower() for name in link)
    for text in parsed.dropped:
        assert text and text == text.strip() and text in value


# --- body decoding -------------------------------------------------------------------

JSON_TYPES = [
    "application/json",
    "application/problem+json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=utf-16",
    'application/json; charset="UTF-8"',
    "application/json; charset=no-such-charset",
    "APPLICATION/JSON",
    "application/json;;;charset",
]
MSGPACK_TYPES = [
    "application/msgpack",
    "application/vnd.example+msgpack",
    "application/msgpack; x=1",
]
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64 - 1),  # msgpack's range
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(content.json_dumps),
    json_values.map(content.msgpack_packb),
    json_values.map(content.json_dumps).map(lambda data: data[: len(data) // 2]),
    st.sampled_from(
        [b"\xc4\x02\xff\xfe", b"\xc1", b"\x92\x01", b"[1, 2]garbage", b"\xef\xbb\xbf{}"]
    ),
)


# Each Content-Type with the format it declares and the charset its JSON is
# read in, written out by hand: the expectation below never asks the package.
LABELLED_TYPES: List[Tuple[Optional[str], Optional[str], str]] = [
    ("application/json", "json", "utf-8"),
    ("application/problem+json", "json", "utf-8"),
    ("application/json; charset=utf-8", "json", "utf-8"),
    ("application/json; charset=latin-1", "json", "latin-1"),
    ("application/json; charset=utf-16", "json", "utf-16"),
    ('application/json; charset="UTF-8"', "json", "utf-8"),
    ("application/json; charset=no-such-charset", "json", "no-such-charset"),
    ("APPLICATION/JSON", "json", "utf-8"),
    ("application/json;;;charset", "json", "utf-8"),
    ("application/msgpack", "msgpack", ""),
    ("application/vnd.example+msgpack", "msgpack", ""),
    ("application/msgpack; x=1", "msgpack", ""),
    ("text/plain", None, ""),
    ("text/plain; charset=utf-8", None, ""),
    ("application/octet-stream", None, ""),
    ("text/json", None, ""),
    (None, None, ""),
]
labelled_content_types = st.one_of(
    st.sampled_from(LABELLED_TYPES),
    # Text naming neither format, in any case, declares neither.
    st.text(max_size=40)
    .filter(lambda text: "json" not in text.lower() and "msgpack" not in text.lower())
    .map(lambda text: (text, None, "")),
    tokens.map(lambda name: (f"application/{name}+json", "json", "utf-8")),
)


def _plain(value: Any) -> bool:
    """Whether *value* holds only what JSON has (no bin, no extension types)."""
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return value is None or isinstance(value, (bool, int, float, str))


def _same(left: Any, right: Any) -> bool:
    return repr(left) == repr(right)  # NaN equals NaN here


def _with_every_labelled_type(test: Any) -> Any:
    """Each labelled type once with a body valid in its format, whatever hypothesis draws."""
    for content_type, declared, charset in LABELLED_TYPES:
        document = {"message": "m\u00e9", "n": [1, 2.5, None]}
        if declared == "msgpack":
            body = msgpack.packb(document)
        else:
            body = json.dumps(document).encode(charset if charset.startswith("utf") else "utf-8")
        for code, simplify in ((200, True), (404, True), (500, False)):
            test = example(body=body, labelled=(content_type, declared, charset), code=code,
                           simplify=simplify)(test)
    return test


@BOUNDED
@given(body=bodies, labelled=labelled_content_types, code=st.sampled_from([200, 201, 404, 500]),
       simplify=st.booleans())
@_with_every_labelled_type
def test_body_is_a_value_or_a_body_decode_error(
    body: bytes, labelled: Tuple[Optional[str], Optional[str], str], code: int, simplify: bool
) -> None:
    content_type, declared, charset = labelled
    record = recorded(tornado_response(body, content_type, code), simplify)
    expected: Any = body
    decodes = True
    if not body:
        expected = None
    elif declared == "json":
        try:
            expected = json.loads(body.decode(charset))
        except (ValueError, LookupError, RecursionError):
            decodes = False
    elif declared == "msgpack":
        # The msgpack C extension as an independent decoder: where it reads a
        # document holding only JSON's types, the body must be that value.
        # (Where it fails, the package may still read it: an array as a map
        # key, for one, is a tuple there.)
        try:
            expected = msgpack.unpackb(body, raw=False, strict_map_key=False)
        except Exception:
            expected = decodes = None
        else:
            if not _plain(expected):
                expected = decodes = None
    if simplify and code >= 400 and isinstance(expected, dict):
        expected = expected.get("message", expected)
    try:
        value = record.body
    except BodyDecodeError as error:
        assert decodes is not True, f"{body!r} as {content_type}"
        assert isinstance(error, ValueError)
        assert str(content_type) in str(error)
        # The bytes are not lost, and the error is the same every time.
        assert record.raw is not None and record.raw.body == body
        with pytest.raises(BodyDecodeError):
            record.body
        return
    assert decodes is not False, f"{body!r} as {content_type} gave {value!r}"
    if decodes:
        assert _same(value, expected)
    assert record.body is value  # decoded once, then cached


@BOUNDED
@given(
    value=json_values,
    content_type=st.sampled_from([t for t in JSON_TYPES[:4] if "latin" not in t] + MSGPACK_TYPES),
)
def test_valid_bodies_decode(value: Any, content_type: str) -> None:
    encoded = content.encode_body(value, content_type)
    assert recorded(tornado_response(encoded, content_type), simplify=False).body == value


# --- serialization round trip -----------------------------------------------------------

offsets = st.builds(
    datetime.timezone,
    st.timedeltas(min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.binary(max_size=16),
    st.uuids(),
    st.datetimes(),
    st.datetimes(timezones=st.one_of(st.just(UTC), offsets)),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=16,
)
bodies_to_send = st.one_of(
    st.lists(values, max_size=4), st.dictionaries(st.text(max_size=8), values, max_size=4)
)


def expected_back(value: Any, fmt: str) -> Any:
    """What a value sent in *fmt* decodes as."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        if fmt == "json":
            return base64.b64encode(value).decode("ascii")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, (list, tuple)):
        return [expected_back(item, fmt) for item in value]
    if isinstance(value, dict):
        return {key: expected_back(item, fmt) for key, item in value.items()}
    return value


ROUND_TRIP_TYPES = [
    ("application/json", "json"),
    ("application/vnd.example+json", "json"),
    ("application/msgpack", "msgpack"),
    ("application/vnd.example+msgpack", "msgpack"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=bodies_to_send, content_type_and_format=st.sampled_from(ROUND_TRIP_TYPES))
def test_round_trip(value: Any, content_type_and_format: Tuple[str, str]) -> None:
    content_type, fmt = content_type_and_format
    encoded = content.encode_body(value, content_type)
    assert isinstance(encoded, bytes)
    assert content.decode_body(encoded, content_type) == expected_back(value, fmt)


def test_round_trip_examples() -> None:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    for content_type in ("application/json", "application/msgpack"):
        decoded = content.decode_body(
            content.encode_body({"id": ident, "at": when, "tags": ("a",)}, content_type),
            content_type,
        )
        assert decoded == {
            "id": "12345678-1234-5678-1234-567812345678",
            "at": "2024-05-06T07:08:09+00:00",
            "tags": ["a"],
        }
