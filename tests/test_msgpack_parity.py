"""Both msgpack backends (u-msgpack-python and msgpack's C extension) give
identical results: decoding generated documents, and encoding generated values.

The documents are written byte by byte here, so every wire format is covered:
str against bin (bin that is and is not UTF-8), every integer width (values
in non-minimal widths too), float32 and float64, arrays and maps in every
length format, map keys that are arrays or maps or repeated, the three
timestamp sizes (valid and invalid), other extension types, and documents
with trailing bytes or cut short.
"""

from __future__ import annotations

import datetime
import math
import struct
import uuid
from typing import Any, Callable, List, Tuple

import pytest
import umsgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sprockets_http import content

pytest.importorskip("msgpack")

UTC = datetime.timezone.utc

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FEWER = settings(SETTINGS, max_examples=50)


# "msgpack/Timestamp": the C extension decoding timestamps into its Timestamp
# objects, the path content.py takes with msgpack releases whose own datetimes
# are not exact (below 1.2: tox -e oldest and py39 take it for real).
BACKENDS = ["umsgpack", "msgpack", "msgpack/Timestamp"]


def with_backend(backend: str, function: Callable[[], Any]) -> Tuple[str, Any]:
    """Run *function* with one backend; the outcome as ("ok", value) or ("error", type)."""
    name, _, via = backend.partition("/")
    content._use_backend(name)
    exact = content._C_DATETIMES_ARE_EXACT
    if via:
        content._C_DATETIMES_ARE_EXACT = False
    try:
        return "ok", function()
    except (ValueError, TypeError, OverflowError, umsgpack.PackException) as error:
        return "error", ValueError if isinstance(error, ValueError) else "pack-error"
    finally:
        content._use_backend(None)
        content._C_DATETIMES_ARE_EXACT = exact


def canonical(value: Any) -> Any:
    """A comparable form that tells apart what == does not (1 / 1.0 / True, str / bytes)."""
    kind = type(value)
    if kind is float:
        return ("nan",) if math.isnan(value) else ("float", struct.pack(">d", value))
    if kind in (list, tuple):
        return (kind.__name__, [canonical(item) for item in value])
    if kind is dict:
        return ("dict", [(canonical(k), canonical(v)) for k, v in value.items()])
    if kind is datetime.datetime:
        return ("datetime", value.isoformat(), value.utcoffset())
    if kind is umsgpack.Ext:
        return ("ext", value.type, value.data)
    assert kind in (type(None), bool, int, str, bytes), kind
    return (kind.__name__, value)


def decode_both(data: bytes) -> Tuple[Any, Any]:
    outcomes = []
    for backend in ("umsgpack", "msgpack"):
        status, value = with_backend(backend, lambda: content.msgpack_unpackb(data))
        outcomes.append((status, canonical(value) if status == "ok" else value))
    return outcomes[0], outcomes[1]


# --- writing msgpack by hand ------------------------------------------------


def _sized(
    draw: Callable[[Any], Any], length: int, formats: List[Tuple[int, bytes, str]]
) -> bytes:
    """Pick a header format whose length field can hold *length*."""
    usable = [(prefix, fmt) for limit, prefix, fmt in formats if length <= limit]
    prefix, fmt = draw(st.sampled_from(usable))
    if fmt == "fix":
        return bytes([prefix[0] | length])
    return prefix + struct.pack(fmt, length)


INT_FORMATS = [
    # (low, high, prefix, struct format)
    (0, 0x7F, None, "fixpos"),
    (-32, -1, None, "fixneg"),
    (0, 0xFF, b"\xcc", ">B"),
    (0, 0xFFFF, b"\xcd", ">H"),
    (0, 0xFFFF_FFFF, b"\xce", ">I"),
    (0, 2**64 - 1, b"\xcf", ">Q"),
    (-(2**7), 2**7 - 1, b"\xd0", ">b"),
    (-(2**15), 2**15 - 1, b"\xd1", ">h"),
    (-(2**31), 2**31 - 1, b"\xd2", ">i"),
    (-(2**63), 2**63 - 1, b"\xd3", ">q"),
]
EDGES = sorted(
    edge + delta
    for low, high, *_ in INT_FORMATS
    for edge in {low, high}
    for delta in (-1, 0, 1)
    if -(2**63) <= edge + delta < 2**64
)


@st.composite
def integers(draw: Any) -> bytes:
    value = draw(
        st.one_of(st.sampled_from(EDGES), st.integers(-(2**63), 2**64 - 1), st.integers(-40, 300))
    )
    usable = [fmt for fmt in INT_FORMATS if fmt[0] <= value <= fmt[1]]
    _low, _high, prefix, fmt = draw(st.sampled_from(usable))
    if fmt == "fixpos":
        return bytes([value])
    if fmt == "fixneg":
        return struct.pack(">b", value)
    return prefix + struct.pack(fmt, value)


@st.composite
def floats(draw: Any) -> bytes:
    if draw(st.booleans()):
        return b"\xca" + struct.pack(">f", draw(st.floats(width=32)))
    return b"\xcb" + struct.pack(">d", draw(st.floats()))


STR_FORMATS = [
    (31, b"\xa0", "fix"),
    (0xFF, b"\xd9", ">B"),
    (0xFFFF, b"\xda", ">H"),
    (2**32 - 1, b"\xdb", ">I"),
]
BIN_FORMATS = [(0xFF, b"\xc4", ">B"), (0xFFFF, b"\xc5", ">H"), (2**32 - 1, b"\xc6", ">I")]
ARRAY_FORMATS = [(15, b"\x90", "fix"), (0xFFFF, b"\xdc", ">H"), (2**32 - 1, b"\xdd", ">I")]
MAP_FORMATS = [(15, b"\x80", "fix"), (0xFFFF, b"\xde", ">H"), (2**32 - 1, b"\xdf", ">I")]


@st.composite
def strings(draw: Any) -> bytes:
    data = draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=6))  # often not UTF-8: both must refuse it
    return _sized(draw, len(data), STR_FORMATS) + data


@st.composite
def binaries(draw: Any) -> bytes:
    data = draw(
        st.one_of(
            st.binary(max_size=40),  # mostly not UTF-8: stays bytes
            st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
        )
    )
    return _sized(draw, len(data), BIN_FORMATS) + data


def _ext(draw: Any, code: int, data: bytes) -> bytes:
    fixed = {1: b"\xd4", 2: b"\xd5", 4: b"\xd6", 8: b"\xd7", 16: b"\xd8"}
    choices = [(0xFF, b"\xc7", ">B"), (0xFFFF, b"\xc8", ">H"), (2**32 - 1, b"\xc9", ">I")]
    if len(data) in fixed and draw(st.booleans()):
        head = fixed[len(data)]
    else:
        head = _sized(draw, len(data), choices)
    return head + struct.pack(">b", code) + data


@st.composite
def extensions(draw: Any) -> bytes:
    code = draw(st.integers(-128, 127).filter(lambda code: code != -1))
    return _ext(draw, code, draw(st.binary(max_size=20)))


@st.composite
def timestamps(draw: Any) -> bytes:
    size = draw(st.sampled_from([4, 8, 12, 4, 8, 12, 3]))  # 3: an invalid size
    nanoseconds = draw(st.one_of(st.integers(0, 999_999_999), st.integers(0, 2**30 - 1)))
    if size == 4:
        data = struct.pack(">I", draw(st.integers(0, 2**32 - 1)))
    elif size == 8:
        seconds = draw(st.integers(0, 2**34 - 1))
        data = struct.pack(">Q", nanoseconds << 34 | seconds)
    elif size == 12:
        seconds = draw(
            st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**36), 2**36))
        )
        if draw(st.booleans()):
            nanoseconds = draw(st.integers(0, 2**32 - 1))
        data = struct.pack(">Iq", nanoseconds, seconds)
    else:
        data = draw(st.binary(min_size=size, max_size=size))
    return _ext(draw, -1, data)


SCALARS = st.one_of(
    st.sampled_from([b"\xc0", b"\xc2", b"\xc3"]),
    integers(),
    floats(),
    strings(),
    binaries(),
    extensions(),
    timestamps(),
)


def _containers(children: Any) -> Any:
    @st.composite
    def arrays(draw: Any) -> bytes:
        items = draw(st.lists(children, max_size=6))
        return _sized(draw, len(items), ARRAY_FORMATS) + b"".join(items)

    @st.composite
    def maps(draw: Any) -> bytes:
        pairs = draw(st.lists(st.tuples(children, children), max_size=5))
        if pairs and draw(st.integers(0, 4)) == 0:  # a repeated key
            pairs.append((draw(st.sampled_from(pairs))[0], draw(children)))
        return _sized(draw, len(pairs), MAP_FORMATS) + b"".join(k + v for k, v in pairs)

    return st.one_of(arrays(), maps())


DOCUMENTS = st.recursive(SCALARS, _containers, max_leaves=25)


# --- decoding -----------------------------------------------------------------


@SETTINGS
@given(DOCUMENTS)
def test_decoding_is_identical(data):
    umsgpack_outcome, msgpack_outcome = decode_both(data)
    assert umsgpack_outcome == msgpack_outcome
    status, value = with_backend("msgpack/Timestamp", lambda: content.msgpack_unpackb(data))
    assert (status, canonical(value) if status == "ok" else value) == msgpack_outcome
    # The decoder in Python, which umsgpack's backend falls back on for a
    # repeated key, decodes every document as the others do.
    try:
        python_outcome: Any = ("ok", canonical(content._unpack_python(data)))
    except Exception:  # msgpack_unpackb makes any of them a ValueError
        python_outcome = ("error", ValueError)
    assert python_outcome == msgpack_outcome


@FEWER
@given(DOCUMENTS, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_are_refused_by_both(data, garbage):
    assert decode_both(data + garbage) == (("error", ValueError), ("error", ValueError))


@FEWER
@given(DOCUMENTS, st.data())
def test_truncated_documents_are_refused_by_both(data, draw):
    cut = draw.draw(st.integers(0, len(data) - 1))
    assert decode_both(data[:cut]) == (("error", ValueError), ("error", ValueError))


@pytest.mark.parametrize(
    "data, expected",
    [
        # bin: str when it is UTF-8, bytes otherwise; str stays str
        (b"\x93\xc4\x02\xc3\xa9\xc4\x01\xff\xa1a", ["é", b"\xff", "a"]),
        (b"\xc4\x00", ""),
        (b"\x92\xc5\x00\x00\xcb\x40\xc4\x00\x00\x00\x00\x00\x00", ["", 10240.0]),
        # a map key that is an array is a tuple, nested arrays too
        (b"\x81\x92\x01\x91\x02\x03", {(1, (2,)): 3}),
        # float32
        (b"\xca\x3f\x80\x00\x00", 1.0),
        # the three timestamp sizes
        (b"\xd6\xff\x00\x00\x00\x01", datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
        (
            b"\xd7\xff" + struct.pack(">Q", 5000 << 34 | 1),
            datetime.datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC),
        ),
        (
            b"\xc7\x0c\xff" + struct.pack(">Iq", 1000, -1),
            datetime.datetime(1969, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        ),
        (b"\xd4\x05\x01", umsgpack.Ext(5, b"\x01")),
        # nanoseconds are truncated, never rounded (msgpack 1.0 rounded)
        (b"\xd7\xff" + struct.pack(">Q", 501 << 34), datetime.datetime(1970, 1, 1, tzinfo=UTC)),
        # exact to the microsecond far from 1970 (msgpack 1.0 went through a float)
        (
            b"\xd7\xff" + struct.pack(">Q", 999_999_999 << 34 | (2**34 - 1)),
            datetime.datetime(2514, 5, 30, 1, 53, 3, 999999, tzinfo=UTC),
        ),
        (
            b"\xc7\x0c\xff" + struct.pack(">Iq", 123_456_789, 2**35),
            datetime.datetime(3058, 10, 26, 3, 46, 8, 123456, tzinfo=UTC),
        ),
        (
            b"\xc7\x0c\xff" + struct.pack(">Iq", 1_999, -(2**35)),
            datetime.datetime(881, 3, 7, 20, 13, 52, 1, tzinfo=UTC),
        ),
        # the 8-byte form in a non-minimal ext 8 header, in an array and a map
        (
            b"\x92\xc7\x08\xff" + struct.pack(">Q", 7000 << 34 | 2) + b"\x81\xa1t"
            b"\xd7\xff" + struct.pack(">Q", 3),
            [
                datetime.datetime(1970, 1, 1, 0, 0, 2, 7, tzinfo=UTC),
                {"t": datetime.datetime(1970, 1, 1, 0, 0, 3, tzinfo=UTC)},
            ],
        ),
        # a timestamp as a map key, and inside an array that is a key
        (
            b"\x82\xd7\xff" + struct.pack(">Q", 1) + b"\x01\x91\xd7\xff"
            + struct.pack(">Q", 2) + b"\x02",
            {
                datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC): 1,
                (datetime.datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC),): 2,
            },
        ),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_documented_results(backend, data, expected):
    status, value = with_backend(backend, lambda: content.msgpack_unpackb(data))
    assert status == "ok" and canonical(value) == canonical(expected)


# A timestamp whose nanoseconds are 10**9 or more, in each form that carries
# nanoseconds and inside containers: msgpack 1.0 and 1.1 decode some of these
# (one second later) unless content.py refuses them.
_BAD_8 = struct.pack(">Q", 1_000_000_000 << 34)
TIMESTAMP_8 = b"\xd7\xff" + struct.pack(">Q", 0)
TOO_MANY_NANOSECONDS = [
    b"\xd7\xff" + struct.pack(">Q", (2**30 - 1) << 34),  # the largest the 8-byte form holds
    b"\xc7\x0c\xff" + struct.pack(">Iq", 1_000_000_000, 0),
    b"\xc7\x0c\xff" + struct.pack(">Iq", 2**32 - 1, -1),
    b"\xc7\x08\xff" + _BAD_8,  # ext 8 instead of fixext 8
    b"\xc8\x00\x0c\xff" + struct.pack(">Iq", 1_000_000_000, 0),  # ext 16
    b"\x92\x01\xd7\xff" + _BAD_8,  # in an array
    b"\x81\xa1t\xd7\xff" + _BAD_8,  # a map value
    b"\x81\xd7\xff" + _BAD_8 + b"\x01",  # a map key
    b"\x81\x91\xd7\xff" + _BAD_8 + b"\x01",  # in an array that is a map key
    b"\x92\xc4\x01\xff\xd7\xff" + _BAD_8,  # beside a bin value
]


@pytest.mark.parametrize("data", TOO_MANY_NANOSECONDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_too_many_nanoseconds_is_a_body_decode_error(backend, data):
    def decode() -> Any:
        try:
            return content.decode_body(data, "application/msgpack")
        except content.BodyDecodeError as error:
            return error

    status, outcome = with_backend(backend, decode)
    assert isinstance(outcome, content.BodyDecodeError)
    assert "nanoseconds" in str(outcome)


@pytest.mark.parametrize(
    "data",
    [
        b"\x01\x02",  # trailing bytes
        b"\x92\x01",  # cut short
        b"",
        b"\xc1",  # reserved
        b"\xa1\xff",  # str that is not UTF-8
        b"\x81\x81\x01\x02\x03",  # a map as a key
        b"\xd7\xff" + struct.pack(">Q", 1_000_000_000 << 34),  # nanoseconds out of range
        *TOO_MANY_NANOSECONDS,
        b"\xd5\xff\x00\x01",  # a timestamp of 2 bytes
        b"\xc7\x0c\xff" + struct.pack(">Iq", 0, 2**62),  # past datetime's range
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_documented_errors(backend, data):
    assert with_backend(backend, lambda: content.msgpack_unpackb(data)) == ("error", ValueError)


def test_the_backend_switch():
    content._use_backend("umsgpack")
    try:
        assert content.msgpack_backend() == "umsgpack"
    finally:
        content._use_backend(None)
    assert content.msgpack_backend() == "msgpack"
    with pytest.raises(ValueError):
        content._use_backend("cbor")


# --- encoding -------------------------------------------------------------------

HASHABLE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**65),  # past both ends of msgpack's range too
    st.floats(),
    st.text(max_size=20),
    st.uuids(),
)
LEAVES = st.one_of(
    HASHABLE,
    st.binary(max_size=20),
    st.binary(max_size=20).map(bytearray),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.dates(),
    st.times(),
    st.frozensets(HASHABLE, max_size=4),
    st.sets(st.one_of(st.integers(), st.text(max_size=5)), max_size=4),
)
VALUES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(
            st.one_of(st.text(max_size=10), st.integers(-1000, 1000)), children, max_size=5
        ),
    ),
    max_leaves=20,
)


@SETTINGS
@given(VALUES)
def test_encoding_is_identical(value):
    assert with_backend("umsgpack", lambda: content.msgpack_packb(value)) == with_backend(
        "msgpack", lambda: content.msgpack_packb(value)
    )


def test_encoding_examples():
    value = {
        "id": uuid.UUID(int=1),
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "raw": b"\x00\xff",
        "pair": (1, 2),
        "set": {3},
    }
    packed = {
        backend: with_backend(backend, lambda: content.msgpack_packb(value))
        for backend in ("umsgpack", "msgpack")
    }
    assert packed["umsgpack"] == packed["msgpack"]
    assert umsgpack.unpackb(packed["msgpack"][1]) == {
        "id": "00000000-0000-0000-0000-000000000001",
        "when": "2024-01-02T03:04:05+00:00",
        "raw": b"\x00\xff",
        "pair": [1, 2],
        "set": [3],
    }


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"\x82\x01\x02\x01\x03", {1: 3}),  # a repeated key: the last value wins
        (b"\x83\xa1a\x01\xa1b\x02\xa1a\x03", {"a": 3, "b": 2}),
        (b"\x81\xa1m\x82\x01\x02\x01\x03", {"m": {1: 3}}),  # nested
        (b"\x82\x91\x01\xa1x\x91\x01\xa1y", {(1,): "y"}),  # repeated array keys
        (b"\x82\xc4\x01a\x01\xa1a\x02", {"a": 2}),  # bin and str keys that are equal
        # two keys that are the same datetime once truncated to microseconds
        (
            b"\x82" + TIMESTAMP_8 + b"\x01" + b"\xd7\xff" + struct.pack(">Q", 1 << 34) + b"\x02",
            {datetime.datetime(1970, 1, 1, tzinfo=UTC): 2},
        ),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_repeated_map_key_keeps_the_last_value(backend, data, expected):
    status, value = with_backend(backend, lambda: content.msgpack_unpackb(data))
    assert status == "ok" and canonical(value) == canonical(expected)


def test_json_keeps_the_last_value_of_a_repeated_key_too():
    assert content.decode_body(b'{"a": 1, "b": 2, "a": 3}', "application/json") == {
        "a": 3,
        "b": 2,
    }
