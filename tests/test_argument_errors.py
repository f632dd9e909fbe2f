"""The exact error for each kind of bad argument, and how a URL with non-ASCII
text is encoded for the wire (``sprockets_http._options``).

``tests/test_hardening.py`` checks that every bad argument raises before
anything is sent; here each error's text is pinned, as a caller reads it.
"""

from __future__ import annotations

import fractions
import math
import types
from typing import Any, Dict, List

import pytest
import tornado
from conftest import Caller
from tornado import httputil, web

from sprockets_http import _options
from sprockets_http.retry import RetryPolicy

# A URL no test server listens on: a check that wrongly let a call through
# would get a refused connection (retried without waiting: see ``sleeps``).
NOWHERE = "http://127.0.0.1:1/"
NOT_A_URL = "url must be a str (or an object whose str() is the URL), not "

ERRORS: List[Any] = [
    # The URL
    ({"url": None}, f"{NOT_A_URL}NoneType"),
    ({"url": b"http://127.0.0.1/"}, f"{NOT_A_URL}bytes"),
    ({"url": "http:///\u00e4"}, "url: the URL 'http:///%C3%A4' has no host"),
    (
        {"url": "http://[::1/\u00e4"},
        "url 'http://[::1/\u00e4' is not a valid URL: Invalid IPv6 URL",
    ),
    (
        {"url": "http://a..\u00e4/"},
        "url 'http://a..\u00e4/' has a host that is not a valid IDNA name",
    ),
    ({"url": "http://127.0.0.1:0/\u00e4"}, "url: the URL 'http://127.0.0.1:0/%C3%A4' has port 0"),
    ({"url": "http://127.0.0.1:0/"}, "url: the URL 'http://127.0.0.1:0/' has port 0"),
    # Timeouts: any real number (not a bool) that is finite and above 0
    ({"request_timeout": "1"}, "request_timeout must be a number of seconds, not '1'"),
    ({"request_timeout": True}, "request_timeout must be a number of seconds, not True"),
    (
        {"connect_timeout": math.nan},
        "connect_timeout must be a finite number of seconds > 0, not nan",
    ),
    (
        {"total_timeout": fractions.Fraction(-1, 2)},
        "total_timeout must be a finite number of seconds > 0, not Fraction(-1, 2)",
    ),
    # ... each of the three, for each way to be wrong
    *[
        ({name: value}, f"{name} must be a{' finite' if finite else ''} number of seconds{kind}")
        for name in ("connect_timeout", "request_timeout", "total_timeout")
        for value, finite, kind in [
            ("5", False, ", not '5'"),
            (True, False, ", not True"),
            (math.inf, True, " > 0, not inf"),
            (-math.inf, True, " > 0, not -inf"),
            (math.nan, True, " > 0, not nan"),
            (0, True, " > 0, not 0"),
            (-0.5, True, " > 0, not -0.5"),
        ]
    ],
    # The method: a standard one, or any token with allow_nonstandard_methods
    ({"method": 5}, "method must be an HTTP method name, not 5"),
    ({"method": "GE T"}, "method must be an HTTP method name, not 'GE T'"),
    (
        {"method": "get"},
        "method 'get' is not one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT (methods are "
        "case-sensitive: did you mean 'GET'?); pass allow_nonstandard_methods=True to send it "
        "as it is",
    ),
    (
        {"method": "PROPFIND"},
        "method 'PROPFIND' is not one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT; "
        "pass allow_nonstandard_methods=True to send it as it is",
    ),
    # Counts
    ({"max_redirects": -1}, "max_redirects must be an int >= 0, not -1"),
    ({"max_redirects": True}, "max_redirects must be an int >= 0, not True"),
    ({"max_redirects": 1.5}, "max_redirects must be an int >= 0, not 1.5"),
    # Headers: the name is shown (cut to 60 characters), never the value
    (
        {"request_headers": ["Accept: text/plain"]},
        "request_headers must be a mapping of names to values, not list",
    ),
    (
        {"request_headers": {"X-Count": 3}},
        "request header 'X-Count' must have a str value, not int",
    ),
    (
        {"request_headers": {"X-" + "a" * 56: 3}},  # its repr: 60 characters
        "request header 'X-" + "a" * 56 + "' must have a str value, not int",
    ),
    (
        {"request_headers": {"X-" + "a" * 57: 3}},  # its repr: 61 characters
        "request header 'X-" + "a" * 54 + "... must have a str value, not int",
    ),
    # Credentials: str or None, and never shown
    ({"auth_username": 42}, "auth_username must be a str or None, not int"),
    ({"auth_password": b"s3cret"}, "auth_password must be a str or None, not bytes"),
    # Client options one client does not have
    (
        {"network_interface": "eth0"},
        "network_interface must be an IP address with the simple client, not 'eth0'",
    ),
    # A retry policy replaces the options it holds
    ({"retry_policy": "fast"}, "retry_policy must be a RetryPolicy, not str"),
    (
        {"retry_policy": RetryPolicy(), "retry_timeout": 1, "max_http_attempts": 2},
        "retry_policy replaces max_http_attempts, retry_timeout: give one or the other",
    ),
    (
        {
            "retry_policy": RetryPolicy(),
            "dont_retry": 503,
            "max_retry_timeout": 1,
            "retry_jitter": False,
            "retry_methods": "GET",
        },
        "retry_policy replaces dont_retry, max_retry_timeout, retry_jitter, retry_methods: "
        "give one or the other",
    ),
]


def _error_id(case: Any) -> str:
    # Printable ASCII ids without "::" or a backslash (tox -e mutation).
    arguments, _message = case
    name, value = next(iter(arguments.items()))
    text = repr(value)[:30].encode("ascii", "replace").decode().replace("\\", "/")
    return f"{name}={text}".replace("::", ": :")


@pytest.mark.parametrize("case", ERRORS, ids=[_error_id(case) for case in ERRORS])
async def test_each_bad_argument_has_its_own_error_text(caller, sleeps, case):
    arguments: Dict[str, Any] = dict(case[0])
    url = arguments.pop("url", NOWHERE)
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(url, **arguments)
    assert str(raised.value) == case[1]
    assert sleeps == []  # refused before the first attempt


async def test_a_timeout_may_be_any_real_number_above_zero(caller, serve, sleeps):
    class Ok(web.RequestHandler):
        def get(self) -> None:
            self.write("ok")

    url = serve([("/", Ok)]) + "/"
    # Not an int or a float: checked the long way. Half a second to connect
    # on loopback; a connect that a busy machine makes slower is retried.
    response = await caller.http_fetch(
        url, connect_timeout=fractions.Fraction(1, 2), max_http_attempts=10
    )
    assert response.ok
    response = await caller.http_fetch(url, total_timeout=fractions.Fraction(30))
    assert response.ok


async def test_a_keyword_fetch_does_not_take_is_a_type_error_naming_each(caller, sleeps):
    with pytest.raises(TypeError) as raised:
        await caller.http_fetch(NOWHERE, timeout=3, follow=True)
    assert str(raised.value) == (
        "http_fetch() got keyword arguments that fetch does not take: follow, timeout"
    )
    assert sleeps == []


async def test_the_simple_client_takes_an_ip_address_as_its_network_interface(caller, serve):
    class Ok(web.RequestHandler):
        def get(self) -> None:
            self.write("ok")

    response = await caller.http_fetch(
        serve([("/", Ok)]) + "/", network_interface="127.0.0.1"
    )
    assert response.ok


AUTH_MODES = {
    "simple": (["basic"], "digest", "auth_mode must be one of basic, not 'digest'"),
    "curl": (["basic", "digest"], "ntlm", "auth_mode must be one of basic, digest, not 'ntlm'"),
}


async def test_each_client_takes_its_own_auth_modes(caller, serve, sleeps, client_kind):
    seen: List[Any] = []

    class Ok(web.RequestHandler):
        def get(self) -> None:
            seen.append(self.request.headers.get("Authorization"))
            self.write("ok")

    url = serve([("/", Ok)]) + "/"
    taken, refused, message = AUTH_MODES[client_kind]
    for mode in taken:
        response = await caller.http_fetch(
            url, auth_username="user", auth_password="pw", auth_mode=mode
        )
        assert response.ok
    # Basic sends its header at once; digest waits for a challenge (none here).
    assert seen == ["Basic dXNlcjpwdw=="] + [None] * (len(taken) - 1)
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(url, auth_username="user", auth_password="pw", auth_mode=refused)
    assert str(raised.value) == message
    assert len(seen) == len(taken)  # the refused one was never sent


@pytest.mark.parametrize("body", [bytearray(b"\x00raw\xff"), memoryview(b"\x00raw\xff")])
async def test_a_bytearray_or_memoryview_body_is_sent_as_its_bytes(caller, serve, body):
    received: List[bytes] = []

    class Echo(web.RequestHandler):
        def post(self) -> None:
            received.append(self.request.body)

    response = await caller.http_fetch(serve([("/", Echo)]) + "/", method="POST", body=body)
    assert response.ok and received == [b"\x00raw\xff"]


CURL_GET = "a GET request cannot have a body with the curl client"
BODY_RULES = [
    # (client, arguments, message)
    ("simple", {"method": "POST"}, "a POST request needs a body (pass body=..., or "
     "allow_nonstandard_methods=True to send it without one)"),
    ("simple", {"body": {"a": 1}}, "a GET request cannot have a body (unless "
     "allow_nonstandard_methods=True)"),
    ("curl", {"body": {"a": 1}}, CURL_GET),
    ("curl", {"body": {"a": 1}, "allow_nonstandard_methods": True}, CURL_GET),
]


@pytest.mark.parametrize(
    "client_kind, arguments, message",
    BODY_RULES,
    ids=["post-without", "get-with", "curl-get-with", "curl-get-with-nonstandard"],
    indirect=["client_kind"],
)
async def test_a_body_the_method_or_client_cannot_send_is_refused(
    caller, sleeps, client_kind, arguments, message
):
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(NOWHERE, **arguments)
    assert str(raised.value) == message
    assert sleeps == []


def _headers_set_by_item(name: str, value: str) -> httputil.HTTPHeaders:
    # HTTPHeaders.add checks the value (Tornado 6.3+); item assignment does not.
    headers = httputil.HTTPHeaders()
    headers[name] = value
    headers.add(name, "Bearer ok")
    return headers


@pytest.mark.parametrize(
    "value, problem",
    [
        ("\u2603 s3cret", "contains a character that is not Latin-1 at index 0 of 8"),
        ("s3cret\x01", "contains a control character at index 6 of 7"),
        (" s3cret", None),  # Latin-1, but Tornado refuses the space before it
    ],
    ids=["not-latin-1", "control", "leading-space"],
)
async def test_a_bad_value_in_http_headers_is_refused_without_showing_it(
    caller, sleeps, value, problem
):
    if problem is None:
        try:
            httputil.HTTPHeaders().add("Authorization", value)
        except Exception:  # noqa: BLE001 - whichever error this Tornado raises
            pass
        else:  # Tornado 6.2 takes it (and the server strips the space)
            pytest.skip(f"tornado {tornado.version} accepts this value")
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(
            NOWHERE, request_headers=_headers_set_by_item("Authorization", value)
        )
    if problem is None:
        assert str(raised.value) == (
            "request headers: Tornado refuses the value of the header 'Authorization' "
            "(the value is not shown)"
        )
    else:
        assert str(raised.value) == (
            f"request headers: the value of the header 'Authorization' {problem} "
            "(the value is not shown)"
        )
    # Nor does the traceback: no exception that shows the value is chained.
    assert "s3cret" not in str(raised.value) and raised.value.__context__ is None


# A URL with non-ASCII text, as it goes on the wire: the host in IDNA, the
# userinfo, path, query and fragment percent-encoded as UTF-8, what is already
# a URL's syntax (reserved characters, "%" escapes) left alone.
ENCODED_URLS = [
    ("http://b\u00fccher.example/", "http://xn--bcher-kva.example/"),
    ("http://B\u00dcCHER.example:8080/x", "http://xn--bcher-kva.example:8080/x"),
    ("http://[::1]:8080/\u00e4?x=\u00e4#\u00e4", "http://[::1]:8080/%C3%A4?x=%C3%A4#%C3%A4"),
    ("http://127.0.0.1/caf\u00e9", "http://127.0.0.1/caf%C3%A9"),
    ("http://a..b/\u00e4", "http://a..b/%C3%A4"),  # an ASCII host is left as it is
    ("http://us\u00e9r:p%41ss:w@h\u00f6st:81/p", "http://us%C3%A9r:p%41ss:w@xn--hst-sna:81/p"),
    ("http://a@b:c@h\u00f6st/", "http://a%40b:c@xn--hst-sna/"),
    (
        "http://h/%20:@!$&'()*+,;=\u00e4?a=%20:@!$&'()*+,;=/?\u00e4#%20:@!$&'()*+,;=/?#[]~\u00e4",
        "http://h/%20:@!$&'()*+,;=%C3%A4?a=%20:@!$&'()*+,;=/?%C3%A4"
        "#%20:@!$&'()*+,;=/?#[]~%C3%A4",
    ),
    ('http://h/\u00e4 b<>"{}|^`\\', "http://h/%C3%A4%20b%3C%3E%22%7B%7D%7C%5E%60%5C"),
]


@pytest.mark.parametrize(
    "given, sent", ENCODED_URLS, ids=[str(number) for number in range(len(ENCODED_URLS))]
)
def test_a_url_with_non_ascii_text_is_encoded_for_the_wire(given, sent):
    assert _options.url(given) == sent


@pytest.mark.parametrize(
    "name, message",
    [
        ("max_http_attempts", "max_http_attempts must be an int >= 1, not True"),
        ("retry_timeout", "retry_timeout must be a number of seconds, not True"),
        ("max_retry_timeout", "max_retry_timeout must be a number of seconds, not True"),
    ],
)
@pytest.mark.parametrize("other", [{}, {"retry_jitter": 0}], ids=["alone", "int-jitter"])
async def test_true_is_refused_after_an_equal_number_was_accepted(
    scripted_upstream, sleeps, name, message, other
):
    # True == 1: once a call with 1 was accepted, True must not pass as the
    # same option (whatever the other options are).
    scripted_upstream.route("GET", "/", 200)
    url = f"{scripted_upstream.url}/"
    accepted = await Caller().http_fetch(url, **{name: 1}, **other)
    assert accepted.ok
    with pytest.raises(ValueError) as raised:
        await Caller().http_fetch(url, **{name: True}, **other)
    assert str(raised.value) == message


async def test_raise_error_is_refused_saying_what_to_read_instead(caller, sleeps):
    with pytest.raises(RuntimeError) as raised:
        await caller.http_fetch(NOWHERE, raise_error=False)
    assert str(raised.value) == (
        "raise_error is not supported: http_fetch never raises for a response; "
        "read HTTPResponse.ok and .code instead"
    )
    assert sleeps == []


@pytest.mark.parametrize(
    "method, body, sent",
    [
        ("DELETE", {"a": 1}, b'{"a":1}'),  # a body where none is expected
        ("POST", None, b""),  # none where one is expected
        ("PATCH", None, b""),
    ],
)
async def test_allow_nonstandard_methods_sends_what_the_method_rules_refuse(
    caller, serve, client_kind, method, body, sent
):
    received: List[Any] = []

    class Echo(web.RequestHandler):
        def _echo(self) -> None:
            received.append((self.request.method, self.request.body))

        delete = patch = post = _echo  # type: ignore[assignment]

    response = await caller.http_fetch(
        serve([("/", Echo)]) + "/",
        method=method,
        body=body,
        content_type="application/json",
        allow_nonstandard_methods=True,
    )
    assert response.ok
    assert received == [(method, sent)]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Good": "fine", "X-Bad": "a\x01b"},
        httputil.HTTPHeaders({"X-Good": "fine", "X-Bad": "a\x01b"}),
        types.MappingProxyType({"X-Good": "fine", "X-Bad": "a\x01b"}),
    ],
    ids=["dict", "HTTPHeaders", "mapping"],
)
async def test_a_bad_header_after_good_ones_is_refused(caller, sleeps, headers):
    # First a call that makes X-Good a name already checked (names are
    # remembered), then one where it comes before a bad header.
    await caller.http_fetch(NOWHERE, request_headers={"X-Good": "fine"}, max_http_attempts=1)
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(NOWHERE, request_headers=headers)
    assert str(raised.value) == (
        "request headers: the value of the header 'X-Bad' contains a control character "
        "at index 1 of 3 (the value is not shown)"
    )


async def test_a_header_value_ending_with_a_newline_gets_a_hint(caller, sleeps):
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(NOWHERE, request_headers={"X-Token-Path": "abc\n"})
    assert str(raised.value) == (
        "request headers: the value of the header 'X-Token-Path' contains a line break "
        "(CR or LF) at index 3 of 4 (the value is not shown) (a value read from a file "
        "often ends with a newline: strip it)"
    )


async def test_max_redirects_zero_is_accepted_and_follows_none(caller, scripted_upstream):
    from sprockets_http.testing import Answer

    scripted_upstream.route("GET", "/moved", Answer(302, headers={"Location": "/here"}))
    response = await caller.http_fetch(
        f"{scripted_upstream.url}/moved", follow_redirects=True, max_redirects=0
    )
    assert response.code == 302 and response.attempts == 1
