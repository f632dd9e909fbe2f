"""Redaction (issue 8, section 2): URLs, headers, exception texts and
tornado's curl client at DEBUG.

The tables give literal expected outputs; the curl tests run the real clients
at DEBUG against a loopback server and look at every record logged.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import textwrap
from typing import Any, Dict, List

import pytest
import tornado
from tornado import httpclient, httputil, web

import sprockets_http
from sprockets_http import _log
from sprockets_http._log import (
    REDACTED,
    SECRET_QUERY_PARAMETERS,
    describe_header_for_error,
    describe_url_for_error,
    install_curl_debug_redaction,
    is_secret_header,
    redact_header,
    redact_text,
    redact_url,
    scrub,
    secrets_of,
)

# --- redact_url ----------------------------------------------------------------

URL_TABLE = [
    # nothing to redact: returned as given
    ("http://example.com/a/b", "http://example.com/a/b"),
    ("http://example.com/?page=2&sort=name#top", "http://example.com/?page=2&sort=name#top"),
    ("", ""),
    # userinfo, redacted whole
    ("https://TOKEN@api.example.com/v1", "https://[redacted]@api.example.com/v1"),
    ("http://user:password@host/x", "http://[redacted]@host/x"),
    ("http://user:@host/", "http://[redacted]@host/"),
    ("http://:pw@host/", "http://[redacted]@host/"),
    ("http://bob:p%40ss@host:8080/", "http://[redacted]@host:8080/"),
    ("HTTPS://u:p@HOST/", "HTTPS://[redacted]@HOST/"),
    # an "@" in the password: the last "@" of the authority ends the userinfo
    ("http://u:p@ss@host/", "http://[redacted]@host/"),
    # a password with an unencoded "#", "/" or "?" (urlsplit sees a host "admin")
    ("http://admin:12#PW@host/", "http://[redacted]@host/"),
    ("http://u:p/w@host/", "http://[redacted]@host/"),
    ("http://u:p?w@host/?a=1", "http://[redacted]@host/?a=1"),
    ("http://admin:12?PW@host/", "http://[redacted]@host/"),
    ("http://admin:12/PW@host/x", "http://[redacted]@host/x"),
    ("http://u:a#b/c@host/", "http://[redacted]@host/"),
    # ...and an "@" after the delimiter as well
    ("http://u:p#w@x@host/?e=a@b.com", "http://[redacted]@host/?e=a@b.com"),
    ("http://u:p/w@x@host:81/", "http://[redacted]@host:81/"),
    # legitimate "@" in paths, queries and fragments are kept
    ("http://example.com/users/@me", "http://example.com/users/@me"),
    ("http://example.com/a@b.com/profile", "http://example.com/a@b.com/profile"),
    ("http://example.com/?email=a@b.com#x@y", "http://example.com/?email=a@b.com#x@y"),
    ("http://example.com#a@b", "http://example.com#a@b"),
    ("http://localhost:4873/@babel/core", "http://localhost:4873/@babel/core"),
    ("http://svc:8080/users/@me", "http://svc:8080/users/@me"),
    ("http://svc:8080/?email=a@b.com", "http://svc:8080/?email=a@b.com"),
    ("http://svc:8080/a?b@c", "http://svc:8080/a?b@c"),
    ("http://svc:8080/a#b@c", "http://svc:8080/a#b@c"),
    ("http://svc:8080#a/b@c", "http://svc:8080#a/b@c"),
    ("http://svc:8080?next=/a@b", "http://svc:8080?next=/a@b"),
    ("http://svc:/@me", "http://svc:/@me"),
    ("http://[::1]:8080/users/@me", "http://[::1]:8080/users/@me"),
    ("http://[::1]/users/@me", "http://[::1]/users/@me"),
    # ...except where a port, a delimiter and text without "/" could be the
    # start of a password: redacted (a leak is worse than an over-redaction)
    ("http://svc:8080/a@b.com/x", "http://[redacted]@b.com/x"),
    ("http://svc:8080#frag@x", "http://[redacted]@x"),
    ("http://svc:8080#@x", "http://[redacted]@x"),
    # URLs that do not parse
    ("http://user:S3CRET@[::1/x", "http://[redacted]@[::1/x"),
    ("http://user:S3CRET@127.0.0.1:99999/x", "http://[redacted]@127.0.0.1:99999/x"),
    ("http://u:pa ss@host/", "http://[redacted]@host/"),
    ("//u:p@host/", "//[redacted]@host/"),
    ("http:/u:p@host/", "http:/[redacted]@host/"),
    ("http:u:p@host/", "http:[redacted]@host/"),
    ("http:\\\\u:p@host/", "http:\\\\[redacted]@host/"),
    ("  http://u:p@host/", "  http://[redacted]@host/"),
    ("ftp://user:PW@files/", "ftp://[redacted]@files/"),
    ("user:pass@host/path", "[redacted]@host/path"),
    ("TOKEN@host", "[redacted]@host"),
    ("/relative/@me", "/relative/@me"),
    # secret query parameters: values replaced, order and the rest kept
    ("https://h/a?token=x&page=2#top", "https://h/a?token=[redacted]&page=2#top"),
    ("https://h/?a=1&access_token=x&b=2", "https://h/?a=1&access_token=[redacted]&b=2"),
    ("https://h/?Access_Token=x&API-KEY=y;sig=z&q=w",
     "https://h/?Access_Token=[redacted]&API-KEY=[redacted];sig=[redacted]&q=w"),
    ("https://h/?apiKey=k&ApiKey=k2&api_key=k3", "https://h/?apiKey=[redacted]&ApiKey=[redacted]"
     "&api_key=[redacted]"),
    ("https://h/?accessToken=t&client-secret=s", "https://h/?accessToken=[redacted]"
     "&client-secret=[redacted]"),
    ("https://h/?access%5Ftoken=a%2Bb+c", "https://h/?access%5Ftoken=[redacted]"),
    ("https://h/?token=&token", "https://h/?token=&token"),
    ("https://h/?token=a=b&x=1", "https://h/?token=[redacted]&x=1"),
    ("https://h/?tokens=a&my_token=b&key2=c", "https://h/?tokens=a&my_token=b&key2=c"),
    ("https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F1"
     "&X-Amz-Signature=abc&X-Amz-Security-Token=tok&X-Amz-Expires=60",
     "https://b.s3.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]"
     "&X-Amz-Signature=[redacted]&X-Amz-Security-Token=[redacted]&X-Amz-Expires=60"),
    ("https://s.googleapis.com/o?X-Goog-Credential=c&X-Goog-Signature=s&x=1",
     "https://s.googleapis.com/o?X-Goog-Credential=[redacted]&X-Goog-Signature=[redacted]&x=1"),
    ("https://a.blob.core.windows.net/c?sv=2020&sig=abc%3D&se=2030",
     "https://a.blob.core.windows.net/c?sv=2020&sig=[redacted]&se=2030"),
    ("https://h/?password=p&passwd=q&pwd=r&pass=s&secret=t&client_secret=u",
     "https://h/?password=[redacted]&passwd=[redacted]&pwd=[redacted]&pass=[redacted]"
     "&secret=[redacted]&client_secret=[redacted]"),
    ("https://h/?code=c&state=s&auth=a&session=b&jsessionid=j&key=k&jwt=w",
     "https://h/?code=[redacted]&state=s&auth=[redacted]&session=[redacted]"
     "&jsessionid=[redacted]&key=[redacted]&jwt=[redacted]"),
    ("https://h/?refresh_token=r&id_token=i&auth_token=a&private_token=p&AWSAccessKeyId=k"
     "&Signature=s&sessionid=1&session_id=2",
     "https://h/?refresh_token=[redacted]&id_token=[redacted]&auth_token=[redacted]"
     "&private_token=[redacted]&AWSAccessKeyId=[redacted]&Signature=[redacted]"
     "&sessionid=[redacted]&session_id=[redacted]"),
    # the fragment (OAuth's implicit flow puts the token there)
    ("https://app/cb#access_token=abc&token_type=bearer",
     "https://app/cb#access_token=[redacted]&token_type=bearer"),
    ("https://app/#/route?x=1", "https://app/#/route?x=1"),
    ("https://app/#section", "https://app/#section"),
    ("https://app/?a=1#b=2&token=3", "https://app/?a=1#b=2&token=[redacted]"),
    # a URL in a value: its own query and userinfo
    ("https://h/?redirect=https://u:p@x/?token=abc&y=1",
     "https://h/?redirect=https://[redacted]@x/?token=[redacted]&y=1"),
    ("https://h/?next=/a@b", "https://h/?next=/a@b"),
    ("/relative?token=a", "/relative?token=[redacted]"),
    ("https://u:p@h/?token=t#secret=s", "https://[redacted]@h/?token=[redacted]#secret=[redacted]"),
    # found by mutation testing (tox -e mutation): the edges of each rule
    ("http://@host/", "http://[redacted]@host/"),  # an empty userinfo
    ("#access_token=abc", "#access_token=[redacted]"),  # a fragment at index 0
    ("http://h/?a=&token=x", "http://h/?a=&token=[redacted]"),  # after an empty value
    ("https://app/cb#state=x#access_token=abc",  # a second "#" in the fragment
     "https://app/cb#state=x#access_token=[redacted]"),
    ("http://h/p#next=http://user:pw@other/x#y",  # the fragment starts at the first "#"
     "http://h/p#next=http://[redacted]@other/x#y"),
    ("/a@b", "/a@b"),  # a path: no authority, so no userinfo
    (":p/w@h", "[redacted]@h"),  # a password with a "/", no user name
    ("a:b]c/d@e", "[redacted]@e"),  # a "]" after the colon of a host that is not IPv6
    ("[::1/a]b:c/@d", "[redacted]@d"),  # a "]" only past the end of the authority
    ("http://[::1/x:y/@z", "http://[redacted]@z"),  # an unterminated IPv6 literal
    ("[a]:x]:1/@d", "[redacted]@d"),  # the first "]" ends the bracketed host
    # NAME:DIGITS/TEXT@: a password after a port-like number (documented cost:
    # the host of http://host:8080/a@b is redacted too)
    ("http://[::1]:80/x@y", "http://[redacted]@y"),
]


@pytest.mark.parametrize(("url", "expected"), URL_TABLE, ids=[row[0] for row in URL_TABLE])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_takes_another_parameter_set() -> None:
    url = "https://u:p@h/?token=t&Page=2&SESSION_ID=s#tab=x"
    assert redact_url(url, {"page", "Session-Id", "TAB"}) == (
        "https://[redacted]@h/?token=t&Page=[redacted]&SESSION_ID=[redacted]#tab=[redacted]"
    )
    assert redact_url(url, frozenset({"page"})) == "https://[redacted]@h/?token=t&Page=[redacted]&SESSION_ID=s#tab=x"
    # no parameter at all: the userinfo is still redacted
    assert redact_url(url, ()) == "https://[redacted]@h/?token=t&Page=2&SESSION_ID=s#tab=x"
    # the default set is extended by union
    extended = SECRET_QUERY_PARAMETERS | {"x-my-token"}
    assert redact_url("https://h/?x_my_token=a&token=b", extended) == (
        "https://h/?x_my_token=[redacted]&token=[redacted]"
    )


def test_the_parameter_set_is_public_and_lower_case() -> None:
    assert sprockets_http.SECRET_QUERY_PARAMETERS is SECRET_QUERY_PARAMETERS
    assert isinstance(SECRET_QUERY_PARAMETERS, frozenset)
    required = {
        "token", "access_token", "refresh_token", "id_token", "api_key", "apikey", "api-key",
        "key", "password", "passwd", "pwd", "secret", "client_secret", "signature", "sig",
        "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature",
        "x-goog-credential", "code", "auth", "session",
    }
    assert required <= SECRET_QUERY_PARAMETERS
    assert all(name == name.lower() for name in SECRET_QUERY_PARAMETERS)


# --- secrets_of ------------------------------------------------------------------

SECRETS_TABLE: List[Any] = [
    ("http://example.com/", None, None, frozenset()),
    ("https://TOKEN@h/", None, None, frozenset({"TOKEN"})),
    ("http://u:p%40ss@h/", None, None,
     frozenset({"u:p%40ss", "u:p@ss", "u", "p%40ss", "p@ss"})),
    ("http://admin:12#PW@h/", None, None, frozenset({"admin:12#PW", "admin", "12#PW"})),
    # the user name ends at the first ":"; the password may hold more
    ("http://u:p:q@h/", None, None, frozenset({"u:p:q", "u", "p:q"})),
    ("http://user:S3CRET@[::1/x", None, None, frozenset({"user:S3CRET", "user", "S3CRET"})),
    ("https://h/?token=a%2Bb+c&page=2", None, None, frozenset({"a%2Bb+c", "a+b+c", "a+b c"})),
    ("https://h/?redirect=https://u:p@x/?sig=s", None, None,
     frozenset({"u:p", "u", "p", "s"})),
    ("https://h/cb#access_token=abc", None, None, frozenset({"abc"})),
    ("http://h/", {"Authorization": "Bearer TOK", "Accept": "text/plain"}, None,
     frozenset({"Bearer TOK", "TOK"})),
    ("http://h/", {"authorization": "Bearer TOK\n"}, None,
     frozenset({"Bearer TOK\n", "Bearer TOK\\n", "Bearer TOK", "TOK"})),
    ("http://h/", {"PROXY-AUTHORIZATION": "Basic Zm9vOmJhcg==", "Cookie": "a=1; sid=xyz"}, None,
     frozenset({"Basic Zm9vOmJhcg==", "Zm9vOmJhcg==", "a=1; sid=xyz", "sid=xyz"})),
    ("http://h/", {"Accept": None, "X-Api-Key": " k1 ", "X-Auth-Token": "t2"}, None,
     frozenset({" k1 ", "k1", "t2"})),
    ("http://h/", {"Authorization": 'Digest username="u", response="r"'}, None,
     frozenset({'Digest username="u", response="r"', 'username="u", response="r"'})),
    ("http://h/", {"Authorization": b"Bearer B\xe9"}, None,
     frozenset({"Bearer B\xe9", "B\xe9", "Bearer B\\xe9", "B\\xe9"})),
    ("http://h/", {"Authorization: Bearer T": "x"}, None, frozenset({"Bearer T", "x"})),
    ("http://h/", {"Authorization: Bearer a:b": "x"}, None, frozenset({"Bearer a:b", "x"})),
    ("http://h/", {"Authorization": ""}, "", frozenset()),
    ("http://h/", None, "pw's", frozenset({"pw's"})),
    ("http://h/", None, 'a"b\'c', frozenset({'a"b\'c', "a\"b\\'c"})),
]


@pytest.mark.parametrize(("url", "headers", "auth_password", "expected"), SECRETS_TABLE)
def test_secrets_of(url: str, headers: Any, auth_password: Any, expected: frozenset) -> None:
    assert secrets_of(url, headers, auth_password) == expected


def test_secrets_of_other_secrets_and_parameter_set() -> None:
    assert secrets_of("http://h/?page=p1", None, None, other_secrets=["proxy-pw", None, ""]) == (
        frozenset({"proxy-pw"})
    )
    assert secrets_of("http://h/?page=p1&token=t", None, None, secret_parameters={"PAGE"}) == (
        frozenset({"p1"})
    )


def test_everything_redact_url_hides_is_a_secret() -> None:
    """Every value removed by redact_url is listed by secrets_of, so an
    exception text quoting the URL is scrubbed to the same effect."""
    for url, redacted in URL_TABLE:
        if "//@" in url:
            continue  # an empty userinfo is marked redacted, but hides nothing
        secrets = secrets_of(url, None, None)
        assert REDACTED not in url
        assert scrub(url, secrets).count(REDACTED) >= redacted.count(REDACTED), url


# --- headers ---------------------------------------------------------------------

HEADER_TABLE = [
    ("Authorization", "Bearer abc.def", "Bearer [redacted]"),
    ("authorization", "  bearer abc ", "bearer [redacted]"),
    ("Authorization", "Basic Zm9vOmJhcg==", "Basic [redacted]"),
    ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=abc",
     "AWS4-HMAC-SHA256 [redacted]"),
    ("Authorization", "Digest username=\"u\", response=\"r\"", "Digest [redacted]"),
    ("Authorization", "Token abc", "Token [redacted]"),
    ("Authorization", "abc def", "[redacted]"),
    ("Authorization", "rawtoken", "[redacted]"),
    ("Authorization", "Bearer", "[redacted]"),
    ("Authorization", "", ""),
    ("Authorization", "  ", "  "),
    ("Proxy-Authorization", "Basic Zm9v", "Basic [redacted]"),
    ("Cookie", "a=1; sid=xyz", "a=[redacted]; sid=[redacted]"),
    ("Cookie", "a=1;;b=2;", "a=[redacted]; b=[redacted]"),
    ("Cookie", "justavalue", "[redacted]"),
    ("Cookie", "a=b=c", "a=[redacted]"),
    ("Set-Cookie", "sid=xyz; Path=/; HttpOnly", "sid=[redacted]; Path=/; HttpOnly"),
    ("Set-Cookie", "sid=xyz", "sid=[redacted]"),
    ("X-Api-Key", "k", "[redacted]"),
    ("X-Auth-Token", "Bearer t", "Bearer [redacted]"),
    ("Accept", "text/plain", "text/plain"),
    ("WWW-Authenticate", 'Bearer realm="x"', 'Bearer realm="x"'),
]


@pytest.mark.parametrize(("name", "value", "expected"), HEADER_TABLE)
def test_redact_header(name: str, value: str, expected: str) -> None:
    assert redact_header(name, value) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Authorization", True), ("PROXY-AUTHORIZATION", True), ("cookie", True),
        ("Set-Cookie", True), (" Authorization ", True), ("X-Authorization", True),
        ("X-Api-Key", True), ("Api-Key", True), ("X_API_KEY", True), ("X-ApiKey", True),
        ("X-Auth-Token", True), ("X-Auth-User", True), ("X-Amz-Security-Token", True),
        ("Private-Token", True), ("X-Client-Secret", True), ("X-Password", True),
        ("X-Session-Id", True), ("X-Credentials", True), ("X-Hub-Signature", True),
        ("Accept", False), ("Content-Type", False), ("WWW-Authenticate", False),
        ("Authentication-Info", False), ("Keep-Alive", False), ("X-Request-Id", False),
        ("Host", False),
    ],
)
def test_is_secret_header(name: str, expected: bool) -> None:
    assert is_secret_header(name) is expected


# --- free text: the lines tornado's curl client logs -------------------------------

TEXT_TABLE = [
    ("> GET /p?token=abc&page=2 HTTP/1.1", "> GET /p?token=[redacted]&page=2 HTTP/1.1"),
    ("> POST /login HTTP/1.1", "> POST /login HTTP/1.1"),
    ("> Authorization: Bearer abc", "> Authorization: Bearer [redacted]"),
    ("> Proxy-Authorization: Basic Zm9v", "> Proxy-Authorization: Basic [redacted]"),
    ("> Cookie: session=abc; lang=en", "> Cookie: session=[redacted]; lang=[redacted]"),
    ("< Set-Cookie: sid=abc; Path=/", "< Set-Cookie: sid=[redacted]; Path=/"),
    ("> Accept: */*", "> Accept: */*"),
    ("> X-Api-Key:abc", "> X-Api-Key:[redacted]"),
    ("< Location: http://u:p@h/next?sig=1&a=2",
     "< Location: http://[redacted]@h/next?sig=[redacted]&a=2"),
    ("[HTTP/2] [1] [authorization: Bearer abc]", "[HTTP/2] [1] [authorization: Bearer [redacted]]"),
    ("[HTTP/2] [1] [cookie: a=b]", "[HTTP/2] [1] [cookie: a=[redacted]]"),
    ("[HTTP/2] [1] [:path: /x?token=abc]", "[HTTP/2] [1] [:path: /x?token=[redacted]]"),
    ("[HTTP/3] [0] [user-agent: curl]", "[HTTP/3] [0] [user-agent: curl]"),
    ("[HTTP/2] [1] OPENED stream for https://u:p@h/?token=t",
     "[HTTP/2] [1] OPENED stream for https://[redacted]@h/?token=[redacted]"),
    ("GET http://u:p@h/?key=k (username: 'bob')",
     "GET http://[redacted]@h/?key=[redacted] (username: 'bob')"),
    ("> b'grant_type=password&password=hunter2&username=bob'",
     "> b'grant_type=password&password=[redacted]&username=bob'"),
    ("> b'client_secret=abc'", "> b'client_secret=[redacted]'"),
    ('> b\'{"password": "hunter2", "user": "bob"}\'',
     '> b\'{"password": "[redacted]", "user": "bob"}\''),
    ('{"refresh_token":"a\\"b", "n": ""}', '{"refresh_token":"[redacted]", "n": ""}'),
    ("Server auth using Basic with user 'tok'en'",
     "Server auth using Basic with user '[redacted]'"),
    ("Proxy auth using Digest with user 'u'", "Proxy auth using Digest with user '[redacted]'"),
    ('{"token": ""}', '{"token": ""}'),
    ("token=abc", "token=[redacted]"),
    ("xtoken=abc", "xtoken=abc"),
    ("a?token=]", "a?token=[redacted]"),
    ("a?token=abcX", "a?token=[redacted]"),
    ("/x?token=abc]&y=1", "/x?token=[redacted]&y=1"),
    ("?sig=s]\nnext", "?sig=[redacted]]\nnext"),
    ("> Authorization: Bearer abc]", "> Authorization: Bearer [redacted]"),
    ("[HTTP/2] [1] [authorization: Bearer abc", "[HTTP/2] [1] [authorization: Bearer [redacted]"),
    ("Trying 127.0.0.1:8080...", "Trying 127.0.0.1:8080..."),
    ("Connected to [::1] port 80", "Connected to [::1] port 80"),
    ("line one token=a\n> Cookie: x=y\n?sig=s]",
     "line one token=[redacted]\n> Cookie: x=[redacted]\n?sig=[redacted]]"),
]


@pytest.mark.parametrize(("text", "expected"), TEXT_TABLE)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_text_takes_another_parameter_set() -> None:
    assert redact_text("> GET /?page=2&token=t HTTP/1.1", {"page"}) == (
        "> GET /?page=[redacted]&token=t HTTP/1.1"
    )


# --- describing bad arguments ------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", "Bearer t", None),
        ("X-Token", b"bytes are fine", None),
        ("X", "\ttab and latin-1 \xe9 and obs-text \x80 and \xff", None),
        ("X", "", None),
        ("Authorization", "Bearer SECRET\n",
         "the value of the header 'Authorization' contains a line break (CR or LF) at index 13 "
         "of 14 (the value is not shown)"),
        ("Cookie", "a=SECRET\r", "the value of the header 'Cookie' contains a line break (CR or "
         "LF) at index 8 of 9 (the value is not shown)"),
        ("X-Key", b"SE\x00CRET", "the value of the header 'X-Key' contains a NUL character at "
         "index 2 of 7 (the value is not shown)"),
        ("X-Key", "SE\x01CRET", "the value of the header 'X-Key' contains a control character at "
         "index 2 of 7 (the value is not shown)"),
        ("X-Key", "SECRET\x7f", "the value of the header 'X-Key' contains a control character at "
         "index 6 of 7 (the value is not shown)"),
        ("X-Key", "SE\u20acCRET", "the value of the header 'X-Key' contains a character that is "
         "not Latin-1 at index 2 of 7 (the value is not shown)"),
        ("X-Count", 5, "the value of the header 'X-Count' must be a str, not int"),
        ("X-None", None, "the value of the header 'X-None' must be a str, not NoneType"),
        (b"Authorization", "x", "a header name must be a str, not bytes"),
        ("", "x", "a header name is empty"),
        ("Authorization: Bearer SECRET", "x",
         "the header name 'Authorization' is followed by the character ':' at index 13: a header "
         "name is a token (letters, digits and !#$%&'*+-.^_`|~)"),
        ("X-Token\n", "x", "the header name 'X-Token' is followed by a line break (CR or LF) at "
         "index 7: a header name is a token (letters, digits and !#$%&'*+-.^_`|~)"),
        ("Bad Name", "x", "the header name 'Bad' is followed by a space at index 3: a header name "
         "is a token (letters, digits and !#$%&'*+-.^_`|~)"),
        (":SECRET", "x", "the header name '' is followed by the character ':' at index 0: a "
         "header name is a token (letters, digits and !#$%&'*+-.^_`|~)"),
        ("\x00SECRET", "x", "the header name '' is followed by a NUL character at index 0: a "
         "header name is a token (letters, digits and !#$%&'*+-.^_`|~)"),
        ("X\x01", "x", "the header name 'X' is followed by a control character at index 1: a "
         "header name is a token (letters, digits and !#$%&'*+-.^_`|~)"),
        ("X\u20ac", "x", "the header name 'X' is followed by a character that is not Latin-1 at "
         "index 1: a header name is a token (letters, digits and !#$%&'*+-.^_`|~)"),
        ("X\x7f", "x", "the header name 'X' is followed by a control character at index 1: a "
         "header name is a token (letters, digits and !#$%&'*+-.^_`|~)"),
        ("X\xff", "x", "the header name 'X' is followed by the character '\xff' at index 1: a "
         "header name is a token (letters, digits and !#$%&'*+-.^_`|~)"),
    ],
)
def test_describe_header_for_error(name: Any, value: Any, expected: Any) -> None:
    assert describe_header_for_error(name, value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/", None),
        ("https://u:p%2Fw@example.com:8443/a?token=t#f", None),
        ("http://[::1]:8080/x", None),
        ("http://h:8080/@scope", None),  # a port, then a path holding "@"
        ("ftp://user:SECRET@h/", "the URL 'ftp://[redacted]@h/' is not an http:// or https:// URL"),
        ("/relative?token=SECRET", "the URL '/relative?token=[redacted]' is not an http:// or "
         "https:// URL"),
        ("http:///path", "the URL 'http:///path' has no host"),
        ("http://u:SECRET@h:99999/", "the URL 'http://[redacted]@h:99999/' does not parse (a bad "
         "port or IPv6 address)"),
        ("http://u:SECRET@h:port/", "the URL 'http://[redacted]@h:port/' does not parse (a bad "
         "port or IPv6 address)"),
        ("http://u:SECRET@[::1/", "the URL 'http://[redacted]@[::1/' does not parse (a bad port "
         "or IPv6 address)"),
        ("http://u:SEC/RET@h/", "the URL 'http://[redacted]@h/' has a user name or password with "
         "an unencoded '/', '?' or '#': percent-encode it (urllib.parse.quote(password, safe=''))"),
        ("http://admin:12#SECRET@h/", "the URL 'http://[redacted]@h/' has a user name or password "
         "with an unencoded '/', '?' or '#': percent-encode it (urllib.parse.quote(password, "
         "safe=''))"),
        ("http://u:SE CRET@h/", "the URL 'http://[redacted]@h/' contains a space"),
        ("http://h/?token=SECRET\r\n", "the URL 'http://h/?token=[redacted]' contains a line "
         "break (CR or LF)"),
        ("http://h/?token=SE\x00CRET", "the URL 'http://h/?token=[redacted]' contains a NUL "
         "character"),
        ("http://h/\t", "the URL 'http://h/\\t' contains a control character"),
        ("http://h/\x7f", "the URL 'http://h/\\x7f' contains a control character"),
        (None, "the URL must be a str, not NoneType"),
        (b"http://u:SECRET@h/", "the URL must be a str, not bytes"),
    ],
)
def test_describe_url_for_error(url: Any, expected: Any) -> None:
    assert describe_url_for_error(url) == expected


# --- real exception texts ------------------------------------------------------------

HEADER_CASES: Dict[str, Dict[str, str]] = {
    "bearer with a newline": {"Authorization": "Bearer TOKEN-1a2b\n"},
    "cookie with CRLF": {"Cookie": "session=COOKIE-3c4d\r\n"},
    "proxy credentials with a CR inside": {"Proxy-Authorization": "Basic PRO\rXY-5e6f"},
    "api key with a non-Latin-1 character": {"X-Api-Key": "KEY-7g8h\u20acKEY-9i0j"},
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "HTTPHeaders"])
async def test_tornado_exception_texts_about_headers_are_scrubbed(
    serve: Any, client_kind: str, case: str, as_object: bool
) -> None:
    """Tornado quotes a bad header line in its exception: the secrets of the
    call, scrubbed, leave nothing of the credential in it."""
    url = serve([(r"/", _Ok)], log_function=_quiet)
    headers: Any = HEADER_CASES[case]
    if as_object:  # tornado 6.5+ checks the values again when copying these
        headers = httputil.HTTPHeaders()
        for name, value in HEADER_CASES[case].items():
            headers[name] = value
    try:
        await httpclient.AsyncHTTPClient().fetch(url + "/", headers=headers)
    except Exception as error:  # which one depends on the client and tornado
        text = f"{type(error).__name__}: {error}"
    else:
        # tornado < 6.4 sends a CR, and its curl client a CR or LF, as they
        # are: http_fetch's own check must refuse them; nothing to scrub here.
        pytest.skip(f"tornado {tornado.version} sends this header without raising")
    scrubbed = scrub(text, secrets_of(url, HEADER_CASES[case], None))
    for value in HEADER_CASES[case].values():
        for part in _parts(value):
            assert part not in scrubbed, (text, scrubbed)


async def test_tornado_exception_text_about_a_scheme_is_scrubbed(client_kind: str) -> None:
    url = "ftp://alice:PASSWORD-1q2w@127.0.0.1:1/?token=TOKEN-3e4r"
    with pytest.raises(Exception) as caught:  # noqa: PT011 - which one depends on the client
        await httpclient.AsyncHTTPClient().fetch(url)
    text = f"{type(caught.value).__name__}: {caught.value}"
    scrubbed = scrub(text, secrets_of(url, None, None))
    assert "PASSWORD-1q2w" not in scrubbed and "TOKEN-3e4r" not in scrubbed, (text, scrubbed)


def _parts(value: str) -> List[str]:
    """The pieces of a secret that must not survive: each run of 4+
    characters between separators and control characters."""
    pieces = []
    for piece in value.replace("\r", " ").replace("\n", " ").replace("\u20ac", " ").split():
        for part in piece.split("="):
            if len(part) >= 4 and part not in ("Bearer", "Basic", "session"):
                pieces.append(part)
    return pieces


# --- tornado's curl client at DEBUG -----------------------------------------------------

URL_PASSWORD = "urlpass-Z9y8"
URL_USER = "tokenuser-X7w6"
QUERY_TOKEN = "querytok-V5u4"
BEARER = "bearer-T3s2"
PROXY = "proxycred-R1q0"
COOKIE_VALUE = "cookie-P9o8"
AUTH_PASSWORD = "authpass-N7m6"
BODY_SECRET = "bodysecret-L5k4"
SET_COOKIE_VALUE = "setcookie-J3i2"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


FORBIDDEN = [
    URL_PASSWORD, URL_USER, QUERY_TOKEN, BEARER, PROXY, COOKIE_VALUE, AUTH_PASSWORD,
    BODY_SECRET, SET_COOKIE_VALUE,
    # what libcurl or tornado derive from them for a Basic Authorization header
    _b64(f"{URL_USER}:{URL_PASSWORD}"), _b64(f"{URL_USER}:"), _b64(f"carol:{AUTH_PASSWORD}"),
]


class _Ok(web.RequestHandler):
    def get(self) -> None:
        self.set_cookie("sid", SET_COOKIE_VALUE)
        self.write("ok")

    post = get


def _quiet(handler: Any) -> None:
    """The test server's own access log would name the query token: the
    server is the peer here, not the code under test."""


def _assert_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records
    for record in caplog.records:
        message = record.getMessage()
        for secret in FORBIDDEN:
            assert secret not in message, f"{secret!r} in {record.name}: {message!r}"
    for secret in FORBIDDEN:
        assert secret not in caplog.text


def _curl_lines(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tornado.curl_httpclient"]


@pytest.fixture
def debug_everything(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The root logger and every logger at DEBUG, as a service might turn on
    for a minute."""
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_no_secret_in_any_debug_record_of_http_fetch(
    serve: Any, caller: Any, sleeps: Any, client_kind: str,
    debug_everything: pytest.LogCaptureFixture,
) -> None:
    base = serve([(r"/.*", _Ok)], log_function=_quiet)
    with_password = base.replace("http://", f"http://{URL_USER}:{URL_PASSWORD}@")
    # 1: the URL's credentials go out as libcurl's own Basic header
    response = await caller.http_fetch(f"{with_password}/p?token={QUERY_TOKEN}&page=2")
    assert response.code == 200
    # 2: every credential header, a form body with a secret, auth arguments
    response = await caller.http_fetch(
        f"{with_password}/form?token={QUERY_TOKEN}",
        method="POST",
        body=f"grant_type=client_credentials&client_secret={BODY_SECRET}",
        content_type="application/x-www-form-urlencoded",
        request_headers={
            "Authorization": f"Bearer {BEARER}",
            "Proxy-Authorization": f"Basic {PROXY}",
            "Cookie": f"session={COOKIE_VALUE}; lang=en",
        },
    )
    assert response.code == 200
    # 3: auth_username/auth_password and a msgpack body naming a password
    response = await caller.http_fetch(
        f"{base}/auth", method="POST", body={"password": BODY_SECRET},
        auth_username="carol", auth_password=AUTH_PASSWORD,
    )
    assert response.code == 200
    _assert_no_secret(debug_everything)
    if client_kind == "curl":
        lines = _curl_lines(debug_everything)
        # the output keeps its use: every line is there, credentials redacted
        assert "> GET /p?token=[redacted]&page=2 HTTP/1.1" in lines
        assert "> Authorization: Basic [redacted]" in lines
        assert "> Authorization: Bearer [redacted]" in lines
        assert "> Proxy-Authorization: Basic [redacted]" in lines
        assert "> Cookie: session=[redacted]; lang=[redacted]" in lines
        assert "< Set-Cookie: sid=[redacted]; Path=/" in lines
        assert "> b'grant_type=client_credentials&client_secret=[redacted]'" in lines
        assert any(line.startswith("> [") and "bytes of binary request body" in line
                   for line in lines)
        assert any(line.startswith("POST http://[redacted]@127.0.0.1:") for line in lines)
        assert any(line.startswith("< HTTP/1.1 200") for line in lines)


async def test_curl_debug_redaction_holds_for_the_applications_own_client(
    serve: Any, io_loop: Any, debug_everything: pytest.LogCaptureFixture
) -> None:
    """A curl client the application made itself, used without the mixin,
    with its own prepare_curl_callback: still redacted, and the callback
    still runs."""
    pytest.importorskip("pycurl")
    from tornado.curl_httpclient import CurlAsyncHTTPClient

    base = serve([(r"/.*", _Ok)], log_function=_quiet)
    prepared: List[Any] = []
    client = CurlAsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(
            base.replace("http://", f"http://{URL_USER}:{URL_PASSWORD}@")
            + f"/own?access_token={QUERY_TOKEN}",
            headers={"Cookie": f"session={COOKIE_VALUE}", "X-Api-Key": BEARER},
            prepare_curl_callback=prepared.append,
        )
    finally:
        client.close()
    assert response.code == 200
    assert len(prepared) == 1
    _assert_no_secret(debug_everything)
    lines = _curl_lines(debug_everything)
    assert "> GET /own?access_token=[redacted] HTTP/1.1" in lines
    assert "> X-Api-Key: [redacted]" in lines


@pytest.mark.parametrize("client_kind", ["curl"], indirect=True)
async def test_a_url_with_a_space_in_the_password_is_refused_without_naming_it(
    caller: Any, sleeps: Any, client_kind: str, debug_everything: pytest.LogCaptureFixture
) -> None:
    """Checked before anything is sent (libcurl would refuse it after tornado
    logged it): the ValueError and the log never show the password."""
    with pytest.raises(ValueError) as raised:
        await caller.http_fetch(
            f"http://{URL_USER}:{URL_PASSWORD[:4]} {URL_PASSWORD[4:]}@127.0.0.1:1/",
            max_http_attempts=1,
        )
    for secret in (URL_USER, URL_PASSWORD[:4], URL_PASSWORD[4:]):
        assert secret not in str(raised.value)
        assert secret not in debug_everything.text


def test_the_filter_is_installed_once_and_takes_another_set() -> None:
    logger = logging.getLogger(_log.CURL_LOGGER_NAME)
    ours = [f for f in logger.filters if isinstance(f, _log._CurlDebugRedaction)]
    assert len(ours) == 1  # by importing sprockets_http
    try:
        install_curl_debug_redaction({"page"})
        again = [f for f in logger.filters if isinstance(f, _log._CurlDebugRedaction)]
        assert again == ours
        record = logging.LogRecord(
            logger.name, logging.DEBUG, __file__, 1, "%s %s",
            (">", "GET /?page=2&token=t HTTP/1.1"), None,
        )
        assert logger.filter(record)
        assert record.getMessage() == "> GET /?page=[redacted]&token=t HTTP/1.1"
        for args, expected in [
            (("GET", "http://h/?page=2&token=t"), "GET http://h/?page=[redacted]&token=t"),
            ((">", b"page=2&token=t"), "> b'page=[redacted]&token=t'"),
            ((">", "page=2&token=t"), "> 'page=[redacted]&token=t'"),
        ]:
            msg = "%s %s" if args[0] == "GET" else "%s %r"
            record = logging.LogRecord(logger.name, logging.DEBUG, __file__, 1, msg, args, None)
            assert logger.filter(record)
            assert record.getMessage() == expected
    finally:
        install_curl_debug_redaction()


def test_the_filter_is_installed_on_a_logger_without_it() -> None:
    """What the import does, on a logger whose filters were cleared."""
    logger = logging.getLogger(_log.CURL_LOGGER_NAME)
    saved = list(logger.filters)
    try:
        for existing in saved:
            logger.removeFilter(existing)
        install_curl_debug_redaction()
        assert len(logger.filters) == 1
        record = logging.LogRecord(
            logger.name, logging.DEBUG, __file__, 1, "%s %s", ("GET", "http://h/?token=t"), None
        )
        assert logger.filter(record)
        assert record.getMessage() == "GET http://h/?token=[redacted]"
    finally:
        for existing in list(logger.filters):
            logger.removeFilter(existing)
        for existing in saved:
            logger.addFilter(existing)


@pytest.mark.parametrize(
    ("msg", "args", "expected"),
    [
        ("%s %s", ("GET", "http://u:p w@h/?token=t"), "GET http://[redacted]@h/?token=[redacted]"),
        ("%s %s (username: %r)", ("POST", "http://u:p@h/", "bob"),
         "POST http://[redacted]@h/ (username: 'bob')"),
        ("%s %s", (">", "Authorization: Bearer t"), "> Authorization: Bearer [redacted]"),
        ("%s %s", ("<", "Set-Cookie: a=b"), "< Set-Cookie: a=[redacted]"),
        ("%s %s", ("<", "Location: http://u:p@h/"), "< Location: http://[redacted]@h/"),
        ("%s", ("[HTTP/2] [1] [cookie: a=b]",), "[HTTP/2] [1] [cookie: a=[redacted]]"),
        ("%s %r", (">", b"password=p&x=1"), "> b'password=[redacted]&x=1'"),
        ("%s %r", (">", b"\x81\xa8password\xa1p"),
         "> [12 bytes of binary request body, not shown]"),
        ("%s %r", (">", b"\xff\xfe"), "> [2 bytes of binary request body, not shown]"),
        ("%s %r", (">", b'{"password": "a\\"b", "x": "\xc3\xa9"}'),
         "> b'{\"password\": \"[redacted]\", \"x\": \"\\xc3\\xa9\"}'"),
        ("%s %r", (">", b"a\x00b"), "> [3 bytes of binary request body, not shown]"),
        ("%s %r", (">", b"a\x7fb"), "> [3 bytes of binary request body, not shown]"),
        ("%s %r", (">", b"line\r\n\tnext"), "> b'line\\r\\n\\tnext'"),
        ("%s %r", (">", "text"), "> 'text'"),
        ("%s %r", (">", "token=t"), "> 'token=[redacted]'"),
        ("%s %r", ("<", "token=t"), "< 'token=[redacted]'"),
        ("plain %s", ({"token": "t"},), "plain {'token': 't'}"),
        ("no args token=t", (), "no args token=[redacted]"),
        ("100% token=t", (), "100% token=[redacted]"),
        ("%(a)s token=%(b)s", {"a": 1, "b": "x"}, "1 token=[redacted]"),
    ],
)
def test_curl_filter_rewrites_each_kind_of_record(msg: str, args: Any, expected: str) -> None:
    record = logging.LogRecord(_log.CURL_LOGGER_NAME, logging.DEBUG, __file__, 1, msg, args, None)
    assert logging.getLogger(_log.CURL_LOGGER_NAME).filter(record)
    assert record.getMessage() == expected


def test_curl_filter_leaves_a_broken_record_to_logging() -> None:
    record = logging.LogRecord(
        _log.CURL_LOGGER_NAME, logging.DEBUG, __file__, 1, "%s %s token=%s", ("only",), None
    )
    assert logging.getLogger(_log.CURL_LOGGER_NAME).filter(record)
    assert (record.msg, record.args) == ("%s %s token=%s", ("only",))


_SCRIPT = textwrap.dedent(
    """
    import asyncio, logging.config, sys
    import sprockets_http  # nothing else: no call to install anything
    from tornado import curl_httpclient, web
    from sprockets_http.testing import serve_loopback

    logging.config.dictConfig({
        "version": 1,
        "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                             "formatter": "plain"}},
        "formatters": {"plain": {"format": "%(name)s|%(message)s"}},
        "loggers": {"tornado.curl_httpclient": {"level": "DEBUG"}},
        "root": {"level": "DEBUG", "handlers": ["out"]},
    })

    class Ok(web.RequestHandler):
        def get(self):
            self.write("ok")

    async def main():
        server, url = serve_loopback(web.Application([(r"/", Ok)], log_function=lambda h: None))
        client = curl_httpclient.CurlAsyncHTTPClient()
        response = await client.fetch(
            url.replace("http://", "http://user:" + sys.argv[1] + "@") + "/?token=" + sys.argv[2],
            headers={"Authorization": "Bearer " + sys.argv[3]},
        )
        print("status|", response.code)
        server.stop()

    asyncio.run(main())
    """
)


def test_an_application_gets_redaction_by_importing_sprockets_http() -> None:
    """A separate process that imports sprockets_http, configures logging
    with dictConfig afterwards and uses a curl client it made itself."""
    pytest.importorskip("pycurl")
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, URL_PASSWORD, QUERY_TOKEN, BEARER],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "status| 200" in result.stdout
    assert "tornado.curl_httpclient|> Authorization: Bearer [redacted]" in result.stdout
    assert "tornado.curl_httpclient|> GET /?token=[redacted] HTTP/1.1" in result.stdout
    for secret in (URL_PASSWORD, QUERY_TOKEN, BEARER):
        assert secret not in result.stdout + result.stderr


# --- describe_outcome and scrub --------------------------------------------------


class _Answer:
    def __init__(self, code: Any, **attributes: Any) -> None:
        self.code = code
        self.__dict__.update(attributes)


@pytest.mark.parametrize(
    ("outcome", "secrets", "expected"),
    [
        (_Answer(503, reason="Service Unavailable"), (), "503 Service Unavailable"),
        (_Answer(204), (), "204"),
        (_Answer(200, reason=""), (), "200"),
        (OSError("cannot reach http://u:pw@h/"), {"pw", "u"}, "OSError: cannot reach "
         "http://[redacted]:[redacted]@h/"),
        (httpclient.HTTPClientError(599, "Timeout"), {"x"}, "HTTPClientError: HTTP 599: Timeout"),
    ],
)
def test_describe_outcome(outcome: Any, secrets: Any, expected: str) -> None:
    assert _log.describe_outcome(outcome, secrets) == expected


def test_describe_outcome_of_an_object_without_a_status() -> None:
    outcome = _Answer("x", reason="r")
    assert _log.describe_outcome(outcome) == f"_Answer: {outcome}"


def test_scrub_replaces_longer_secrets_first() -> None:
    # "b" sorts after "abc" but is shorter: "abc" must go first, whole.
    assert scrub("xabcx b", {"b", "abc"}) == "x[redacted]x [redacted]"
    assert scrub("xabcx", {"abc", "abcx"}) == "x[redacted]"
    assert scrub("nothing here", {"secret"}) == "nothing here"
