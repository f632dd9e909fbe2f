"""What the command line prints, as pure functions of what a call returned.

Nothing here writes to a stream or looks at a terminal. JSON documents and
the ``-i`` head are produced as *tokens*, ``(kind, text)`` pairs whose texts
joined are the plain output; :mod:`sprockets_http.cli.highlight` colours the
same tokens for a terminal, so plain and coloured output never differ in
anything but colour.

The JSON renderer walks a document with an explicit stack, never by
recursion: a body nested 100,000 deep renders like any other. A document
nested more than :data:`MAX_INDENTED_DEPTH` levels is printed on one line
(indented, its text would grow with the square of its depth).
"""

from __future__ import annotations

import base64
import json
import json.encoder
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import umsgpack

from sprockets_http import content

__all__ = [
    "MAX_INDENTED_DEPTH",
    "AttemptRecord",
    "Body",
    "Token",
    "attempt_rows",
    "attempt_table",
    "head_tokens",
    "json_depth",
    "json_tokens",
    "render_body",
    "render_json",
    "text",
]

#: ``(kind, text)``: one piece of output; *kind* is one of the names below.
Token = Tuple[str, str]

PUNCTUATION = "punctuation"
WHITESPACE = "whitespace"
KEY = "key"
STRING = "string"
NUMBER = "number"
LITERAL = "literal"  # true, false, null
PROTOCOL = "protocol"
STATUS_OK = "status-ok"  # the status line of a 1xx-3xx response
STATUS_ERROR = "status-error"  # of a 4xx or 5xx response
HEADER_NAME = "header-name"
HEADER_VALUE = "header-value"

#: Deeper documents are printed on one line rather than indented.
MAX_INDENTED_DEPTH = 100


def text(tokens: Iterable[Token]) -> str:
    """The plain text of *tokens*."""
    return "".join(piece for _kind, piece in tokens)


# --- JSON ---------------------------------------------------------------------


# A JSON string as json.dumps(text, ensure_ascii=False) writes it (the C
# function, without json.dumps's cost per call).
_quote: Callable[[str], str] = json.encoder.encode_basestring


def _base64(data: Any) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def _float_text(value: float) -> str:
    # As the json module writes floats (msgpack can carry NaN and infinities).
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == float("-inf"):
        return "-Infinity"
    return float.__repr__(value)


class _Container(NamedTuple):
    opening: str
    closing: str
    is_map: bool
    entries: Union[Sequence[Any], Any]  # a sequence, a set or a dict's items
    size: int


def _container(value: Any) -> Optional[_Container]:
    """*value* as a JSON array or object, or None for a scalar."""
    if isinstance(value, dict):
        return _Container("{", "}", True, value.items(), len(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return _Container("[", "]", False, value, len(value))
    if isinstance(value, umsgpack.Ext):
        entries = (("ext_type", value.type), ("data", _base64(value.data)))
        return _Container("{", "}", True, entries, 2)
    return None


def _scalar(value: Any) -> Token:
    """A JSON scalar for *value*: bytes become base64 text, dates their
    ``isoformat()``, anything else unknown its ``str()``."""
    if isinstance(value, str):
        return STRING, _quote(value)
    if value is None:
        return LITERAL, "null"
    if isinstance(value, bool):
        return LITERAL, "true" if value else "false"
    if isinstance(value, int):
        return NUMBER, int.__repr__(value)
    if isinstance(value, float):
        return NUMBER, _float_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return STRING, _quote(_base64(value))
    if hasattr(value, "isoformat"):
        return STRING, _quote(str(value.isoformat()))
    return STRING, _quote(str(value))


# The types decoding produces most, by exact type: no isinstance chain.
_FAST_SCALARS: Dict[type, Callable[[Any], Token]] = {
    str: lambda value: (STRING, _quote(value)),
    int: lambda value: (NUMBER, int.__repr__(value)),
    float: lambda value: (NUMBER, _float_text(value)),
    bool: lambda value: (LITERAL, "true" if value else "false"),
    type(None): lambda value: (LITERAL, "null"),
}


def _key(key: Any) -> str:
    """A map key as a JSON string: msgpack maps may have number, bytes or
    array keys."""
    if isinstance(key, str):
        name = key
    elif key is None or isinstance(key, (bool, int, float)):
        name = _scalar(key)[1]  # null, true, 12, 1.5: as the json module does
    elif isinstance(key, (bytes, bytearray, memoryview)):
        name = _base64(key)
    else:  # an array key: its JSON text
        name = render_json(key, indent=None)
    return _quote(name)


class _Frame:
    __slots__ = ("closing", "entries", "is_map", "started")

    def __init__(self, found: _Container) -> None:
        self.closing = found.closing
        self.is_map = found.is_map
        self.entries: Iterator[Any] = iter(found.entries)
        self.started = False


class _TooDeep(Exception):
    """The document nests deeper than the limit given."""


def _open(value: Any, stack: List[_Frame], max_depth: Optional[int]) -> Token:
    """The first token of *value*; a non-empty container is pushed on *stack*."""
    fast = _FAST_SCALARS.get(type(value))
    if fast is not None:
        return fast(value)
    found = _container(value)
    if found is None:
        return _scalar(value)
    if not found.size:
        return PUNCTUATION, found.opening + found.closing
    if max_depth is not None and len(stack) >= max_depth:
        raise _TooDeep
    stack.append(_Frame(found))
    return PUNCTUATION, found.opening


_END: Any = object()


def _json_tokens(value: Any, indent: Optional[int], max_depth: Optional[int]) -> List[Token]:
    """:func:`json_tokens`; raises :exc:`_TooDeep` past *max_depth* levels."""
    tokens: List[Token] = []
    append = tokens.append
    separator = "," if indent is not None else ", "
    newlines: List[str] = []  # "\n" and the indentation, for each depth
    stack: List[_Frame] = []
    append(_open(value, stack, max_depth))
    while stack:
        frame = stack[-1]
        entry: Any = next(frame.entries, _END)
        if entry is _END:
            stack.pop()
            if indent is not None:
                append((WHITESPACE, newlines[len(stack)]))
            append((PUNCTUATION, frame.closing))
            continue
        if frame.started:
            append((PUNCTUATION, separator))
        frame.started = True
        if indent is not None:
            depth = len(stack)
            while len(newlines) <= depth:
                newlines.append("\n" + " " * (indent * len(newlines)))
            append((WHITESPACE, newlines[depth]))
        if frame.is_map:
            key, entry = entry
            append((KEY, _key(key)))
            append((PUNCTUATION, ": "))
        append(_open(entry, stack, max_depth))
    return tokens


def json_tokens(value: Any, indent: Optional[int] = 2) -> List[Token]:
    """*value* as JSON tokens: indented by *indent* spaces per level as
    ``json.dumps(value, indent=2)`` writes it, or on one line when *indent*
    is None. Iterative: any depth works."""
    return _json_tokens(value, indent, None)


def render_json(value: Any, indent: Optional[int] = 2) -> str:
    """A decoded JSON or msgpack value as JSON text (see :func:`json_tokens`):
    bytes inside become base64 text, dates their ``isoformat()``, other
    msgpack extension types ``{"ext_type": N, "data": BASE64}``, map keys
    that are not strings their JSON text."""
    return text(json_tokens(value, indent))


def json_depth(value: Any) -> int:
    """How deep arrays and objects nest in *value* (0 for a scalar)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        found = _container(item)
        if found is None:
            continue
        deepest = max(deepest, depth)
        children = (v for _, v in found.entries) if found.is_map else iter(found.entries)
        stack.extend((child, depth + 1) for child in children)
    return deepest


# --- bodies -------------------------------------------------------------------


class Body(NamedTuple):
    """A response body as it is to be printed: exactly one of
    :attr:`tokens`, :attr:`text` and :attr:`data` is set."""

    #: A JSON or msgpack document, as JSON tokens.
    tokens: Optional[List[Token]]
    #: Any other body that decodes as text.
    text: Optional[str]
    #: A body that is not text: its bytes.
    data: Optional[bytes]
    #: The media type, lower case, without parameters (``"text/html"``), or "".
    media_type: str
    #: Notes for standard error: why the body is shown as it is.
    notes: Tuple[str, ...] = ()


def render_body(body: Optional[bytes], content_type: Optional[str]) -> Optional[Body]:
    """What to print for a response body, or None when it is empty.

    A JSON or msgpack body becomes JSON tokens, indented (whatever the
    document: a string body is a JSON string), on one line when nested more
    than :data:`MAX_INDENTED_DEPTH` deep. Any other body is text when it
    decodes with its charset (UTF-8 when none is given), else bytes. A body
    that is not valid for its declared type is shown as received, with a
    note.
    """
    if not body:
        return None
    kind = content.media_type(content_type)
    media = (content_type or "").partition(";")[0].strip().lower()
    if kind.format is not None:
        try:
            value = content.decode_body(body, content_type)
        except content.BodyDecodeError as error:
            shown = _text_or_bytes(body, kind.charset, media)
            if _too_deep(error):
                name = "JSON" if kind.format == "json" else "msgpack"
                note = f"the {name} body is nested too deep to decode; shown as received"
            else:
                note = f"{error}; shown as received"
            return shown._replace(notes=(note,))
        try:
            return Body(_json_tokens(value, 2, MAX_INDENTED_DEPTH), None, None, media)
        except _TooDeep:
            note = f"the body is nested {json_depth(value)} levels deep: shown on one line"
            return Body(json_tokens(value, None), None, None, media, (note,))
    return _text_or_bytes(body, kind.charset, media)


def _too_deep(error: BaseException) -> bool:
    """Whether decoding failed only for depth: json and umsgpack raise
    RecursionError, msgpack's C extension its StackError."""
    seen = 0
    cause: Optional[BaseException] = error
    while cause is not None and seen < 10:
        if isinstance(cause, RecursionError) or type(cause).__name__ == "StackError":
            return True
        cause = getattr(cause, "cause", None) or cause.__cause__
        seen += 1
    return False


def _text_or_bytes(data: bytes, charset: Optional[str], media: str) -> Body:
    for encoding in (charset, "utf-8") if charset else ("utf-8",):
        try:
            return Body(None, data.decode(encoding), None, media)
        except (UnicodeDecodeError, LookupError):
            continue
    return Body(None, None, data, media)


# --- the -i head --------------------------------------------------------------


def head_tokens(
    code: int, reason: Optional[str], headers: Iterable[Tuple[str, str]]
) -> List[Token]:
    """The status line and the headers of a response, each line ending with
    a newline. Tornado's clients speak HTTP/1.1 and do not report the
    version the server answered with, so the line says ``HTTP/1.1``."""
    status = STATUS_OK if code < 400 else STATUS_ERROR
    tokens: List[Token] = [
        (PROTOCOL, "HTTP/1.1"),
        (WHITESPACE, " "),
        (status, str(code)),
    ]
    if reason:
        tokens += [(WHITESPACE, " "), (status, reason)]
    tokens.append((WHITESPACE, "\n"))
    for name, value in headers:
        tokens += [
            (HEADER_NAME, name),
            (PUNCTUATION, ":"),
            (WHITESPACE, " "),
            (HEADER_VALUE, value),
            (WHITESPACE, "\n"),
        ]
    return tokens


# --- the attempts ---------------------------------------------------------------


class AttemptRecord(NamedTuple):
    """One attempt of a call, as the command reports it."""

    #: 1 for the first attempt.
    number: int
    #: ``"503 Service Unavailable"``, or the exception's type and text with
    #: the call's credentials removed.
    outcome: str
    #: Seconds the attempt took, or None when unknown.
    duration: Optional[float]
    #: Seconds waited before the next attempt, or None when none followed.
    wait: Optional[float]


def attempt_rows(records: Sequence[AttemptRecord]) -> List[str]:
    """One line per attempt, as the demo prints them: number, status or
    exception, duration, wait before the next."""
    rows = []
    for record in records:
        outcome = record.outcome
        if record.duration:
            outcome += f" ({record.duration * 1000:.1f} ms)"
        tail = f", then waited {record.wait:.1f} s" if record.wait is not None else ""
        rows.append(f"attempt {record.number} of {len(records)}: {outcome}{tail}")
    return rows


def _seconds(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def attempt_table(records: Sequence[AttemptRecord]) -> List[str]:
    """The attempts as an aligned table (``-v``): attempt, status or
    exception, duration, and the wait before the next attempt."""
    rows = [("attempt", "status or exception", "duration", "wait before next")]
    for record in records:
        rows.append(
            (
                str(record.number),
                " ".join(record.outcome.split()),
                _seconds(record.duration),
                "-" if record.wait is None else f"{record.wait:.1f} s",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [
        f"{row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
        for row in rows
    ]
