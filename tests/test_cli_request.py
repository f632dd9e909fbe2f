"""The request from the command line (``sprockets_http.cli.request`` and
``cli.fetch.build_request``), in-process: request items, ``-H``, the query,
``-a`` and JSON mode. Table-driven: each item form, each error."""

from __future__ import annotations

import argparse
import io
from typing import Any, Dict, List, Optional, Tuple

import pytest

from sprockets_http import content
from sprockets_http.cli import UsageError, build_parser
from sprockets_http.cli.arguments import parse_arguments
from sprockets_http.cli.fetch import JSON_ACCEPT, build_request
from sprockets_http.cli.request import (
    PASSWORD_VARIABLE,
    check_url,
    join_headers,
    parse_header_option,
    parse_items,
    resolve_auth,
    with_query,
)

# --- request items --------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "headers", "query", "fields"),
    [
        # NAME=TEXT: a string, whatever it looks like
        ("name=ada", [], [], {"name": "ada"}),
        ("count=2", [], [], {"count": "2"}),
        ("empty=", [], [], {"empty": ""}),
        ("sum=a=b", [], [], {"sum": "a=b"}),  # the first separator splits
        ("url=http://x/?a=1", [], [], {"url": "http://x/?a=1"}),
        ("path=C:\\dir\\file", [], [], {"path": "C:\\dir\\file"}),  # values as typed
        ("at=@file", [], [], {"at": "@file"}),  # no file embedding
        ("space=a b", [], [], {"space": "a b"}),
        ("ünï=cödé", [], [], {"ünï": "cödé"}),
        # NAME:=JSON: a raw JSON value
        ("count:=2", [], [], {"count": 2}),
        ("price:=9.5", [], [], {"price": 9.5}),
        ("ok:=true", [], [], {"ok": True}),
        ("none:=null", [], [], {"none": None}),
        ("tags:=[1, \"two\"]", [], [], {"tags": [1, "two"]}),
        ('nested:={"a": {"b": []}}', [], [], {"nested": {"a": {"b": []}}}),
        ('quoted:="x"', [], [], {"quoted": "x"}),
        ('escaped:="a\\\\b"', [], [], {"escaped": "a\\b"}),  # JSON escapes kept
        # Header:VALUE
        ("X-Trace:abc", [("X-Trace", "abc")], [], {}),
        ("X-Trace: abc ", [("X-Trace", "abc")], [], {}),  # trimmed, as -H is
        ("Referer:http://a/b?c=d", [("Referer", "http://a/b?c=d")], [], {}),
        ("Accept:application/json", [("Accept", "application/json")], [], {}),
        # NAME==VALUE
        ("page==2", [], [("page", "2")], {}),
        ("q==a b&c", [], [("q", "a b&c")], {}),
        ("empty==", [], [("empty", "")], {}),
        ("eq===x", [], [("eq", "=x")], {}),
        # escapes in names: \= \: \\
        ("a\\=b=c", [], [], {"a=b": "c"}),
        ("a\\:b=c", [], [], {"a:b": "c"}),
        ("a\\==b", [], [], {"a=": "b"}),  # httpie's own example: not a query parameter
        ("a\\\\=b", [], [], {"a\\": "b"}),
        ("time\\:s:=5", [], [], {"time:s": 5}),
        ("a\\b=c", [], [], {"a\\b": "c"}),  # a backslash before anything else stays
    ],
)
def test_each_item_form(
    item: str,
    headers: List[Tuple[str, str]],
    query: List[Tuple[str, str]],
    fields: Dict[str, Any],
) -> None:
    found = parse_items([item])
    assert found.headers == headers
    assert found.query == query
    assert found.fields == fields
    assert list(found.fields) == list(fields)


def test_items_keep_their_order() -> None:
    found = parse_items(["b=1", "a:=2", "X-One:1", "p==1", "X-Two:2", "p==2", "c=3"])
    assert list(found.fields.items()) == [("b", "1"), ("a", 2), ("c", "3")]
    assert found.headers == [("X-One", "1"), ("X-Two", "2")]
    assert found.query == [("p", "1"), ("p", "2")]  # a repeated parameter is repeated


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["name"], "'name' is not a request item: expected NAME=TEXT, NAME:=JSON"),
        (["name\\=x"], "is not a request item"),  # the only separator is escaped
        (["=value"], "the name before '=' is empty"),
        ([":=1"], "the name before ':=' is empty"),
        ([":value"], "the name before ':' is empty"),
        (["==value"], "the name before '==' is empty"),
        (["count:=two"], "'count:=': not valid JSON: Expecting value"),
        (["count:="], "'count:=': not valid JSON"),
        (["deep:=" + "[" * 100_000], "'deep:=': not valid JSON"),
        (["Bad Name:x"], "header 'Bad Name': not a valid header name"),
        (["X-Empty:"], "header 'X-Empty' has no value"),
        (["X-Blank:   "], "header 'X-Blank' has no value"),
        (["Authorization:Bearer s3cret\x01"], "header 'Authorization': control characters"),
        (["a=1", "a:=2"], "the body field 'a' is given twice"),
    ],
)
def test_item_errors(items: List[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_items(items)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert "s3cret" not in text  # a header's value is never quoted


# --- -H, headers, the URL ------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("Correlation-Id: abc-123", ("Correlation-Id", "abc-123")),
        ("X-Empty:", ("X-Empty", "")),
        ("X-Colon: a:b", ("X-Colon", "a:b")),
    ],
)
def test_header_option(option: str, expected: Tuple[str, str]) -> None:
    assert parse_header_option(option) == expected


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("Bearer s3cret", "-H: expected 'Name: value'"),
        (": s3cret", "-H: expected 'Name: value'"),
        ("Bad Name: s3cret", "-H 'Bad Name': not a valid header name"),
        ("Authorization: Bearer s3cret\nX-Injected: 1", "-H 'Authorization': control characters"),
    ],
)
def test_header_option_errors_never_quote_the_value(option: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        parse_header_option(option)
    assert "s3cret" not in str(caught.value)


def test_repeated_headers_are_joined_under_the_first_spelling() -> None:
    assert join_headers([("X-Tag", "one"), ("x-tag", "two"), ("Other", "1")]) == {
        "X-Tag": "one, two",
        "Other": "1",
    }


@pytest.mark.parametrize(
    ("url", "parameters", "expected"),
    [
        ("http://h/p", [], "http://h/p"),
        ("http://h/p", [("page", "2")], "http://h/p?page=2"),
        ("http://h/p?a=1", [("page", "2")], "http://h/p?a=1&page=2"),
        ("http://h/p?a=1#top", [("b", "x")], "http://h/p?a=1&b=x#top"),
        ("http://h/p", [("q", "a b&c=d/é")], "http://h/p?q=a%20b%26c%3Dd%2F%C3%A9"),
        ("http://h/p", [("p", "1"), ("p", "2")], "http://h/p?p=1&p=2"),
        ("http://h:8000", [("p", "1")], "http://h:8000?p=1"),
    ],
)
def test_query_parameters_are_added_to_the_url(
    url: str, parameters: List[Tuple[str, str]], expected: str
) -> None:
    assert with_query(url, parameters) == expected


@pytest.mark.parametrize("url", ["example.com/x", "ftp://h/", "http://", "http://h:x/"])
def test_invalid_urls(url: str) -> None:
    with pytest.raises(UsageError, match="invalid URL"):
        check_url(url)


# --- -a -------------------------------------------------------------------------------


def no_prompt(text: str) -> str:
    raise AssertionError("asked for a password")


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("ada:s3cret", {}, ("ada", "s3cret")),
        ("ada:s3:cret", {}, ("ada", "s3:cret")),  # the first colon splits
        ("ada:", {}, ("ada", "")),  # an empty password, given
        ("ada:s3cret", {PASSWORD_VARIABLE: "other"}, ("ada", "s3cret")),  # typed wins
        ("ada", {PASSWORD_VARIABLE: "from-env"}, ("ada", "from-env")),
    ],
)
def test_auth_without_a_prompt(
    value: str, environ: Dict[str, str], expected: Tuple[str, str]
) -> None:
    assert resolve_auth(value, environ, True, no_prompt) == expected
    assert resolve_auth(value, environ, False, no_prompt) == expected


def test_auth_asks_for_the_password_at_a_terminal() -> None:
    asked: List[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed"

    assert resolve_auth("ada", {}, True, prompt) == ("ada", "typed")
    assert resolve_auth("ada", {PASSWORD_VARIABLE: ""}, True, prompt) == ("ada", "typed")
    assert asked == ["Password for ada: ", "Password for ada: "]


@pytest.mark.parametrize(
    ("value", "can_prompt", "prompt_raises", "message"),
    [
        (":s3cret", True, None, "-a: the user name is empty"),
        ("ada", False, None, f"-a: no password: give USER:PASSWORD, set {PASSWORD_VARIABLE}"),
        ("ada", True, EOFError, "-a: no password was entered"),
    ],
)
def test_auth_errors(
    value: str, can_prompt: bool, prompt_raises: Optional[type], message: str
) -> None:
    def prompt(text: str) -> str:
        assert prompt_raises is not None
        raise prompt_raises()

    with pytest.raises(UsageError, match=message) as caught:
        resolve_auth(value, {}, can_prompt, prompt)
    assert "s3cret" not in str(caught.value)
    assert "ada" not in str(caught.value)  # a user name can be a token too


# --- the whole request ----------------------------------------------------------------


def arguments(*argv: str) -> argparse.Namespace:
    return parse_arguments(build_parser(), ["fetch", *argv])


def request_of(*argv: str, environ: Optional[Dict[str, str]] = None) -> Any:
    return build_request(arguments(*argv), environ or {}, io.StringIO())


def test_the_acceptance_line() -> None:
    request = request_of(
        "http://h/p", "name=ada", "count:=2", "X-Trace:abc", "page==2", "-i", "-a", "user:secret"
    )
    assert request.url == "http://h/p?page=2"
    assert request.method == "POST"
    assert request.body == {"name": "ada", "count": 2}
    assert request.content_type == content.CONTENT_TYPE_JSON
    assert request.headers == {"X-Trace": "abc", "Accept": JSON_ACCEPT}
    assert request.auth == ("user", "secret")
    assert "secret" not in repr(request)


def test_items_may_come_between_and_after_options() -> None:
    args = arguments("-i", "http://h/", "a=1", "-v", "X-A:b", "--attempts", "2", "p==1")
    assert args.items == ["a=1", "X-A:b", "p==1"]
    assert (args.include, args.verbose, args.attempts) == (True, 1, 2)


@pytest.mark.parametrize(
    ("argv", "content_type", "accept"),
    [
        (["a=1"], content.CONTENT_TYPE_JSON, JSON_ACCEPT),  # body fields: JSON, as httpie
        (["a=1", "--msgpack"], content.CONTENT_TYPE_MSGPACK, None),
        (["-d", "{}"], content.CONTENT_TYPE_MSGPACK, None),  # -d: msgpack, as http_fetch
        (["-d", "{}", "--json"], content.CONTENT_TYPE_JSON, JSON_ACCEPT),
        (["--json"], content.CONTENT_TYPE_JSON, JSON_ACCEPT),  # no body: Accept only
        ([], content.CONTENT_TYPE_MSGPACK, None),
        (["--json", "Accept:text/csv"], content.CONTENT_TYPE_JSON, "text/csv"),  # yours win
        (["--json", "-H", "accept: text/csv"], content.CONTENT_TYPE_JSON, "text/csv"),
    ],
)
def test_json_mode_sets_accept(argv: List[str], content_type: Any, accept: Optional[str]) -> None:
    request = request_of("http://h/", *argv)
    assert request.content_type == content_type
    given = {name.lower(): value for name, value in request.headers.items()}
    assert given.get("accept") == accept


def test_headers_from_options_and_items_are_joined() -> None:
    request = request_of("http://h/", "-H", "X-Tag: one", "x-tag:two")
    assert request.headers == {"X-Tag": "one, two"}


def test_query_items_keep_the_urls_own_query() -> None:
    assert request_of("http://h/p?a=1", "b==2").url == "http://h/p?a=1&b=2"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-d", "{}", "a=1"], "-d and body fields (NAME=TEXT, NAME:=JSON) cannot be combined"),
        (["nonsense"], "'nonsense' is not a request item"),
        (["-X", "GET /x"], "not a valid method name"),
    ],
)
def test_request_errors(argv: List[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        request_of("http://h/", *argv)
    assert message in str(caught.value)


def test_the_password_is_asked_for_last() -> None:
    # A bad item is reported before any prompt: nobody types a password
    # for a command that cannot run.
    args = arguments("http://h/", "-a", "ada", "bad")
    with pytest.raises(UsageError, match="not a request item"):
        build_request(args, {}, io.StringIO())


def test_a_method_is_post_with_body_fields_and_get_with_query_items() -> None:
    assert request_of("http://h/", "a=1").method == "POST"
    assert request_of("http://h/", "a==1", "X-A:1").method == "GET"
    assert request_of("http://h/", "-X", "put", "a=1").method == "PUT"
