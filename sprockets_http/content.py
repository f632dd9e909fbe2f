"""Content types, request body encoding and response body decoding.

Everything that knows about JSON and msgpack lives here, so the mixin and the
response object only ask two questions: "encode this value for this
Content-Type" and "decode these bytes that came with this Content-Type".

msgpack is handled by the ``msgpack`` C extension when it is importable (the
``fast`` extra) and by ``u-msgpack-python`` otherwise. Both produce the same
values: see :func:`msgpack_unpackb`.
"""

from __future__ import annotations

import base64
import collections.abc
import datetime
import functools
import json
import struct
import uuid
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Tuple, Union

import umsgpack
from ietfparse import datastructures

from sprockets_http._headers import media_format, parse_content_type

try:  # The ``fast`` extra: msgpack's C extension.
    import msgpack as _msgpack
except ImportError:  # pragma: no cover - depends on the install
    _msgpack = None

__all__ = [
    "AVAILABLE_CONTENT_TYPES",
    "CONTENT_TYPE_JSON",
    "CONTENT_TYPE_SUFFIX_JSON",
    "CONTENT_TYPE_SUFFIX_MSGPACK",
    "CONTENT_TYPE_MSGPACK",
    "DEFAULT_ACCEPT",
    "BodyDecodeError",
    "MediaType",
    "decode_body",
    "encode_body",
    "media_type",
    "msgpack_backend",
]

#: ``application/json``, as an :class:`ietfparse.datastructures.ContentType`.
CONTENT_TYPE_JSON = datastructures.ContentType("application", "json")
#: ``application/msgpack``, as an :class:`ietfparse.datastructures.ContentType`;
#: the default request content type of :meth:`HTTPClientMixin.http_fetch`.
CONTENT_TYPE_MSGPACK = datastructures.ContentType("application", "msgpack")
#: The content types the mixin encodes and decodes, in the order of
#: ``Accept``: ``[CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK]`` (2.6.0's name).
AVAILABLE_CONTENT_TYPES = [CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK]
#: The structured-syntax suffix of JSON types, as ietfparse's
#: ``ContentType.content_suffix`` gives it (``application/problem+json``).
CONTENT_TYPE_SUFFIX_JSON = "json"
#: The structured-syntax suffix of msgpack types (``application/vnd.x+msgpack``).
CONTENT_TYPE_SUFFIX_MSGPACK = "msgpack"
#: The default ``Accept`` request header.
DEFAULT_ACCEPT = ", ".join(str(content_type) for content_type in AVAILABLE_CONTENT_TYPES)

ContentTypeLike = Union[datastructures.ContentType, str]


class BodyDecodeError(ValueError):
    """A response body does not decode as the Content-Type it declares.

    Raised by :attr:`sprockets_http.HTTPResponse.body`. The bytes are not lost:
    they stay in ``response.raw.body``.

    :ivar content_type: the Content-Type header value the body declared
    :ivar cause: the decoder's own exception
    """

    def __init__(self, content_type: str, cause: BaseException) -> None:
        self.content_type = content_type
        self.cause = cause
        super().__init__(f"response body is not valid {content_type}: {cause}")


class MediaType(NamedTuple):
    """The parts of a Content-Type header that decide how a body is handled."""

    #: ``"json"``, ``"msgpack"`` or ``None`` for any other type
    format: Optional[str]
    #: the ``charset`` parameter, lower-cased, or ``None``
    charset: Optional[str]


_UNKNOWN = MediaType(None, None)


@functools.lru_cache(maxsize=256)
def _media_type_of_text(value: str) -> MediaType:
    # Services send the same few Content-Type values over and over, so the
    # parse is cached per distinct header value.
    return MediaType(*parse_content_type(value))


def media_type(content_type: Optional[ContentTypeLike]) -> MediaType:
    """Classify a Content-Type (a header string or a parsed ContentType).

    Never raises: anything unparseable is an unknown type. The grammar, and
    what is made of a malformed header, are those of
    ``sprockets_http._headers.parse_content_type``.
    """
    if content_type is None:
        return _UNKNOWN
    if isinstance(content_type, datastructures.ContentType):
        subtype = content_type.content_subtype
        if content_type.content_suffix:
            subtype = f"{subtype}+{content_type.content_suffix}"
        charset = content_type.parameters.get("charset")
        return MediaType(
            media_format(content_type.content_type.lower(), subtype.lower()),
            charset.lower() if charset else None,
        )
    return _media_type_of_text(str(content_type))


# --- encoding -------------------------------------------------------------


def _common_value(value: Any) -> Any:
    """Turn a value services commonly send into one both formats carry.

    As in 2.6.0: any :class:`~collections.abc.Mapping` becomes a dict, any
    :class:`~collections.abc.Set` or :class:`~collections.abc.Sequence`
    (a tuple, a ``deque``, a ``range``, ``dict.keys()``) a list, and any
    object with an ``isoformat()`` method (dates, times, ``arrow.Arrow``)
    its text; a :class:`uuid.UUID` becomes its string. Returns
    ``NotImplemented`` for values nobody knows how to encode.
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    if isinstance(value, collections.abc.Mapping):
        return dict(value)
    if isinstance(value, (collections.abc.Set, collections.abc.Sequence)) and not isinstance(
        value, (str, bytes, bytearray, memoryview)
    ):
        return list(value)
    return NotImplemented


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    converted = _common_value(value)
    if converted is NotImplemented:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    return converted


def _msgpack_default(value: Any) -> Any:
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    converted = _common_value(value)
    if converted is NotImplemented:
        raise TypeError(f"Object of type {type(value).__name__} is not msgpack serializable")
    return converted


def _prepare_for_umsgpack(value: Any) -> Any:
    # u-msgpack-python has no ``default`` hook (and packs datetime as a
    # timestamp extension, where we promise isoformat text), so walk the value.
    if isinstance(value, dict):
        return {_prepare_key(k): _prepare_for_umsgpack(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_prepare_for_umsgpack(v) for v in value]
    if value is None or isinstance(value, (str, bytes, bool, int, float)):
        return value
    converted = _msgpack_default(value)
    if converted is value:  # bytes from a bytes subclass, say: no progress
        raise TypeError(f"Object of type {type(value).__name__} is not msgpack serializable")
    return _prepare_for_umsgpack(converted)


def _prepare_key(key: Any) -> Any:
    # A key must stay hashable: tuples and frozensets become tuples (packed as
    # arrays, as the msgpack C extension packs them), not lists.
    if isinstance(key, (tuple, frozenset)):
        return tuple(_prepare_key(item) for item in key)
    return _prepare_for_umsgpack(key)


def json_dumps(value: Any) -> bytes:
    """Encode *value* as compact UTF-8 JSON (see :func:`encode_body`)."""
    # allow_nan=False: NaN and Infinity are not JSON; a ValueError names them.
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
    ).encode("utf-8")


def _pack_umsgpack(value: Any) -> bytes:
    return umsgpack.packb(_prepare_for_umsgpack(value))  # type: ignore[no-any-return]


def _pack_c(value: Any) -> bytes:
    assert _msgpack is not None
    packed: bytes = _msgpack.packb(value, default=_msgpack_default, use_bin_type=True)
    return packed


def msgpack_packb(value: Any) -> bytes:
    """Encode *value* as msgpack (see :func:`encode_body`)."""
    return _pack(value)


def encode_body(value: Any, content_type: Optional[ContentTypeLike]) -> bytes:
    """Encode a dict or list request body for *content_type*.

    JSON for ``application/json`` and any ``+json`` type, msgpack for
    ``application/msgpack`` and any ``+msgpack`` type. :class:`uuid.UUID`
    becomes its string, anything with an ``isoformat()`` method (dates, times)
    its text, bytes-like values base64 text in JSON and bin in msgpack, any
    other mapping an object, and tuples, sets, ``deque``, ``range`` and other
    sequences and sets arrays.

    :raises ValueError: for any other content type, or a value that cannot be
        encoded (the message names the type)
    """
    fmt = media_type(content_type).format
    try:
        if fmt == "json":
            return json_dumps(value)
        if fmt == "msgpack":
            return msgpack_packb(value)
    except RecursionError as error:  # nested too deep, or circular
        raise ValueError(
            f"cannot serialize the request body as {content_type}: it is nested too deeply "
            "(or refers to itself)"
        ) from error
    except (TypeError, ValueError, OverflowError, umsgpack.PackException) as error:
        raise ValueError(f"cannot serialize the request body as {content_type}: {error}") from error
    raise ValueError(
        f"cannot serialize a {type(value).__name__} request body for Content-Type "
        f"{content_type!s}: only JSON and msgpack types are supported"
    )


# --- decoding -------------------------------------------------------------
#
# Two decoders: msgpack's C extension (the ``fast`` extra) and this module's
# own, in Python (_unpack_python; u-msgpack-python only encodes). They are
# made to agree (tests/test_msgpack_parity.py runs both, on generated
# documents). Where the libraries differ on their own, the rule chosen here is:
#
# * bytes after the document, and truncated input: ValueError (msgpack's
#   behaviour; umsgpack alone ignores trailing bytes);
# * bin values: str when they are valid UTF-8 (as 2.6.0 read them), bytes
#   otherwise;
# * a map key that is an array: a tuple, nested arrays too (umsgpack's
#   behaviour; msgpack alone raises "unhashable type");
# * a map key that is a map: ValueError (umsgpack's behaviour);
# * the same key twice in a map: the last value wins, as with JSON (the json
#   module's behaviour and msgpack's; umsgpack alone raises). One rule for
#   the three formats, and the one that costs nothing on the common path;
# * timestamps (extension -1, 4, 8 or 12 bytes): an aware UTC
#   datetime.datetime, nanoseconds truncated to microseconds; more than
#   999,999,999 nanoseconds is ValueError (msgpack 1.2's behaviour, enforced
#   here with every msgpack release: see _unpack_c_mapped); other extension types:
#   umsgpack.Ext, whatever umsgpack classes are registered.
#
# The one difference left is nesting depth: the Python decoder recurses and
# fails (RecursionError, so ValueError) a few hundred levels deep, msgpack
# at 1024.

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _datetime_of(seconds: int, nanoseconds: int) -> datetime.datetime:
    """A timestamp as an aware UTC datetime, nanoseconds truncated (both backends)."""
    if not 0 <= nanoseconds <= 999_999_999:
        raise ValueError(f"invalid timestamp: {nanoseconds} nanoseconds")
    return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanoseconds // 1000)


def _timestamp(ext: umsgpack.Ext) -> datetime.datetime:
    """Decode the msgpack timestamp extension (for u-msgpack-python)."""
    data = ext.data
    if len(data) == 4:
        seconds, nanoseconds = int.from_bytes(data, "big"), 0
    elif len(data) == 8:
        packed = int.from_bytes(data, "big")
        seconds, nanoseconds = packed & 0x3_FFFF_FFFF, packed >> 34
    elif len(data) == 12:
        nanoseconds = int.from_bytes(data[:4], "big")
        seconds = int.from_bytes(data[4:], "big", signed=True)
    else:
        raise ValueError(f"invalid timestamp data (length {len(data)})")
    return _datetime_of(seconds, nanoseconds)


# msgpack's bin 8/16/32 markers. When none of these bytes appears in a body,
# it holds no bin values and the UTF-8 walk below is skipped.
_BIN_8, _BIN_16, _BIN_32 = b"\xc4", b"\xc5", b"\xc6"
# msgpack refuses a bin value longer than max_bin_len, where -1 means "as long
# as the input": -2 refuses them all, empty ones included.
_NO_BIN = -2
# The types _bin_to_str has to look into (decoders return exact types).
_WALKED: FrozenSet[type] = frozenset({bytes, list, dict, tuple})


def _may_hold_bin(data: bytes) -> bool:
    return _BIN_8 in data or _BIN_16 in data or _BIN_32 in data


def _bin_to_str(value: Any) -> Any:
    """Decode bin values that are valid UTF-8 to str, recursively.

    Changes freshly decoded lists and dicts in place; the ``isdisjoint``
    checks skip, at C speed, containers with nothing to convert.
    """
    kind = type(value)
    if kind is bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if kind is list:
        if not _WALKED.isdisjoint(map(type, value)):
            for index, item in enumerate(value):
                if type(item) in _WALKED:
                    value[index] = _bin_to_str(item)
        return value
    if kind is dict:
        if not _WALKED.isdisjoint(map(type, value)):  # a key to convert: rebuild
            return {_bin_to_str(k): _bin_to_str(v) for k, v in value.items()}
        if not _WALKED.isdisjoint(map(type, value.values())):
            for key, item in value.items():
                if type(item) in _WALKED:
                    value[key] = _bin_to_str(item)
        return value
    if kind is tuple:  # map keys that were arrays
        return tuple(_bin_to_str(v) for v in value)
    return value


_unpack_from = struct.unpack_from


def _unpack_python(data: bytes) -> Any:
    """Decode one msgpack document by the rules above, in Python.

    The default install's decoder (u-msgpack-python still encodes): written
    for speed, since every body goes through it. It reads the bytes in place,
    tests the common type bytes first, and turns bin values into str as it
    reads them, where decoding with u-msgpack-python meant walking the
    decoded document again (about 10% of the decode). Twice as fast as
    u-msgpack-python on typical documents. Nesting is limited by Python's
    recursion limit (a few hundred levels); a document cut short or with
    bytes after it is refused.
    """
    position = 0

    def value() -> Any:
        nonlocal position
        code = data[position]
        position += 1
        if code <= 0x7F:  # positive fixint
            return code
        if code >= 0xA0:
            if code <= 0xBF:  # fixstr
                start = position
                position += code & 0x1F
                return data[start:position].decode("utf-8")
            if code >= 0xE0:  # negative fixint
                return code - 0x100
            if code == 0xCB:
                position += 8
                return _unpack_from(">d", data, position - 8)[0]
            if code == 0xC0:
                return None
            if code == 0xC3:
                return True
            if code == 0xC2:
                return False
            if code == 0xCC:
                position += 1
                return data[position - 1]
            if code == 0xCD:
                position += 2
                return _unpack_from(">H", data, position - 2)[0]
            if code == 0xCE:
                position += 4
                return _unpack_from(">I", data, position - 4)[0]
            if code == 0xD9:
                start = position + 1
                position = start + data[start - 1]
                return data[start:position].decode("utf-8")
            return rare(code)
        if code <= 0x8F:  # fixmap
            return mapping(code & 0x0F)
        return items(code & 0x0F)  # fixarray (0x90-0x9f)

    def items(count: int) -> List[Any]:
        result: List[Any] = []
        append = result.append
        for _ in range(count):
            append(value())
        return result

    def mapping(count: int) -> Dict[Any, Any]:
        result: Dict[Any, Any] = {}
        for _ in range(count):
            key = value()
            item = value()
            try:
                result[key] = item
            except TypeError:  # an array key (a tuple, nested too), or a map
                result[_map_key(key)] = item
        return result

    def sized(width: int) -> int:
        nonlocal position
        position += width
        if width == 1:
            return data[position - 1]
        return int(_unpack_from(">H" if width == 2 else ">I", data, position - width)[0])

    def take(size: int) -> bytes:
        nonlocal position
        start = position
        position += size
        if position > len(data):
            raise ValueError("the msgpack document is cut short")
        return data[start:position]

    def extension(size: int) -> Any:
        nonlocal position
        position += 1
        code = _unpack_from(">b", data, position - 1)[0]
        ext = umsgpack.Ext(code, take(size))
        return _timestamp(ext) if code == -1 else ext

    def rare(code: int) -> Any:
        nonlocal position
        if code in _NUMBERS:
            fmt, width = _NUMBERS[code]
            position += width
            return _unpack_from(fmt, data, position - width)[0]
        if code in _SIZED:
            kind, width = _SIZED[code]
            size = sized(width)
            if kind == "str":
                return take(size).decode("utf-8")
            if kind == "bin":
                raw = take(size)
                try:
                    return raw.decode("utf-8")
                except UnicodeDecodeError:
                    return raw
            if kind == "array":
                return items(size)
            if kind == "map":
                return mapping(size)
            return extension(size)
        if code in _FIXED_EXT:
            return extension(_FIXED_EXT[code])
        raise ValueError(f"invalid msgpack type byte 0x{code:02x}")

    result = value()
    if position != len(data):
        raise ValueError(
            "extra data after the msgpack document"
            if position < len(data)
            else "the msgpack document is cut short"
        )
    return result


def _map_key(key: Any) -> Any:
    if type(key) is list:
        return _deep_tuple(key)
    raise ValueError(f"unhashable map key: {key!r}")


# type byte: (kind, bytes of its length)
_SIZED = {
    0xC4: ("bin", 1), 0xC5: ("bin", 2), 0xC6: ("bin", 4),
    0xC7: ("ext", 1), 0xC8: ("ext", 2), 0xC9: ("ext", 4),
    0xDA: ("str", 2), 0xDB: ("str", 4),
    0xDC: ("array", 2), 0xDD: ("array", 4),
    0xDE: ("map", 2), 0xDF: ("map", 4),
}  # fmt: skip
_FIXED_EXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
# type byte: (struct format, width)
_NUMBERS = {
    0xCA: (">f", 4), 0xCF: (">Q", 8),
    0xD0: (">b", 1), 0xD1: (">h", 2), 0xD2: (">i", 4), 0xD3: (">q", 8),
}  # fmt: skip


def _deep_tuple(value: Any) -> Any:
    if type(value) is list:
        return tuple(_deep_tuple(item) for item in value)
    return value


def _map_from_pairs(pairs: List[Tuple[Any, Any]]) -> Dict[Any, Any]:
    """Build a map: array keys become tuples, a map as a key is an error, and
    of a repeated key the last value wins."""
    try:
        return dict(pairs)
    except TypeError:  # an array (or map) key: see below
        pass
    mapping = {}
    for key, item in pairs:
        if type(key) is list:
            key = _deep_tuple(key)
        elif not isinstance(key, collections.abc.Hashable):
            raise ValueError(f"unhashable map key: {key!r}")
        mapping[key] = item
    return mapping


def _c_ext_hook(code: int, data: bytes) -> Any:
    return umsgpack.Ext(code, data)


# msgpack's own datetimes (timestamp=3) are not exact in every release it
# supports: 1.0.x goes through a float (rounding to the nearest microsecond,
# and off by microseconds past 2**33 seconds), and releases before 1.2.4 or so
# accept 10**9 nanoseconds or more (a second too many). Its Timestamp objects
# (timestamp=0) refuse those in every release, so with such a release a
# document that may hold nanoseconds is decoded into them, and they become
# datetimes here as the containers holding them are built. Only the 8- and
# 12-byte forms carry nanoseconds; their ext headers end in these bytes
# (fixext 8, or ext 8/16/32 with a length of 8 or 12, then the type -1).
_NANOSECOND_TIMESTAMP_MARKERS = (b"\xd7\xff", b"\x08\xff", b"\x0c\xff")


def _may_hold_nanoseconds(data: bytes) -> bool:
    return any(marker in data for marker in _NANOSECOND_TIMESTAMP_MARKERS)


def _c_datetimes_are_exact() -> bool:
    """Whether this msgpack's timestamp=3 gives what :func:`_datetime_of` gives."""
    assert _msgpack is not None

    def decode(packed: int) -> Any:
        data = b"\xd7\xff" + packed.to_bytes(8, "big")
        return _msgpack.unpackb(data, timestamp=3)

    try:
        decode(1_000_000_000 << 34)
    except ValueError:
        pass
    else:
        return False
    largest = 999_999_999 << 34 | (2**34 - 1)
    return bool(
        decode(501 << 34) == _datetime_of(0, 501)
        and decode(largest) == _datetime_of(2**34 - 1, 999_999_999)
    )


def _exact_datetime(value: Any) -> Any:
    if _msgpack is not None and type(value) is _msgpack.Timestamp:
        return _datetime_of(value.seconds, value.nanoseconds)
    return value


def _list_with_datetimes(items: List[Any]) -> List[Any]:
    return [_exact_datetime(item) for item in items]


def _map_with_datetimes(pairs: List[Tuple[Any, Any]]) -> Dict[Any, Any]:
    return _map_from_pairs([(_exact_datetime(k), _exact_datetime(v)) for k, v in pairs])


# What every decode with the C extension asks of it, beyond its defaults.
_C_OPTIONS: Dict[str, Any] = {
    "raw": False,
    "strict_map_key": False,
    "ext_hook": _c_ext_hook,
    "use_list": True,
    "unicode_errors": "strict",
}


def _unpack_c(data: bytes) -> Any:
    if _C_DATETIMES_ARE_EXACT or not _may_hold_nanoseconds(data):
        # msgpack's own maps, at C speed: nothing in Python per map or per
        # value. It refuses what the rules above handle differently (bin
        # values, array keys) and what is invalid; the mapped decode below
        # handles those and reports the errors.
        try:
            return _msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=False,
                timestamp=3,
                ext_hook=_c_ext_hook,
                max_bin_len=_NO_BIN,
            )
        except Exception:  # noqa: BLE001,S110 - decided again, and reported, below
            pass
    return _unpack_c_mapped(data)


def _unpack_c_mapped(data: bytes) -> Any:
    """The C extension with a Python hook per map (array keys become tuples),
    and bin values turned into str after."""
    assert _msgpack is not None
    if not _C_DATETIMES_ARE_EXACT and _may_hold_nanoseconds(data):
        value = _exact_datetime(
            _msgpack.unpackb(
                data,
                timestamp=0,
                object_pairs_hook=_map_with_datetimes,
                list_hook=_list_with_datetimes,
                **_C_OPTIONS,
            )
        )
    else:
        value = _msgpack.unpackb(
            data, timestamp=3, object_pairs_hook=_map_from_pairs, **_C_OPTIONS
        )
    return _bin_to_str(value) if _may_hold_bin(data) else value


_C_DATETIMES_ARE_EXACT = _msgpack is not None and _c_datetimes_are_exact()

_pack: Callable[[Any], bytes] = _pack_umsgpack
_unpack: Callable[[bytes], Any] = _unpack_python


def msgpack_backend() -> str:
    """Name the msgpack implementation in use: ``"msgpack"`` (the ``fast``
    extra's C extension) or ``"umsgpack"`` (the default install: bodies are
    encoded by u-msgpack-python and decoded by this module's own decoder)."""
    return "msgpack" if _unpack is _unpack_c else "umsgpack"


def _use_backend(name: Optional[str]) -> None:
    """Select the msgpack implementation, for benchmarks and tests.

    ``"msgpack"`` (the C extension; :exc:`RuntimeError` when it is not
    importable), ``"umsgpack"``, or ``None`` for the default: msgpack when
    importable. Process-wide; not part of the public API.
    """
    global _pack, _unpack
    if name is None:
        name = "msgpack" if _msgpack is not None else "umsgpack"
    if name == "msgpack":
        if _msgpack is None:
            raise RuntimeError("msgpack (the fast extra) is not installed")
        _pack, _unpack = _pack_c, _unpack_c
    elif name == "umsgpack":
        _pack, _unpack = _pack_umsgpack, _unpack_python
    else:
        raise ValueError(f"unknown msgpack backend {name!r}: use 'msgpack' or 'umsgpack'")


_use_backend(None)


def msgpack_unpackb(data: bytes) -> Any:
    """Decode one msgpack document.

    str values become str; bin values become str when they are valid UTF-8
    and stay bytes otherwise; timestamps become aware :class:`datetime.datetime`
    values; other extension types become :class:`umsgpack.Ext`; a map key that
    is an array becomes a tuple; of a key a map repeats, the last value is
    kept (as with JSON). The result is the same with either backend (see the
    comment above ``_timestamp`` for the rules chosen where the two libraries
    differ, and ``docs/performance.rst``).

    :raises ValueError: when *data* is not exactly one valid msgpack document,
        or a map has a map as a key
    """
    try:
        return _unpack(data)
    except Exception as error:  # noqa: BLE001 - each backend has its own errors
        raise ValueError(str(error) or type(error).__name__) from error


def decode_body(body: bytes, content_type: Optional[str]) -> Any:
    """Decode a response body by its Content-Type header value.

    JSON (``application/json`` or ``+json``, honouring ``charset``, UTF-8 by
    default) and msgpack (``application/msgpack`` or ``+msgpack``) are decoded;
    any other or no Content-Type returns *body* itself.

    :raises BodyDecodeError: when the body is not valid for its declared type
    """
    kind = media_type(content_type)
    if kind.format is None:
        return body
    try:
        if kind.format == "json":
            return json.loads(body.decode(kind.charset or "utf-8"))
        return msgpack_unpackb(body)
    except (ValueError, LookupError, RecursionError) as error:
        # LookupError: an unknown charset; RecursionError: absurd nesting.
        raise BodyDecodeError(str(content_type), error) from error
