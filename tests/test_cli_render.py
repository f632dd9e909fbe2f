"""The command line's pure renderer (``sprockets_http.cli.render``), its
colouring (``cli.highlight``) and the colour decision, in-process.

Expected JSON text comes from the standard library's ``json`` module or is
written out, never from the renderer itself.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from typing import Any, Dict, Optional

import pytest
import umsgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from sprockets_http.cli import highlight, render
from sprockets_http.cli.output import wants_colour

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def nested(depth: int) -> Any:
    """A list nested *depth* deep, built without recursion."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


# --- JSON text ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"id": 1, "name": "widget", "price": 9.5, "tags": ["blue", "small"]},
        {"stock": {"warehouse": 12, "backorder": None}, "ok": True, "off": False},
        [],
        {},
        [[], {}, [[]], {"a": {}}],
        "just a string",
        'quotes " and \\ and \n newline and \u2028 and é and 💥',
        42,
        -0.0,
        1e300,
        None,
        [float("nan"), float("inf"), float("-inf")],
        {"1": 1, "": "empty key"},
        [1, [2, [3, [4]]]],
    ],
)
def test_indented_json_is_what_the_json_module_writes(value: Any) -> None:
    assert render.render_json(value) == json.dumps(value, indent=2, ensure_ascii=False)
    assert render.render_json(value, indent=None) == json.dumps(value, ensure_ascii=False)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_value_renders_as_the_json_module_would(value: Any) -> None:
    assert render.render_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_what_msgpack_can_hold_becomes_json() -> None:
    value = {
        1: b"\x00\xff",
        b"\xff": "bytes key",
        (1, 2): "array key",
        None: "null key",
        False: "bool key",  # (True would be the key 1)
        1.5: "float key",
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "ext": umsgpack.Ext(5, b"\x01"),
        "set": frozenset({7}),
        "tuple": (1, "two"),
    }
    assert json.loads(render.render_json(value)) == {
        "1": "AP8=",
        "/w==": "bytes key",
        "[1, 2]": "array key",
        "null": "null key",
        "false": "bool key",
        "1.5": "float key",
        "when": "2024-01-02T03:04:05+00:00",
        "ext": {"ext_type": 5, "data": "AQ=="},
        "set": [7],
        "tuple": [1, "two"],
    }


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ([], 1), ({}, 1), ([[]], 2), ({"a": [{"b": []}]}, 4), (nested(100_000), 100_000)],
)
def test_json_depth(value: Any, depth: int) -> None:
    assert render.json_depth(value) == depth


def test_a_document_100000_deep_renders_without_recursion() -> None:
    depth = 100_000
    assert render.render_json(nested(depth), indent=None) == "[" * depth + "]" * depth
    # indented too, when asked (the command does not: see render_body)
    text = render.render_json(nested(1500))
    lines = text.splitlines()
    assert len(lines) == 2 * 1500 - 1
    assert lines[1499] == " " * (2 * 1499) + "[]"


def test_tokens_say_what_each_piece_is() -> None:
    tokens = list(render.json_tokens({"a": [1, "x", None]}, indent=None))
    assert tokens == [
        (render.PUNCTUATION, "{"),
        (render.KEY, '"a"'),
        (render.PUNCTUATION, ": "),
        (render.PUNCTUATION, "["),
        (render.NUMBER, "1"),
        (render.PUNCTUATION, ", "),
        (render.STRING, '"x"'),
        (render.PUNCTUATION, ", "),
        (render.LITERAL, "null"),
        (render.PUNCTUATION, "]"),
        (render.PUNCTUATION, "}"),
    ]


# --- bodies -------------------------------------------------------------------------

MSGPACK_DOC = {"id": 1, "checksum": b"\xff\x00\x01", "tags": ["blue"]}


def body_text(body: Optional[render.Body]) -> Optional[str]:
    assert body is not None
    return render.text(body.tokens) if body.tokens is not None else body.text


@pytest.mark.parametrize(
    ("data", "content_type", "expected"),
    [
        (
            umsgpack.packb(MSGPACK_DOC),
            "application/msgpack",
            '{\n  "id": 1,\n  "checksum": "/wAB",\n  "tags": [\n    "blue"\n  ]\n}',
        ),
        (b'{"a": [1, 2]}', "application/json", '{\n  "a": [\n    1,\n    2\n  ]\n}'),
        (b'"a string"', "application/problem+json", '"a string"'),
        (umsgpack.packb([1]), "application/vnd.example+msgpack", "[\n  1\n]"),
        ("wörld".encode("latin-1"), "text/plain; charset=latin-1", "wörld"),
        ("wörld".encode(), "text/plain", "wörld"),
        (b"<p>hi</p>", None, "<p>hi</p>"),
    ],
)
def test_bodies_as_text(data: bytes, content_type: Optional[str], expected: str) -> None:
    body = render.render_body(data, content_type)
    assert body_text(body) == expected
    assert body is not None and body.notes == ()


def test_an_empty_body_prints_nothing() -> None:
    assert render.render_body(b"", "application/json") is None
    assert render.render_body(None, "application/json") is None


def test_bytes_that_are_not_text_stay_bytes() -> None:
    body = render.render_body(b"\x89PNG\xff\x00", "image/png")
    assert body is not None
    assert (body.data, body.text, body.tokens, body.media_type) == (
        b"\x89PNG\xff\x00", None, None, "image/png"
    )


def test_an_invalid_json_body_is_shown_as_received_with_a_note() -> None:
    body = render.render_body(b"{not json", "application/json")
    assert body is not None and body.text == "{not json"
    assert len(body.notes) == 1
    assert "not valid application/json" in body.notes[0]
    assert body.notes[0].endswith("shown as received")


@pytest.mark.parametrize(
    ("data", "content_type", "depth"),
    [
        (b"[" * 800 + b"]" * 800, "application/json", 800),
        (b"\x91" * 799 + b"\x90", "application/msgpack", 800),
        (b'{"a":' * 500 + b"1" + b"}" * 500, "application/json", 500),
    ],
)
def test_a_body_nested_hundreds_deep_is_shown_on_one_line(
    data: bytes, content_type: str, depth: int
) -> None:
    body = render.render_body(data, content_type)
    assert body is not None and body.tokens is not None
    shown = render.text(body.tokens)
    assert "\n" not in shown
    if content_type.endswith("json"):
        assert json.loads(shown) == json.loads(data)
    else:
        assert shown == "[" * depth + "]" * depth
    assert body.notes == (f"the body is nested {depth} levels deep: shown on one line",)


def test_a_body_nested_at_the_limit_is_still_indented() -> None:
    depth = render.MAX_INDENTED_DEPTH
    body = render.render_body(b"[" * depth + b"]" * depth, "application/json")
    assert body is not None and body.tokens is not None and body.notes == ()
    assert render.text(body.tokens).count("\n") == 2 * depth - 2


@pytest.mark.parametrize(
    ("data", "content_type", "name"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "JSON"),
        (b"\x91" * 100_000 + b"\x90", "application/msgpack", "msgpack"),
    ],
)
def test_a_body_too_deep_to_decode_is_shown_as_received(
    data: bytes, content_type: str, name: str
) -> None:
    body = render.render_body(data, content_type)
    assert body is not None and body.tokens is None
    if name == "JSON":
        assert body.text == data.decode()
    else:
        assert body.data == data
    assert body.notes == (f"the {name} body is nested too deep to decode; shown as received",)


# --- the -i head and the attempts ------------------------------------------------------


def test_the_head_is_the_status_line_then_the_headers() -> None:
    tokens = render.head_tokens(
        201, "Created", [("Content-Type", "application/json"), ("Set-Cookie", "a=1"),
                         ("Set-Cookie", "b=2")]
    )
    assert render.text(tokens) == (
        "HTTP/1.1 201 Created\n"
        "Content-Type: application/json\n"
        "Set-Cookie: a=1\n"
        "Set-Cookie: b=2\n"
    )
    assert tokens[2] == (render.STATUS_OK, "201")


def test_an_error_status_is_marked_and_an_empty_reason_left_out() -> None:
    tokens = render.head_tokens(599, "", [])
    assert render.text(tokens) == "HTTP/1.1 599\n"
    assert (render.STATUS_ERROR, "599") in tokens


RECORDS = [
    render.AttemptRecord(1, "503 Service Unavailable", 0.0123, 0.5),
    render.AttemptRecord(2, "ConnectionRefusedError: [Errno 111]\nConnection refused", 1.5, 1.0),
    render.AttemptRecord(3, "200 OK", None, None),
]


def test_the_attempt_table() -> None:
    # the exception's text on one line; columns aligned
    assert render.attempt_table(RECORDS) == [
        "attempt  status or exception                                     duration  wait before next",  # noqa: E501
        "      1  503 Service Unavailable                                  12.3 ms  0.5 s",
        "      2  ConnectionRefusedError: [Errno 111] Connection refused    1.50 s  1.0 s",
        "      3  200 OK                                                         -  -",
    ]


def test_the_demo_lines() -> None:
    assert render.attempt_rows(RECORDS[:1] + RECORDS[2:]) == [
        "attempt 1 of 2: 503 Service Unavailable (12.3 ms), then waited 0.5 s",
        "attempt 3 of 2: 200 OK",
    ]


# --- colour ---------------------------------------------------------------------------

needs_pygments = pytest.mark.skipif(not highlight.available(), reason="needs Pygments")


@needs_pygments
def test_coloured_json_is_the_plain_text_with_colour_codes() -> None:
    tokens = list(render.json_tokens({"name": "ada", "count": 2, "ok": True, "none": None}))
    coloured = highlight.colour_tokens(tokens)
    assert coloured.count("\x1b[") >= 8  # keys, string, number, literals
    assert ANSI.sub("", coloured) == render.text(tokens)


@needs_pygments
def test_a_coloured_head_shows_errors_apart_from_success() -> None:
    ok = highlight.colour_tokens(render.head_tokens(200, "OK", [("A", "b")]))
    failed = highlight.colour_tokens(render.head_tokens(503, "Service Unavailable", []))
    assert ANSI.sub("", ok) == "HTTP/1.1 200 OK\nA: b\n"
    colour_of = re.compile(r"(\x1b\[[0-9;]*m)(\d{3})")
    ok_colour, failed_colour = colour_of.search(ok), colour_of.search(failed)
    assert ok_colour and failed_colour and ok_colour.group(1) != failed_colour.group(1)


@needs_pygments
def test_a_text_body_is_highlighted_by_its_media_type() -> None:
    html = "<html><body><p>hello</p></body></html>\n\n"
    coloured = highlight.colour_text(html, "text/html")
    assert "\x1b[" in coloured and ANSI.sub("", coloured) == html
    assert highlight.colour_text(html, "application/x-unknown-type") == html
    huge = "<p>" + "x" * highlight.MAX_HIGHLIGHTED_TEXT + "</p>"
    assert highlight.colour_text(huge, "text/html") == huge


def test_without_pygments_the_output_is_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(highlight, "_token", None)
    tokens = list(render.json_tokens({"a": 1}))
    assert not highlight.available()
    assert highlight.colour_tokens(tokens) == render.text(tokens)
    assert highlight.colour_text("<p>x</p>", "text/html") == "<p>x</p>"


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("choice", "tty", "environ", "expected"),
    [
        (None, True, {}, True),
        (None, False, {}, False),
        (None, True, {"NO_COLOR": "1"}, False),
        (None, True, {"NO_COLOR": ""}, True),  # https://no-color.org: empty is unset
        (None, True, {"TERM": "dumb"}, False),
        (True, False, {}, True),  # --color
        (True, True, {"NO_COLOR": "1"}, True),  # an option wins over the environment
        (False, True, {}, False),  # --no-color
    ],
)
def test_when_to_colour(
    choice: Optional[bool], tty: bool, environ: Dict[str, str], expected: bool
) -> None:
    assert wants_colour(choice, Stream(tty), environ) is expected
