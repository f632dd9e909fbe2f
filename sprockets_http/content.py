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
import datetime
import functools
import json
import uuid
from typing import Any, Callable, NamedTuple, Optional, Union

import umsgpack
from ietfparse import datastructures, headers

try:  # The ``fast`` extra: msgpack's C extension.
    import msgpack as _msgpack
except ImportError:  # pragma: no cover - depends on the install
    _msgpack = None

__all__ = [
    "CONTENT_TYPE_JSON",
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
#: The default ``Accept`` request header.
DEFAULT_ACCEPT = "application/json, application/msgpack"

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


def _format_of(type_: str, subtype: str, suffix: Optional[str]) -> Optional[str]:
    if type_ == "application":
        if subtype in ("json", "msgpack"):
            return subtype
        if suffix in ("json", "msgpack"):
            return suffix
    elif suffix in ("json", "msgpack"):
        return suffix
    return None


@functools.lru_cache(maxsize=256)
def _media_type_of_text(value: str) -> MediaType:
    # Services send the same few Content-Type values over and over, so the
    # parse is cached per distinct header value.
    try:
        parsed = headers.parse_content_type(value)
    except Exception:  # noqa: BLE001 - a server's header must never raise here
        return _lenient_media_type(value)
    return MediaType(
        _format_of(parsed.content_type, parsed.content_subtype, parsed.content_suffix),
        (parsed.parameters.get("charset") or None),
    )


def _lenient_media_type(value: str) -> MediaType:
    """Read the type and charset of a header ietfparse refuses (bad parameters)."""
    main, _, params = value.partition(";")
    type_, _, subtype = main.strip().lower().partition("/")
    subtype, _, suffix = subtype.rpartition("+") if "+" in subtype else (subtype, "", "")
    charset = None
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip('"').lower()
    return MediaType(_format_of(type_, subtype, suffix or None), charset)


def media_type(content_type: Optional[ContentTypeLike]) -> MediaType:
    """Classify a Content-Type (a header string or a parsed ContentType).

    Never raises: anything unparseable is an unknown type.
    """
    if content_type is None:
        return _UNKNOWN
    if isinstance(content_type, datastructures.ContentType):
        return MediaType(
            _format_of(
                content_type.content_type,
                content_type.content_subtype,
                content_type.content_suffix,
            ),
            content_type.parameters.get("charset") or None,
        )
    return _media_type_of_text(str(content_type))


# --- encoding -------------------------------------------------------------


def _common_value(value: Any) -> Any:
    """Turn a value services commonly send into one both formats carry.

    Returns ``NotImplemented`` for values nobody knows how to encode.
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
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
        return {_prepare_for_umsgpack(k): _prepare_for_umsgpack(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_prepare_for_umsgpack(v) for v in value]
    if value is None or isinstance(value, (str, bytes, bool, int, float)):
        return value
    return _prepare_for_umsgpack(_msgpack_default(value))


def json_dumps(value: Any) -> bytes:
    """Encode *value* as compact UTF-8 JSON (see :func:`encode_body`)."""
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode("utf-8")


def msgpack_packb(value: Any) -> bytes:
    """Encode *value* as msgpack (see :func:`encode_body`)."""
    if _msgpack is not None:
        packed: bytes = _msgpack.packb(value, default=_msgpack_default, use_bin_type=True)
        return packed
    return umsgpack.packb(_prepare_for_umsgpack(value))  # type: ignore[no-any-return]


def encode_body(value: Any, content_type: Optional[ContentTypeLike]) -> bytes:
    """Encode a dict or list request body for *content_type*.

    JSON for ``application/json`` and any ``+json`` type, msgpack for
    ``application/msgpack`` and any ``+msgpack`` type. :class:`uuid.UUID`
    becomes its string, dates and times their ``isoformat()`` text, bytes-like
    values base64 text in JSON and bin in msgpack, tuples and sets arrays.

    :raises ValueError: for any other content type, or a value that cannot be
        encoded (the message names the type)
    """
    fmt = media_type(content_type).format
    try:
        if fmt == "json":
            return json_dumps(value)
        if fmt == "msgpack":
            return msgpack_packb(value)
    except (TypeError, OverflowError, umsgpack.PackException) as error:
        raise ValueError(f"cannot serialize the request body as {content_type}: {error}") from error
    raise ValueError(
        f"cannot serialize a {type(value).__name__} request body for Content-Type "
        f"{content_type!s}: only JSON and msgpack types are supported"
    )


# --- decoding -------------------------------------------------------------

# Markers of msgpack's bin 8/16/32 types. When none of these bytes appears in
# a body, it holds no bin values and the UTF-8 walk below can be skipped.
_BIN_MARKERS = (b"\xc4", b"\xc5", b"\xc6")


def _bin_to_str(value: Any) -> Any:
    """Decode bin values that are valid UTF-8 to str, recursively."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, list):
        return [_bin_to_str(v) for v in value]
    if isinstance(value, dict):
        return {_bin_to_str(k): _bin_to_str(v) for k, v in value.items()}
    if isinstance(value, tuple):  # map keys that were arrays
        return tuple(_bin_to_str(v) for v in value)
    return value


def _unpack_umsgpack(data: bytes) -> Any:
    return umsgpack.unpackb(data)


def _unpack_c(data: bytes) -> Any:
    assert _msgpack is not None
    return _msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=False,
        timestamp=3,
        ext_hook=_c_ext_hook,
        use_list=True,
        unicode_errors="strict",
    )


def _c_ext_hook(code: int, data: bytes) -> Any:
    return umsgpack.Ext(code, data)


_unpack: Callable[[bytes], Any] = _unpack_c if _msgpack is not None else _unpack_umsgpack


def msgpack_backend() -> str:
    """Name the msgpack implementation in use: ``"msgpack"`` or ``"umsgpack"``."""
    return "msgpack" if _unpack is _unpack_c else "umsgpack"


def msgpack_unpackb(data: bytes) -> Any:
    """Decode one msgpack document.

    str values become str; bin values become str when they are valid UTF-8
    and stay bytes otherwise; timestamps become aware :class:`datetime.datetime`
    values; other extension types become :class:`umsgpack.Ext`. The result is
    the same with either backend.

    :raises ValueError: when *data* is not exactly one valid msgpack document
    """
    try:
        value = _unpack(data)
    except Exception as error:  # noqa: BLE001 - each backend has its own errors
        raise ValueError(str(error) or type(error).__name__) from error
    if any(marker in data for marker in _BIN_MARKERS):
        value = _bin_to_str(value)
    return value


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
