"""Unit tests of ``sprockets_http.content``: request body encoding (point 5)
and response body decoding (points 10 and 11), with no I/O."""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from typing import Any, List

import pytest
import umsgpack
from ietfparse import datastructures

import sprockets_http
from sprockets_http import content
from sprockets_http.content import BodyDecodeError, decode_body, encode_body


@pytest.fixture(params=["msgpack", "umsgpack"])
def backend(request, monkeypatch):
    """Run with each msgpack implementation the package can use."""
    if request.param == "msgpack":
        pytest.importorskip("msgpack")
        monkeypatch.setattr(content, "_unpack", content._unpack_c)
    else:
        monkeypatch.setattr(content, "_unpack", content._unpack_python)
    return request.param


# --- constants --------------------------------------------------------------------------


def test_content_type_constants():
    assert str(sprockets_http.CONTENT_TYPE_MSGPACK) == "application/msgpack"
    assert str(sprockets_http.CONTENT_TYPE_JSON) == "application/json"
    assert isinstance(sprockets_http.CONTENT_TYPE_MSGPACK, datastructures.ContentType)
    assert sprockets_http.DEFAULT_ACCEPT == "application/json, application/msgpack"


# --- encode_body ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/vnd.api+json", "application/json; charset=utf-8",
     "APPLICATION/JSON", datastructures.ContentType("application", "json"),
     datastructures.ContentType("application", "problem", content_suffix="json")],
)
def test_json_types(content_type):
    assert encode_body({"a": [1, "é"]}, content_type) == '{"a":[1,"é"]}'.encode()


@pytest.mark.parametrize(
    "content_type",
    ["application/msgpack", "application/vnd.example+msgpack",
     datastructures.ContentType("application", "msgpack")],
)
def test_msgpack_types(content_type):
    assert umsgpack.unpackb(encode_body({"a": [1, "é"]}, content_type)) == {"a": [1, "é"]}


@pytest.mark.parametrize("value", [{}, []])
def test_empty_containers(value):
    assert encode_body(value, "application/json") == json.dumps(value).encode()
    assert umsgpack.unpackb(encode_body(value, "application/msgpack")) == value


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None,
                     "garbage"]
)
def test_other_types_raise_value_error(content_type):
    with pytest.raises(ValueError):
        encode_body({"a": 1}, content_type)


def test_common_values_json():
    value = {
        "u": uuid.UUID(int=1),
        "dt": datetime.datetime(2020, 1, 2, 3, 4, 5),
        "d": datetime.date(2020, 1, 2),
        "t": datetime.time(3, 4, 5, 6),
        "b": b"\x00\x01",
        "ba": bytearray(b"\x02"),
        "mv": memoryview(b"\x03"),
        "tuple": (1, (2, 3)),
        "set": {4},
        "nested": [{"u": uuid.UUID(int=2)}],
    }
    assert json.loads(encode_body(value, "application/json")) == {
        "u": "00000000-0000-0000-0000-000000000001",
        "dt": "2020-01-02T03:04:05",
        "d": "2020-01-02",
        "t": "03:04:05.000006",
        "b": base64.b64encode(b"\x00\x01").decode(),
        "ba": base64.b64encode(b"\x02").decode(),
        "mv": base64.b64encode(b"\x03").decode(),
        "tuple": [1, [2, 3]],
        "set": [4],
        "nested": [{"u": "00000000-0000-0000-0000-000000000002"}],
    }


def test_common_values_msgpack():
    value = {
        "u": uuid.UUID(int=1),
        "dt": datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "b": b"\xff",
        "ba": bytearray(b"\x02"),
        "tuple": (1, 2),
        "set": frozenset({"x"}),
    }
    assert umsgpack.unpackb(encode_body(value, "application/msgpack")) == {
        "u": "00000000-0000-0000-0000-000000000001",
        "dt": "2020-01-02T03:04:05+00:00",
        "b": b"\xff",
        "ba": b"\x02",
        "tuple": [1, 2],
        "set": ["x"],
    }


@pytest.mark.parametrize("content_type", ["application/json", "application/msgpack"])
def test_unencodable_values_raise_value_error(content_type):
    with pytest.raises(ValueError):
        encode_body({"x": object()}, content_type)


# --- decode_body ---------------------------------------------------------------------------------


def test_json_decoding_and_charset():
    assert decode_body(b'{"a":"\xc3\xa9"}', "application/json") == {"a": "é"}
    assert decode_body(b'{"a":"\xe9"}', "application/json; charset=ISO-8859-1") == {"a": "é"}
    assert decode_body(b'{"a":"\xe9"}', 'application/json; charset="latin-1"') == {"a": "é"}
    assert decode_body(b"[1]", "application/hal+json") == [1]
    assert decode_body(b"[2]", "text/vnd.example+json") == [2]


def test_msgpack_decoding(backend):
    packed = umsgpack.packb({"s": "str", "b": "bïn".encode(), "x": b"\xff", "n": [1, b"ok"]})
    assert decode_body(packed, "application/msgpack") == {
        "s": "str",
        "b": "bïn",
        "x": b"\xff",
        "n": [1, "ok"],
    }
    assert decode_body(umsgpack.packb([b"\xc3\xa9"]), "application/x+msgpack") == ["é"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/octet-stream",
                                          "image/png", "", ";;;", "application/"])
def test_other_types_return_the_bytes(content_type):
    assert decode_body(b"\x00raw", content_type) == b"\x00raw"


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", b"{"),
        ("application/json", b"\xff"),
        ("application/json; charset=bogus", b"{}"),
        ("application/json", b"[" * 100000 + b"]" * 100000),
        ("application/msgpack", b"\xc1"),
        ("application/msgpack", b"\x92"),
        ("application/msgpack", b"\x01\x02"),
    ],
)
def test_malformed_raises_body_decode_error(backend, content_type, body):
    with pytest.raises(BodyDecodeError) as caught:
        decode_body(body, content_type)
    assert isinstance(caught.value, ValueError)
    assert caught.value.content_type == content_type
    assert content_type in str(caught.value)


@pytest.mark.parametrize("backend", ["umsgpack", "msgpack"])
def test_tuple_and_frozenset_keys_encode_alike_on_both_backends(backend):
    content._use_backend(backend)
    try:
        packed = content.msgpack_packb({(1, (2, 3)): "a", frozenset([4]): "b"})
    finally:
        content._use_backend(None)
    assert packed == b"\x82\x92\x01\x92\x02\x03\xa1a\x91\x04\xa1b"
    assert content.msgpack_unpackb(packed) == {(1, (2, 3)): "a", (4,): "b"}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_json_bodies_refuse_nan_and_infinity(value):
    with pytest.raises(ValueError, match="application/json"):
        content.encode_body({"x": value}, "application/json")


# --- found by mutation testing (tox -e mutation) --------------------------------------


class Unencodable:
    pass


class IsoformatOfItself:
    """An object whose isoformat() gives the object back: no progress."""

    def isoformat(self):
        return self


@pytest.mark.parametrize(
    "value, content_type, message",
    [
        (Unencodable(), "application/json", "Object of type Unencodable is not JSON serializable"),
        ({"x": Unencodable()}, "application/msgpack",
         "Object of type Unencodable is not msgpack serializable"),
        (IsoformatOfItself(), "application/msgpack",
         "Object of type IsoformatOfItself is not msgpack serializable"),
    ],
)
def test_an_unencodable_value_is_named(monkeypatch, value, content_type, message):
    monkeypatch.setattr(content, "_pack", content._pack_umsgpack)
    with pytest.raises(ValueError) as raised:
        encode_body(value, content_type)
    assert str(raised.value) == f"cannot serialize the request body as {content_type}: {message}"


def test_a_body_decode_error_keeps_the_decoders_exception():
    with pytest.raises(BodyDecodeError) as raised:
        decode_body(b"{", "application/json")
    error = raised.value
    assert isinstance(error.cause, json.JSONDecodeError)
    assert error.cause is error.__cause__
    assert error.content_type == "application/json"
    assert str(error) == f"response body is not valid application/json: {error.cause}"


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", False),
        (b"\x92\x01\x02", False),
        (b"\xd6\xff\x00\x00\x00\x01", False),  # 4-byte timestamp: seconds only
        (b"\xd7\xff" + bytes(8), True),  # fixext 8
        (b"\x91\xc7\x08\xff" + bytes(8), True),  # ext 8, length 8
        (b"\xc7\x0c\xff" + bytes(12), True),  # ext 8, length 12
    ],
)
def test_which_documents_may_hold_nanoseconds(data, expected):
    assert content._may_hold_nanoseconds(data) is expected


class FakeMsgpack:
    """msgpack's unpackb(timestamp=3) for an 8-byte timestamp, as releases
    differ: exact; accepting nanoseconds up to *limit* (10**9 - 1 is right);
    rounding them to microseconds (and, with *clamp*, keeping the result
    within the second); or reading only the low *seconds_bits* bits of the
    seconds (34 is right)."""

    def __init__(
        self,
        *,
        limit: int = 999_999_999,
        rounding: bool = False,
        clamp: bool = False,
        seconds_bits: int = 34,
    ) -> None:
        self.limit, self.rounding, self.clamp = limit, rounding, clamp
        self.seconds_bits = seconds_bits

    def unpackb(self, data: bytes, timestamp: int) -> datetime.datetime:
        assert timestamp == 3 and data[:2] == b"\xd7\xff" and len(data) == 10
        packed = int.from_bytes(data[2:], "big")
        seconds, nanoseconds = packed & (2**self.seconds_bits - 1), packed >> 34
        if nanoseconds > self.limit:
            raise ValueError("nanoseconds out of range")
        micro = round(nanoseconds / 1000) if self.rounding else nanoseconds // 1000
        if self.clamp:
            micro = min(micro, 999_999)
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return epoch + datetime.timedelta(seconds=seconds, microseconds=micro)


@pytest.mark.parametrize(
    "fake, exact",
    [
        (FakeMsgpack(), True),
        (FakeMsgpack(limit=2**30), False),  # accepts anything 30 bits hold
        (FakeMsgpack(limit=1_000_000_000), False),  # off by one
        (FakeMsgpack(rounding=True), False),  # wrong at 501 ns and at the largest
        (FakeMsgpack(rounding=True, clamp=True), False),  # wrong at 501 ns only
        (FakeMsgpack(seconds_bits=32), False),  # wrong at the largest only
    ],
    ids=["exact", "lenient", "off-by-one", "rounding", "rounding-clamped", "32-bit-seconds"],
)
def test_the_probe_of_msgpacks_datetimes(monkeypatch, fake, exact):
    monkeypatch.setattr(content, "_msgpack", fake)
    assert content._c_datetimes_are_exact() is exact


# Each type byte at the edges of its range, and the 16-bit lengths past 0x7fff
# (read unsigned), decoded by the package's own decoder. Hypothesis draws these
# only now and then (tests/test_msgpack_parity.py): here they are every time.
MSGPACK_EDGES = [
    (b"\x00", 0),
    (b"\x7f", 127),  # the last positive fixint
    (b"\x80", {}),  # fixmap 0
    (b"\x8f" + b"".join(bytes([i, i]) for i in range(15)), {i: i for i in range(15)}),
    (b"\x90", []),  # fixarray 0
    (b"\x9f" + bytes(range(15)), list(range(15))),
    (b"\xa0", ""),  # fixstr 0
    (b"\xbf" + b"a" * 31, "a" * 31),
    (b"\xc0", None),
    (b"\xc2", False),
    (b"\xc3", True),
    (b"\xe0", -32),  # the first negative fixint
    (b"\xff", -1),
    (b"\xcc\xff", 255),
    (b"\xcd\xff\xff", 65535),
    (b"\xce\xff\xff\xff\xff", 2**32 - 1),
    (b"\xd9\x01a", "a"),
    (b"\xda\x80\x00" + b"a" * 0x8000, "a" * 0x8000),
    (b"\xdc\x80\x00" + b"\x01" * 0x8000, [1] * 0x8000),
    (b"\xd6\xff\x00\x00\x00\x01",  # a 4-byte timestamp: one second
     datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=datetime.timezone.utc)),
    (b"\xd7\xff" + (1000 << 34 | 2).to_bytes(8, "big"),  # 8 bytes: 2 s and 1 µs
     datetime.datetime(1970, 1, 1, 0, 0, 2, 1, tzinfo=datetime.timezone.utc)),
    (b"\xc7\x0c\xff" + (2000).to_bytes(4, "big") + (-1).to_bytes(8, "big", signed=True),
     datetime.datetime(1969, 12, 31, 23, 59, 59, 2, tzinfo=datetime.timezone.utc)),
]


@pytest.mark.parametrize(
    "data, expected", MSGPACK_EDGES, ids=[data[:4].hex() for data, _ in MSGPACK_EDGES]
)
def test_the_python_decoder_at_the_edges_of_each_type(data, expected):
    value = content._unpack_python(data)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\xc7\x03\xff\x00\x00\x00", "invalid timestamp data (length 3)"),
        (b"\x81\x80\x01", "unhashable map key: {}"),
        (b"\xc1", "invalid msgpack type byte 0xc1"),  # the one byte msgpack never uses
        (b"\x00\x00", "extra data after the msgpack document"),
        (b"\xa3ab", "the msgpack document is cut short"),  # fixstr 3, 2 bytes
        (b"\xd9\x03ab", "the msgpack document is cut short"),  # str 8
        (b"\xda\x00\x03ab", "the msgpack document is cut short"),  # str 16
        (b"\xdb\x80\x00\x00\x00", "the msgpack document is cut short"),  # 2**31, unsigned
        (b"\xc6\xff\xff\xff\xffa", "the msgpack document is cut short"),  # bin 32
    ],
    ids=["ext-3", "map-key", "c1", "extra", "fixstr", "str8", "str16", "str32", "bin32"],
)
def test_the_python_decoder_says_what_is_wrong(data, message):
    with pytest.raises(ValueError) as raised:
        content._unpack_python(data)
    assert str(raised.value) == message


def test_without_the_msgpack_extension_the_python_decoder_is_the_default(monkeypatch):
    monkeypatch.setattr(content, "_msgpack", None)
    # Restored after the test, as they are now.
    monkeypatch.setattr(content, "_pack", content._pack)
    monkeypatch.setattr(content, "_unpack", content._unpack)
    content._use_backend(None)
    assert content.msgpack_backend() == "umsgpack"
    assert content.msgpack_unpackb(b"\x92\x01\xa1a") == [1, "a"]
    with pytest.raises(RuntimeError) as raised:
        content._use_backend("msgpack")
    assert str(raised.value) == "msgpack (the fast extra) is not installed"


@pytest.mark.parametrize("backend", ["msgpack", "umsgpack"])
def test_each_backend_packs_bytes_as_bin_and_refuses_a_map_as_a_key(monkeypatch, backend):
    monkeypatch.setattr(content, "_pack", content._pack)
    monkeypatch.setattr(content, "_unpack", content._unpack)
    content._use_backend(backend)
    # bin 8 (0xc4), not str: bytes that are not UTF-8 survive the round trip.
    assert content.msgpack_packb(b"\xff\x00") == b"\xc4\x02\xff\x00"
    assert content.msgpack_unpackb(b"\xc4\x02\xff\x00") == b"\xff\x00"
    with pytest.raises(ValueError) as raised:
        content.msgpack_unpackb(b"\x81\x80\x01")  # {{}: 1}
    assert str(raised.value) == "unhashable map key: {}"


def test_an_unknown_msgpack_backend_is_named_in_the_error():
    with pytest.raises(ValueError) as raised:
        content._use_backend("nope")
    assert str(raised.value) == "unknown msgpack backend 'nope': use 'msgpack' or 'umsgpack'"
    assert content.msgpack_backend() in ("msgpack", "umsgpack")  # unchanged


def _nested(depth: int) -> List[Any]:
    value: List[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value, content_type, message",
    [
        (
            _nested(100_000),
            "application/json",
            "cannot serialize the request body as application/json: it is nested too deeply "
            "(or refers to itself)",
        ),
        (
            {"a": 1},
            "text/plain",
            "cannot serialize a dict request body for Content-Type text/plain: only JSON and "
            "msgpack types are supported",
        ),
    ],
    ids=["too-deep", "not-json-or-msgpack"],
)
def test_a_body_that_cannot_be_encoded_says_why(value, content_type, message):
    with pytest.raises(ValueError) as raised:
        content.encode_body(value, content_type)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "backend, body, message",
    [
        ("msgpack", b"\xc1", "FormatError"),  # the reserved code; msgpack says nothing
        ("umsgpack", b"\xc1", "invalid msgpack type byte 0xc1"),
    ],
)
def test_a_backend_error_without_a_text_is_named_by_its_type(monkeypatch, backend, body, message):
    monkeypatch.setattr(content, "_pack", content._pack)
    monkeypatch.setattr(content, "_unpack", content._unpack)
    content._use_backend(backend)
    with pytest.raises(ValueError) as raised:
        content.msgpack_unpackb(body)
    assert str(raised.value) == message
    assert raised.value.__cause__ is not None
