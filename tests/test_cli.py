"""The command line: ``python -m sprockets_http fetch`` (and ``demo``).

The command runs as a subprocess (``sys.executable -m sprockets_http``), or
in-process through ``main(argv)``, against Tornado applications served on
loopback from a background thread with its own IOLoop: a subprocess blocks
the test, so the server cannot share the test's loop.
"""

from __future__ import annotations

import asyncio
import base64
import doctest
import importlib.util
import io
import json
import os
import re
import select
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
import umsgpack
from tornado import httpserver, web

from sprockets_http import DEFAULT_USER_AGENT, cli
from sprockets_http._log import LOGGER

REPO = Path(__file__).resolve().parent.parent

MSGPACK_DOC = {
    "id": 1,
    "name": "widget",
    "price": 9.5,
    "tags": ["blue", "small"],
    "checksum": b"\xff\x00\x01",  # not UTF-8: stays bytes, shown as base64
    "stock": {"warehouse": 12, "backorder": None},
}
MSGPACK_AS_JSON = {
    "id": 1,
    "name": "widget",
    "price": 9.5,
    "tags": ["blue", "small"],
    "checksum": "/wAB",
    "stock": {"warehouse": 12, "backorder": None},
}


# --- the upstream -----------------------------------------------------------


class ThreadedServer:
    """A Tornado application served from a background thread's own IOLoop."""

    def __init__(self, app: web.Application, ssl_options: Any = None) -> None:
        self.app = app
        self.ssl_options = ssl_options
        self.port = 0
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cli-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test server did not start")

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_options is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        server = httpserver.HTTPServer(self.app, ssl_options=self.ssl_options)

        async def start() -> None:
            server.add_sockets([sock])

        loop.run_until_complete(start())
        self._ready.set()
        loop.run_forever()
        server.stop()

        async def finish() -> None:
            await asyncio.wait_for(server.close_all_connections(), 5)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            loop.run_until_complete(finish())
        finally:
            loop.close()

    def stop(self) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


class Base(web.RequestHandler):
    @property
    def state(self) -> Dict[str, Any]:
        state: Dict[str, Any] = self.application.settings["state"]
        return state


class Msgpack(Base):
    def get(self) -> None:
        self.set_header("Content-Type", "application/msgpack")
        self.write(umsgpack.packb(MSGPACK_DOC))


class Json(Base):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.write(json.dumps({"greeting": "héllo", "items": [1, 2, 3]}).encode("utf-8"))


class Text(Base):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("plain text, wörld\n".encode())


class Binary(Base):
    def get(self) -> None:
        self.set_header("Content-Type", "application/octet-stream")
        self.write(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")


class BadJson(Base):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(b"{not json")


class Echo(Base):
    """Answers with what it received, the body decoded by its Content-Type."""

    def _echo(self) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        body = self.request.body
        decoded: Any = None
        if body and content_type.startswith("application/msgpack"):
            decoded = umsgpack.unpackb(body)
        elif body and content_type.startswith("application/json"):
            decoded = json.loads(body)
        elif body:
            decoded = body.decode("utf-8", "replace")
        self.write(
            {
                "method": self.request.method,
                "content_type": content_type or None,
                "decoded": decoded,
                "headers": {k: v for k, v in self.request.headers.get_all()},
                "body_length": len(body),
            }
        )

    get = post = put = patch = delete = _echo


class Orders(Base):
    """Takes an order in msgpack or JSON; answers 201 with what it read."""

    def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/msgpack"):
            order = umsgpack.unpackb(self.request.body)
        else:
            order = json.loads(self.request.body)
        self.set_status(201)
        self.write(
            {
                "received": order,
                "as": content_type,
                "correlation_id": self.request.headers.get("Correlation-Id"),
            }
        )


class Flaky(Base):
    """503 for the first ``fail`` calls, then JSON; records X-Retry-Attempt."""

    def get(self) -> None:
        self.state["calls"] += 1
        self.state["retry_headers"].append(self.request.headers.get("X-Retry-Attempt"))
        if self.state["calls"] <= self.state.get("fail", 2):
            self.set_status(503)
            self.write({"message": "warming up"})
            return
        self.write({"ok": True, "calls": self.state["calls"]})


class Broken(Base):
    def get(self) -> None:
        self.state["calls"] += 1
        self.set_status(500)
        self.write({"message": "database down", "detail": {"shard": 7}})


class NotFound(Base):
    def get(self) -> None:
        self.set_status(404)
        self.write({"message": "no such item"})


class Redirect(Base):
    def get(self) -> None:
        self.redirect("/json")


class Slow(Base):
    async def get(self) -> None:
        await asyncio.sleep(1.5)
        self.write({"late": True})


class ToFtp(Base):
    def get(self) -> None:
        self.set_status(302)
        self.set_header("Location", "ftp://127.0.0.1/file")


class Anything(Base):
    """Records what it received (in ``state["received"]``) and answers with
    it, decoded: method, query parameters, Content-Type, the JSON or msgpack
    body, X-Trace and the Basic auth user name (never the password)."""

    def _answer(self) -> None:
        request = self.request
        self.state["received"].append(
            {
                "method": request.method,
                "query": request.query,
                "body": request.body,
                "headers": dict(request.headers.get_all()),
            }
        )
        user = None
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            user = base64.b64decode(authorization[6:]).decode().partition(":")[0]
        body: Any = None
        if request.body and request.headers.get("Content-Type", "").endswith("json"):
            body = json.loads(request.body)
        elif request.body:
            body = umsgpack.unpackb(request.body)
        self.set_header("X-Upstream", "loopback")
        self.write(
            {
                "method": request.method,
                "args": {k: self.get_query_argument(k) for k in request.query_arguments},
                "content_type": request.headers.get("Content-Type"),
                "body": body,
                "x_trace": request.headers.get("X-Trace"),
                "user": user,
            }
        )

    get = post = put = _answer


class Private(Base):
    """Basic auth: ada, password "open sesame"; 401 for anyone else."""

    def get(self) -> None:
        expected = "Basic " + base64.b64encode(b"ada:open sesame").decode()
        if self.request.headers.get("Authorization") != expected:
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Basic realm="cli"')
            self.write({"message": "who are you?"})
            return
        self.write({"user": "ada", "authenticated": True})


class Deep(Base):
    """A valid JSON or msgpack array nested N deep."""

    def get(self, kind: str, depth: str) -> None:
        self.set_header("Content-Type", f"application/{kind}")
        self.write(deep_body(kind, int(depth)))


def deep_body(kind: str, depth: int) -> bytes:
    if kind == "json":
        return b"[" * depth + b"]" * depth
    return b"\x91" * (depth - 1) + b"\x90"


def make_app() -> web.Application:
    return web.Application(
        [
            (r"/msgpack", Msgpack),
            (r"/items/1", Msgpack),
            (r"/orders", Orders),
            (r"/json", Json),
            (r"/text", Text),
            (r"/binary", Binary),
            (r"/bad-json", BadJson),
            (r"/echo", Echo),
            (r"/flaky", Flaky),
            (r"/broken", Broken),
            (r"/missing", NotFound),
            (r"/redirect", Redirect),
            (r"/to-ftp", ToFtp),
            (r"/slow", Slow),
            (r"/anything", Anything),
            (r"/private", Private),
            (r"/deep/(json|msgpack)/([0-9]+)", Deep),
        ],
        state={"calls": 0, "retry_headers": [], "received": []},
    )


@pytest.fixture
def upstream() -> Iterator[ThreadedServer]:
    server = ThreadedServer(make_app())
    yield server
    server.stop()


def clean_environment() -> Dict[str, str]:
    env = dict(os.environ)
    for name in ("HTTP_MAX_CLIENTS", "NO_COLOR", "SPROCKETS_HTTP_PASSWORD"):
        env.pop(name, None)
    return env


def run(*args: str, input: Optional[bytes] = None, cwd: Optional[Path] = None,
        extra_env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m sprockets_http ARGS``; stdout and stderr are bytes."""
    env = clean_environment()
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "sprockets_http", *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        cwd=str(cwd or REPO),
        env=env,
        check=False,
    )


def fetch(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return run("fetch", *args, **kwargs)


def stdout_json(result: subprocess.CompletedProcess[bytes]) -> Any:
    return json.loads(result.stdout.decode("utf-8"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- bodies -----------------------------------------------------------------


def test_msgpack_body_is_printed_as_json(upstream: ThreadedServer) -> None:
    result = fetch(upstream.url + "/msgpack")
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert stdout_json(result) == MSGPACK_AS_JSON  # bytes as base64
    assert result.stdout.startswith(b'{\n  "id": 1,\n  "name": "widget"')  # indented


def test_json_body_is_pretty_printed(upstream: ThreadedServer) -> None:
    result = fetch(upstream.url + "/json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8") == (
        '{\n  "greeting": "héllo",\n  "items": [\n    1,\n    2,\n    3\n  ]\n}\n'
    )


def test_text_body_as_text_and_binary_body_as_bytes(upstream: ThreadedServer) -> None:
    text = fetch(upstream.url + "/text")
    assert text.returncode == 0
    assert text.stdout.decode("utf-8") == "plain text, wörld\n"
    binary = fetch(upstream.url + "/binary")
    assert binary.returncode == 0
    assert binary.stdout == b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary"


def test_raw_writes_the_bytes_as_received(upstream: ThreadedServer) -> None:
    result = fetch("--raw", upstream.url + "/msgpack")
    assert result.returncode == 0, result.stderr
    assert result.stdout == umsgpack.packb(MSGPACK_DOC)
    assert umsgpack.unpackb(result.stdout)["checksum"] == b"\xff\x00\x01"


def test_a_body_that_does_not_decode_is_shown_as_received(upstream: ThreadedServer) -> None:
    result = fetch(upstream.url + "/bad-json")
    assert result.returncode == 0
    assert result.stdout == b"{not json\n"
    assert b"not valid application/json" in result.stderr
    assert b"Traceback" not in result.stderr


# --- the request ------------------------------------------------------------


def test_data_is_sent_as_msgpack_by_default(upstream: ThreadedServer) -> None:
    result = fetch("-d", '{"name": "widget", "sizes": [1, 2]}', upstream.url + "/echo")
    assert result.returncode == 0, result.stderr
    echo = stdout_json(result)
    assert echo["method"] == "POST"  # -d without -X, as with curl
    assert echo["content_type"] == "application/msgpack"
    assert echo["decoded"] == {"name": "widget", "sizes": [1, 2]}
    assert echo["headers"]["Accept"] == "application/json, application/msgpack"
    assert echo["headers"]["User-Agent"] == DEFAULT_USER_AGENT


def test_data_is_sent_as_json_with_json(upstream: ThreadedServer) -> None:
    result = fetch("--json", "-X", "put", "-d", '[1, "two", null]', upstream.url + "/echo")
    assert result.returncode == 0, result.stderr
    echo = stdout_json(result)
    assert echo["method"] == "PUT"
    assert echo["content_type"] == "application/json"
    assert echo["decoded"] == [1, "two", None]


def test_a_json_scalar_is_encoded_too(upstream: ThreadedServer) -> None:
    result = fetch("-X", "PATCH", "-d", '"just a string"', upstream.url + "/echo")
    echo = stdout_json(result)
    assert echo["content_type"] == "application/msgpack"
    assert echo["decoded"] == "just a string"


def test_data_from_a_file_and_from_stdin(upstream: ThreadedServer, tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text('{"order": 42, "note": "ünïcode"}', encoding="utf-8")
    result = fetch("--json", "-d", f"@{path}", upstream.url + "/echo")
    assert result.returncode == 0, result.stderr
    assert stdout_json(result)["decoded"] == {"order": 42, "note": "ünïcode"}
    piped = fetch("-d", "@-", upstream.url + "/echo", input=b'{"from": "stdin"}')
    assert piped.returncode == 0, piped.stderr
    assert stdout_json(piped)["decoded"] == {"from": "stdin"}


def test_a_json_string_goes_as_text_with_another_content_type(
    upstream: ThreadedServer,
) -> None:
    result = fetch("-H", "Content-Type: text/plain", "-d", '"hello there"', upstream.url + "/echo")
    assert result.returncode == 0, result.stderr
    echo = stdout_json(result)
    assert (echo["content_type"], echo["decoded"]) == ("text/plain", "hello there")


def test_headers_are_sent_and_win_over_the_defaults(upstream: ThreadedServer) -> None:
    result = fetch(
        "-H", "Correlation-Id: abc-123",
        "-H", "X-Tag: one",
        "-H", "x-tag: two",
        "-H", "Accept: application/json",
        "--user-agent", "cli-test/1.0",
        "-X", "DELETE",
        upstream.url + "/echo",
    )
    assert result.returncode == 0, result.stderr
    echo = stdout_json(result)
    assert echo["method"] == "DELETE"
    headers = echo["headers"]
    assert headers["Correlation-Id"] == "abc-123"
    assert headers["X-Tag"] == "one, two"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == "cli-test/1.0"
    assert echo["body_length"] == 0


def test_a_content_type_header_decides_the_body_encoding(upstream: ThreadedServer) -> None:
    result = fetch(
        "-H", "Content-Type: application/vnd.example+json", "-d", '{"a": 1}',
        upstream.url + "/echo",
    )
    echo = stdout_json(result)
    assert echo["content_type"] == "application/vnd.example+json"
    assert echo["body_length"] == len(b'{"a":1}')


def test_follow_redirects(upstream: ThreadedServer) -> None:
    stay = fetch(upstream.url + "/redirect")
    assert stay.returncode == 0  # a 302 is "ok" (200-399)
    assert stay.stdout == b""
    follow = fetch("--follow-redirects", upstream.url + "/redirect")
    assert follow.returncode == 0
    assert stdout_json(follow)["greeting"] == "héllo"


# --- retries and failures ---------------------------------------------------


def test_retries_with_verbose_show_a_table(upstream: ThreadedServer) -> None:
    result = fetch("-v", "--retry-timeout", "0", upstream.url + "/flaky")
    assert result.returncode == 0, result.stderr
    assert stdout_json(result) == {"ok": True, "calls": 3}
    assert upstream.app.settings["state"]["retry_headers"] == [None, "2", "3"]
    lines = result.stderr.decode("utf-8").splitlines()
    table = [line for line in lines if not line.startswith("log: ")]
    assert table[0].split() == ["attempt", "status", "or", "exception", "duration", "wait",
                                "before", "next"]
    assert table[1].split()[:4] == ["1", "503", "Service", "Unavailable"]
    assert table[1].endswith("0.0 s")
    assert table[2].split()[:4] == ["2", "503", "Service", "Unavailable"]
    assert table[3].split()[:3] == ["3", "200", "OK"]
    assert table[3].endswith("-")
    assert "ms" in table[1]  # each attempt's duration
    assert table[4].startswith(f"GET {upstream.url}/flaky: 200 OK after 3 attempts in ")
    # -v also shows the library's warnings, one per failed attempt
    warnings = [line for line in lines if line.startswith("log: sprockets_http WARNING")]
    assert len(warnings) == 2


def test_without_verbose_stderr_stays_quiet(upstream: ThreadedServer) -> None:
    result = fetch("--retry-timeout", "0", upstream.url + "/flaky")
    assert result.returncode == 0
    assert result.stderr == b""


def test_a_failing_upstream_exits_1_and_prints_the_error_body(
    upstream: ThreadedServer,
) -> None:
    result = fetch("--retry-timeout", "0", "--attempts", "2", upstream.url + "/broken")
    assert result.returncode == 1
    # the whole error document, not only its "message"
    assert stdout_json(result) == {"message": "database down", "detail": {"shard": 7}}
    assert upstream.app.settings["state"]["calls"] == 2
    stderr = result.stderr.decode("utf-8").splitlines()
    assert len(stderr) == 1  # one summary line; no warnings without -v
    assert stderr[0].startswith(f"python -m sprockets_http: GET {upstream.url}/broken failed ")
    assert stderr[0].endswith(": 500 Internal Server Error")
    assert " after 2 attempts in " in stderr[0]


def test_a_client_error_is_not_retried(upstream: ThreadedServer) -> None:
    result = fetch("-v", "--retry-timeout", "0", upstream.url + "/missing")
    assert result.returncode == 1
    assert stdout_json(result) == {"message": "no such item"}
    stderr = result.stderr.decode()
    assert "failed after 1 attempt in " in stderr and stderr.endswith(": 404 Not Found\n")


def test_connection_refused(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = fetch("-v", "--retry-timeout", "0", "--attempts", "2", url)
    assert result.returncode == 1
    assert result.stdout == b""
    stderr = result.stderr.decode()
    table = [line for line in stderr.splitlines() if not line.startswith("log: ")]
    assert table[1].split()[:2] == ["1", "ConnectionRefusedError:"]
    assert table[2].split()[:2] == ["2", "ConnectionRefusedError:"]
    assert "Traceback" not in stderr


def test_timeout(upstream: ThreadedServer) -> None:
    result = fetch("--timeout", "0.2", "--attempts", "1", upstream.url + "/slow")
    assert result.returncode == 1
    assert b"Timeout" in result.stderr
    assert b"Traceback" not in result.stderr


# --- usage errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-d", "{not json"], "-d is not valid JSON"),
        (["-d", ""], "-d is not valid JSON"),
        (["-d", "@/nonexistent/body.json"], "cannot read '/nonexistent/body.json'"),
        (["-H", "no colon here"], "expected 'Name: value'"),
        (["-H", "Bad Name: x"], "not a valid header name"),
        (["-H", "X: a\x01b"], "control characters"),
        (["-H", "Content-Type: text/plain", "-d", '{"a": 1}'], "only JSON and msgpack"),
        (["-H", "Content-Type: text/plain", "-d", "42"], "only JSON and msgpack"),
        (["-X", "GET /x HTTP/1.1"], "not a valid method name"),
        (["name"], "'name' is not a request item"),
        (["count:=two"], "'count:=': not valid JSON"),
        (["Bad Name:x"], "header 'Bad Name': not a valid header name"),
        (["X-Trace:"], "header 'X-Trace' has no value"),
        (["a=1", "a=2"], "the body field 'a' is given twice"),
        (["-d", "{}", "a=1"], "-d and body fields (NAME=TEXT, NAME:=JSON) cannot be combined"),
        (["-a", ":pw"], "-a: the user name is empty"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    upstream: ThreadedServer, args: List[str], expected: str
) -> None:
    result = fetch(upstream.url + "/echo", *args)  # options and items after the URL
    assert result.returncode == 2
    assert result.stdout == b""
    stderr = result.stderr.decode()
    assert stderr.count("\n") == 1, stderr
    assert expected in stderr
    assert stderr.startswith("python -m sprockets_http: error: ")
    assert "Traceback" not in stderr


def test_a_bad_file_is_reported(tmp_path: Path, upstream: ThreadedServer) -> None:
    path = tmp_path / "body.json"
    path.write_bytes(b"\xff\xfe not json")
    result = fetch("-d", f"@{path}", upstream.url + "/echo")
    assert result.returncode == 2
    assert result.stderr.count(b"\n") == 1
    assert b"is not valid JSON" in result.stderr


@pytest.mark.parametrize("url", ["example.com/path", "ftp://127.0.0.1/", "http://", "http://h:x/"])
def test_an_invalid_url_exits_2(url: str) -> None:
    result = fetch(url)
    assert result.returncode == 2
    assert result.stderr.count(b"\n") == 1
    assert b"invalid URL" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "http://user:S3CRET@127.0.0.1:99999/x",
        "ftp://user:S3CRET@127.0.0.1/",
        "http://user:S3CRET/x@127.0.0.1/",  # urllib's error quotes "S3CRET" as the port
    ],
)
def test_an_invalid_url_with_a_password_is_reported_without_it(url: str) -> None:
    result = fetch(url)
    assert result.returncode == 2
    assert b"invalid URL" in result.stderr
    assert b"S3CRET" not in result.stderr


def test_a_redirect_to_an_unsupported_scheme_is_the_servers_answer(
    upstream: ThreadedServer,
) -> None:
    # Not a usage error: the server's 302 is printed as the result (exit 0).
    result = fetch("--follow-redirects", upstream.url + "/to-ftp")
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["fetch"],
        ["fetch", "--attempts", "0", "http://127.0.0.1/"],
        ["fetch", "--retry-timeout", "-1", "http://127.0.0.1/"],
        ["fetch", "--timeout", "nan", "http://127.0.0.1/"],
        ["fetch", "--json", "--msgpack", "http://127.0.0.1/"],
        ["nonsense"],
    ],
)
def test_usage_errors_exit_2(args: List[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert b"usage:" in result.stderr
    assert b"Traceback" not in result.stderr


def test_an_unknown_option_is_named_without_the_value_after_it() -> None:
    result = run("fetch", "http://127.0.0.1/", "--auth-typo", "user:s3cret", "--colr")
    assert result.returncode == 2
    assert b"unrecognized arguments: --auth-typo --colr" in result.stderr
    assert b"s3cret" not in result.stderr


def test_help_explains_logging_and_exit_status() -> None:
    result = run("fetch", "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    for option in ("-X", "-H", "-d", "--msgpack", "--json", "--attempts", "--retry-timeout",
                   "--timeout", "--connect-timeout", "--follow-redirects", "--insecure",
                   "--user-agent", "--raw", "-v", "-a USER[:PASSWORD]", "-i, --include",
                   "--color", "--no-color", "SPROCKETS_HTTP_PASSWORD"):
        assert option in text
    assert "logging:" in text and "-v shows the warnings" in text
    assert "exit status:" in text
    assert "request items (httpie's):" in text and "NAME:=JSON" in text


# --- TLS ----------------------------------------------------------------------


def test_insecure_skips_certificate_validation() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = ThreadedServer(make_app(), ssl_options=context)
    try:
        refused = fetch("--attempts", "1", server.url + "/json")
        assert refused.returncode == 1
        assert b"CERTIFICATE_VERIFY_FAILED" in refused.stderr
        accepted = fetch("--insecure", server.url + "/json")
        assert accepted.returncode == 0, accepted.stderr
        assert stdout_json(accepted)["items"] == [1, 2, 3]
    finally:
        server.stop()


# --- in process: main(argv), the live line, the console script -----------------


def test_main_is_callable_with_argv(
    upstream: ThreadedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["fetch", upstream.url + "/msgpack"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == MSGPACK_AS_JSON
    assert err == ""
    assert cli.main(["fetch", "-d", "[", upstream.url + "/echo"]) == 2
    assert "-d is not valid JSON" in capsys.readouterr().err
    assert cli.main(["fetch", "--retry-timeout", "0", upstream.url + "/broken"]) == 1
    assert cli.main(["--version"]) == 0


def test_main_restores_the_loggers(upstream: ThreadedServer) -> None:
    logger = LOGGER
    before = (logger.level, logger.propagate, list(logger.handlers))
    cli.main(["fetch", "-vv", "--retry-timeout", "0", upstream.url + "/flaky"])
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_live_line_counts_down_on_a_terminal(
    upstream: ThreadedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream.app.settings["state"]["fail"] = 1
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert cli.main(["fetch", "--retry-timeout", "0.35", upstream.url + "/flaky"]) == 0
    shown = terminal.getvalue()
    counts = re.findall(
        r"\r503 Service Unavailable, retrying in (0\.\d) s \(attempt 2 of 3\)\x1b\[K", shown
    )
    assert len(counts) >= 2 and counts == sorted(counts, reverse=True)  # counting down
    assert shown.endswith("\r\x1b[K")  # erased once the wait is over
    assert json.loads(sys.stdout.getvalue()) == {"ok": True, "calls": 2}


def test_no_live_line_when_stderr_is_not_a_terminal(
    upstream: ThreadedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["fetch", "--retry-timeout", "0.2", upstream.url + "/flaky"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_live_line_on_a_real_terminal(upstream: ThreadedServer) -> None:
    upstream.app.settings["state"]["fail"] = 1
    primary, secondary = os.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "sprockets_http", "fetch", "--retry-timeout", "0.3",
             upstream.url + "/flaky"],
            stdout=subprocess.PIPE, stderr=secondary, timeout=60, check=False,
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    assert process.returncode == 0
    assert re.search(
        rb"503 Service Unavailable, retrying in 0\.\d s \(attempt 2 of 3\)", b"".join(chunks)
    )


def test_the_console_script() -> None:
    script = Path(sys.executable).parent / "sprockets-http"
    if not script.exists():
        pytest.skip(f"{script} is not installed")
    result = subprocess.run([str(script), "fetch", "--help"], capture_output=True,
                            timeout=60, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith(b"usage: sprockets-http fetch")


# --- request items, -i, -a (httpie's forms) -------------------------------------------

ANSI = re.compile(rb"\x1b\[[0-9;]*m")


def test_the_acceptance_line(upstream: ThreadedServer) -> None:
    """``fetch URL name=ada count:=2 X-Trace:abc page==2 -i -a user:secret``
    sends the JSON body, the header, the query parameter and Basic auth, and
    prints the status line and headers before the decoded body; the password
    appears nowhere in the output."""
    result = fetch(
        upstream.url + "/anything", "name=ada", "count:=2", "X-Trace:abc", "page==2", "-i",
        "-a", "user:secret",
    )
    assert result.returncode == 0, result.stderr
    (received,) = upstream.app.settings["state"]["received"]
    assert received["method"] == "POST"
    assert json.loads(received["body"]) == {"name": "ada", "count": 2}
    assert received["headers"]["Content-Type"] == "application/json"
    assert received["headers"]["Accept"] == "application/json, */*;q=0.5"
    assert received["headers"]["X-Trace"] == "abc"
    assert received["query"] == "page=2"
    assert received["headers"]["Authorization"] == "Basic " + base64.b64encode(
        b"user:secret"
    ).decode()

    out = result.stdout.decode("utf-8")
    head, blank, body = out.partition("\n\n")
    assert blank
    lines = head.splitlines()
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "X-Upstream: loopback" in lines[1:]
    assert "Content-Type: application/json; charset=UTF-8" in lines[1:]
    assert all(re.fullmatch(r"[A-Za-z0-9-]+: .*", line) for line in lines[1:])
    assert json.loads(body) == {
        "method": "POST",
        "args": {"page": "2"},
        "content_type": "application/json",
        "body": {"name": "ada", "count": 2},
        "x_trace": "abc",
        "user": "user",
    }
    assert body.startswith('{\n  "method": "POST",')  # decoded, indented
    everything = result.stdout + result.stderr
    assert b"secret" not in everything
    assert base64.b64encode(b"user:secret") not in everything
    assert result.stderr == b""


def test_body_fields_as_msgpack(upstream: ThreadedServer) -> None:
    result = fetch("--msgpack", upstream.url + "/anything", "tags:=[1, 2]", "n=x")
    assert result.returncode == 0, result.stderr
    (received,) = upstream.app.settings["state"]["received"]
    assert received["headers"]["Content-Type"] == "application/msgpack"
    assert umsgpack.unpackb(received["body"]) == {"tags": [1, 2], "n": "x"}


def test_items_and_options_in_any_order(upstream: ThreadedServer) -> None:
    result = fetch("-i", upstream.url + "/anything", "a==1", "--attempts", "1", "X-Trace:t",
                   "-X", "PUT", "b=2")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout.decode().partition("\n\n")[2])
    assert (body["method"], body["args"], body["x_trace"], body["body"]) == (
        "PUT", {"a": "1"}, "t", {"b": "2"}
    )


def test_include_shows_an_error_response_too(upstream: ThreadedServer) -> None:
    result = fetch("-i", upstream.url + "/missing")
    assert result.returncode == 1
    head, _, body = result.stdout.decode().partition("\n\n")
    assert head.splitlines()[0] == "HTTP/1.1 404 Not Found"
    assert json.loads(body) == {"message": "no such item"}


def test_include_with_an_empty_body_prints_the_head_alone(upstream: ThreadedServer) -> None:
    result = fetch("-i", upstream.url + "/redirect")
    assert result.returncode == 0
    out = result.stdout.decode()
    assert out.startswith("HTTP/1.1 302 Found\n")
    assert "Location: /json\n" in out
    assert not out.endswith("\n\n")


def test_include_with_raw(upstream: ThreadedServer) -> None:
    result = fetch("-i", "--raw", upstream.url + "/msgpack")
    head, _, body = result.stdout.partition(b"\n\n")
    assert head.startswith(b"HTTP/1.1 200 OK\n")
    assert body == umsgpack.packb(MSGPACK_DOC)


@pytest.mark.parametrize("verbose", ["-v", "-vv"])
def test_the_password_is_never_shown_while_retrying(
    upstream: ThreadedServer, verbose: str
) -> None:
    result = fetch(verbose, "-i", "--retry-timeout", "0", "-a", "user:s3cret-pw",
                   upstream.url + "/flaky")
    assert result.returncode == 0, result.stderr
    assert b"log: sprockets_http" in result.stderr  # the warnings were shown
    assert b"s3cret-pw" not in result.stdout + result.stderr
    assert base64.b64encode(b"user:s3cret-pw") not in result.stdout + result.stderr
    failed = fetch(verbose, "--attempts", "2", "--retry-timeout", "0", "-a", "user:s3cret-pw",
                   f"http://127.0.0.1:{free_port()}/")
    assert failed.returncode == 1
    assert b"ConnectionRefusedError" in failed.stderr
    assert b"s3cret-pw" not in failed.stdout + failed.stderr


def test_the_password_from_the_environment(upstream: ThreadedServer) -> None:
    result = fetch("-a", "ada", upstream.url + "/private",
                   extra_env={"SPROCKETS_HTTP_PASSWORD": "open sesame"})
    assert result.returncode == 0, result.stderr
    assert stdout_json(result) == {"user": "ada", "authenticated": True}
    assert b"open sesame" not in result.stdout + result.stderr


def test_no_password_and_no_terminal_is_a_usage_error(upstream: ThreadedServer) -> None:
    result = fetch("-a", "ada", upstream.url + "/private")  # stdin: /dev/null
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode() == (
        "python -m sprockets_http: error: -a: no password: give USER:PASSWORD, set "
        "SPROCKETS_HTTP_PASSWORD, or run with standard input on a terminal to be asked for it\n"
    )
    assert upstream.app.settings["state"]["received"] == []  # nothing was sent


def read_terminal(primary: int, until: Optional[bytes] = None, timeout: float = 60) -> bytes:
    """What the other side of a pseudo-terminal wrote: up to *until*, or to
    the end (all its writers closed)."""
    chunks = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if until is not None and until in chunks:
            break
        ready, _, _ = select.select([primary], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: every writer closed
            break
        if not chunk:
            break
        chunks += chunk
    return chunks.replace(b"\r\n", b"\n")


def on_terminal(
    *args: str, env: Optional[Dict[str, str]] = None, command: Optional[List[str]] = None
) -> Tuple[int, bytes, bytes]:
    """Run the command with its stdout on a pseudo-terminal: (exit status,
    what the terminal showed, stderr)."""
    primary, secondary = os.openpty()
    environment = clean_environment()
    environment.update({"TERM": "xterm-256color", "PYTHONIOENCODING": "utf-8"})
    environment.update(env or {})
    try:
        process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "sprockets_http"]), *args],
            stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE,
            env=environment, cwd=str(REPO),
        )
        os.close(secondary)
        shown = read_terminal(primary)
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(primary)
    return process.returncode, shown, stderr


needs_pty = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
needs_pygments = pytest.mark.skipif(
    importlib.util.find_spec("pygments") is None, reason="needs Pygments"
)


@needs_pty
@needs_pygments
def test_colour_on_a_terminal_and_plain_when_piped(upstream: ThreadedServer) -> None:
    status, shown, stderr = on_terminal("fetch", "-i", upstream.url + "/json")
    assert status == 0, stderr
    assert shown.count(b"\x1b[") >= 6  # status, header names, keys, values
    piped = fetch("-i", upstream.url + "/json")
    assert b"\x1b" not in piped.stdout
    # the same text, but for the colour (and the Date header)
    without_dates = re.compile(rb"^Date: .*$", re.M)
    assert without_dates.sub(b"", ANSI.sub(b"", shown)) == without_dates.sub(b"", piped.stdout)
    forced = fetch("--color", upstream.url + "/json")
    assert b"\x1b[" in forced.stdout
    assert ANSI.sub(b"", forced.stdout) == fetch(upstream.url + "/json").stdout


@needs_pty
@pytest.mark.parametrize(
    ("options", "env"),
    [([], {"NO_COLOR": "1"}), (["--no-color"], {}), ([], {"TERM": "dumb"})],
)
def test_no_colour_on_a_terminal_when_told(
    upstream: ThreadedServer, options: List[str], env: Dict[str, str]
) -> None:
    status, shown, stderr = on_terminal("fetch", *options, upstream.url + "/msgpack", env=env)
    assert status == 0, stderr
    assert b"\x1b" not in shown
    assert json.loads(shown) == MSGPACK_AS_JSON


NO_PYGMENTS = [
    sys.executable, "-c",
    "import sys; sys.modules['pygments'] = None\n"
    "from sprockets_http.cli import main; sys.exit(main())",
]


@needs_pty
def test_plain_on_a_terminal_without_pygments(upstream: ThreadedServer) -> None:
    status, shown, stderr = on_terminal("fetch", upstream.url + "/msgpack", command=NO_PYGMENTS)
    assert status == 0, stderr
    assert stderr == b""
    assert b"\x1b" not in shown
    assert json.loads(shown) == MSGPACK_AS_JSON


def test_color_without_pygments_says_so(upstream: ThreadedServer) -> None:
    result = subprocess.run(
        [*NO_PYGMENTS, "fetch", "--color", upstream.url + "/json"],
        capture_output=True, timeout=60, check=False, env=clean_environment(),
    )
    assert result.returncode == 0
    assert b"\x1b" not in result.stdout
    assert json.loads(result.stdout)["items"] == [1, 2, 3]
    assert result.stderr == (
        b"warning: --color needs Pygments: pip install 'sprockets-http-client[cli]'\n"
    )


@needs_pty
def test_binary_data_is_not_written_to_a_terminal(upstream: ThreadedServer) -> None:
    status, shown, stderr = on_terminal("fetch", upstream.url + "/binary")
    assert status == 0, stderr
    assert shown == (
        b"[17 bytes of application/octet-stream not shown on a terminal: "
        b"use --raw and send the output to a file]\n"
    )


@needs_pty
def test_the_password_prompt_does_not_echo(upstream: ThreadedServer) -> None:
    """-a ada with stdin on a terminal: getpass asks, with echo off."""
    primary, secondary = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "sprockets_http", "fetch", "-a", "ada",
             upstream.url + "/private"],
            stdin=secondary, stdout=subprocess.PIPE, stderr=secondary,
            env=clean_environment(), cwd=str(REPO),
            start_new_session=True,  # no controlling terminal: getpass uses stdin
        )
        os.close(secondary)
        prompt = read_terminal(primary, until=b"Password for ada: ")
        assert prompt.endswith(b"Password for ada: "), prompt
        os.write(primary, b"open sesame\n")
        rest = read_terminal(primary)
        stdout, _ = process.communicate(timeout=60)
    finally:
        os.close(primary)
    assert process.returncode == 0, rest
    assert json.loads(stdout) == {"user": "ada", "authenticated": True}
    assert b"open sesame" not in prompt + rest + stdout


@pytest.mark.parametrize(
    ("kind", "depth"), [("json", 800), ("msgpack", 800), ("json", 100_000), ("msgpack", 100_000)]
)
def test_a_deeply_nested_body_is_printed_not_a_traceback(
    upstream: ThreadedServer, kind: str, depth: int
) -> None:
    """Issue 8: a valid document nested 800 (or 100,000) deep: exit 0, the
    body on one line (or as received), one warning line."""
    result = fetch(upstream.url + f"/deep/{kind}/{depth}")
    assert result.returncode == 0, result.stderr[-2000:]
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr and stderr.count("\n") == 1
    if depth == 800:
        assert result.stdout == b"[" * depth + b"]" * depth + b"\n"
        assert stderr == f"warning: the body is nested {depth} levels deep: shown on one line\n"
    else:
        expected = deep_body(kind, depth)
        assert result.stdout == (expected + b"\n" if kind == "json" else expected)
        name = "JSON" if kind == "json" else "msgpack"
        assert stderr == (
            f"warning: the {name} body is nested too deep to decode; shown as received\n"
        )


def test_a_deep_body_with_verbose_and_include(upstream: ThreadedServer) -> None:
    result = fetch("-v", "-i", upstream.url + "/deep/json/800")
    assert result.returncode == 0
    assert result.stdout.startswith(b"HTTP/1.1 200 OK\n")
    assert result.stdout.endswith(b"\n\n" + b"[" * 800 + b"]" * 800 + b"\n")
    assert b"Traceback" not in result.stderr


# --- the output helpers and demo ---------------------------------------------


def test_demo_still_works() -> None:
    result = run("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.count("503 Service Unavailable") == 2
    assert out.count("then waited 1.0 s") == 2
    assert "attempt 3 of 3: 200 OK" in out
    body = out.split("decoded body:\n", 1)[1]
    assert json.loads(body) == {"greeting": "hello from upstream", "attempt": 3, "ok": True}



# --- docs/cli.rst: every console example runs ---------------------------------

DOCS_CLI = REPO / "docs" / "cli.rst"
DOCS_HOST = "http://127.0.0.1:8000"


def console_examples(text: str) -> List[List[tuple[str, str]]]:
    """The ``.. code-block:: console`` blocks of *text*: for each, a list of
    (command, expected output) pairs, from ``$ `` lines and what follows."""
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: console\n", text, re.M):
        lines: List[str] = []
        for line in text[match.end():].splitlines():
            if line.strip() and not line.startswith("   "):
                break
            lines.append(line[3:])
        pairs: List[tuple[str, str]] = []
        for line in "\n".join(lines).strip("\n").splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:], ""))
            else:
                command, output = pairs[-1]
                pairs[-1] = (command, output + line + "\n")
        blocks.append(pairs)
    return blocks


def test_the_docs_have_console_examples() -> None:
    blocks = console_examples(DOCS_CLI.read_text(encoding="utf-8"))
    commands = [command for block in blocks for command, _ in block]
    assert len(blocks) >= 7
    assert all(
        c.startswith(("python -m sprockets_http ", "echo ", "wc ", "SPROCKETS_HTTP_PASSWORD="))
        for c in commands
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="the examples are shell commands")
@pytest.mark.parametrize(
    "index", range(len(console_examples(DOCS_CLI.read_text(encoding="utf-8"))))
)
def test_docs_console_example(index: int, tmp_path: Path) -> None:
    """Run one console block of docs/cli.rst against a fresh loopback upstream
    standing in for 127.0.0.1:8000; its output must match (``...`` matches
    anything, whitespace is normalized)."""
    block = console_examples(DOCS_CLI.read_text(encoding="utf-8"))[index]
    server = ThreadedServer(make_app())
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    env.pop("HTTP_MAX_CLIENTS", None)
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    try:
        for command, expected in block:
            command = command.replace(
                "python -m sprockets_http", f"{shlex.quote(sys.executable)} -m sprockets_http"
            ).replace(DOCS_HOST, server.url)
            expected = expected.replace(DOCS_HOST, server.url)
            result = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, timeout=60, check=False,
            )
            got = result.stdout.decode("utf-8")
            assert checker.check_output(expected, got, flags), (
                f"$ {command}\n--- expected:\n{expected}--- got:\n{got}"
            )
    finally:
        server.stop()
