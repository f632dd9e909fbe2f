"""Every code example in the documentation runs here.

The examples live as files under ``examples/`` and the docs include them with
``literalinclude``; each is imported and run against real Tornado servers on
127.0.0.1. The ``>>>`` examples in README.rst and docs/*.rst run through
doctest, and a check makes sure no other Python code block slips into the
docs unexecuted.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import pathlib
import re
import subprocess
import sys
import types
from typing import Any, Dict, List

import pytest
from oauthlib import oauth1
from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint
from tornado import httpclient, testing, web

import sprockets_http
from sprockets_http.testing import Answer

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"
README = ROOT / "README.rst"


def load_example(name: str) -> types.ModuleType:
    """Import examples/NAME.py as a fresh module."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"docs_example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def closed_port_url() -> str:
    sock, port = testing.bind_unused_port()
    sock.close()
    return f"http://127.0.0.1:{port}"


# --- examples/handler.py (README, quickstart, handlers) ---------------------


# The users API's answers.
TRY_AGAIN = {"message": "try again"}
ADA = Answer(200, {"id": "ada", "name": "Ada"}, content_type="application/msgpack")


async def test_handler_example_retries_and_answers(serve, scripted_upstream, sleeps):
    handler = load_example("handler")
    service = serve(handler.make_app(scripted_upstream.url))
    users = scripted_upstream.route("GET", "/users/ada", Answer(503, TRY_AGAIN), ADA)

    answer = await httpclient.AsyncHTTPClient().fetch(f"{service}/users/ada")

    assert json.loads(answer.body) == {"user": {"id": "ada", "name": "Ada"}, "attempts": 2}
    assert sleeps == [3]
    assert [seen.headers["User-Agent"] for seen in users.requests] == [
        "profile-service/1.4.0"
    ] * 2
    assert [seen.headers.get("X-Retry-Attempt") for seen in users.requests] == [None, "2"]


async def test_handler_example_maps_failures(serve, scripted_upstream, sleeps):
    handler = load_example("handler")
    app = handler.make_app(scripted_upstream.url)
    service = serve(app)
    client = httpclient.AsyncHTTPClient()

    scripted_upstream.route("GET", "/users/nobody", Answer(404, TRY_AGAIN))
    answer = await client.fetch(f"{service}/users/nobody", raise_error=False)
    assert answer.code == 404 and len(scripted_upstream.requests) == 1

    scripted_upstream.route("GET", "/users/ada", *[Answer(500, TRY_AGAIN)] * 3)
    answer = await client.fetch(f"{service}/users/ada", raise_error=False)
    assert answer.code == 502
    assert json.loads(answer.body) == {"upstream_status": 500, "attempts": 3}

    app.settings["users_api"] = closed_port_url()
    answer = await client.fetch(f"{service}/users/ada", raise_error=False)
    assert answer.code == 502
    assert json.loads(answer.body) == {"upstream_status": 599, "attempts": 3}


def test_readme_handler_example_is_examples_handler_py():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert (EXAMPLES / "handler.py").read_text(encoding="utf-8").strip() in blocks


# --- examples/testing_handlers.py (testing) -----------------------------------


def test_testing_handlers_example_passes():
    # The example is a test module for pytest; run it as a reader would.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(EXAMPLES / "testing_handlers.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b3 passed\b", result.stdout), result.stdout


# --- examples/responses.py (quickstart) ---------------------------------------


class Invalid(web.RequestHandler):
    def post(self) -> None:
        self.set_status(422)
        self.write({"message": "title is required", "field": "title"})

    get = post


async def test_responses_example_show(scripted_upstream, sleeps, capsys):
    responses = load_example("responses")
    scripted_upstream.route(
        "GET", "/items",
        Answer(503, headers={"Retry-After": "1"}),
        Answer(200, b'{"items": [1, 2, 3]}', headers={
            "Content-Type": "application/json",
            "Link": '</items?page=2>; rel="next", </items?page=9>; rel="last"',
        }),
    )

    response = await responses.show(f"{scripted_upstream.url}/items")

    assert response.ok and sleeps == [1.0]
    lines = capsys.readouterr().out.splitlines()
    assert lines[:8] == [
        "ok: True code: 200",
        "attempts: 2",
        "statuses: [503, 200]",
        "exceptions: []",
        "waits: [1.0]",
        "content type: application/json",
        "links: [{'target': '/items?page=2', 'rel': 'next'}, "
        "{'target': '/items?page=9', 'rel': 'last'}]",
        "body: {'items': [1, 2, 3]}",
    ]
    assert lines[8].startswith("duration: ")


async def test_responses_example_unreachable(sleeps, capsys):
    responses = load_example("responses")
    response = await responses.show(closed_port_url())
    assert not response.ok and response.code == 599
    assert sleeps == [0.5, 1.0]
    out = capsys.readouterr().out
    assert "exceptions: ['ConnectionRefusedError', 'ConnectionRefusedError', " \
           "'ConnectionRefusedError']" in out
    assert "links: None" in out and "body: None" in out


async def test_responses_example_error_bodies(serve, sleeps, capsys):
    responses = load_example("responses")
    url = serve([("/photos", Invalid)])
    await responses.error_bodies(f"{url}/photos")
    assert capsys.readouterr().out.splitlines() == [
        "simplified: title is required",
        "whole: {'message': 'title is required', 'field': 'title'}",
    ]


# --- examples/consumer.py, testing_consumer.py (consumers) ---------------------
# tests/test_rejected_consumers.py runs examples/consumer.py with the real
# rejected: through rejected's test harness, and end to end through RabbitMQ
# with examples/consumer.yaml.


def test_testing_consumer_example_passes():
    # The example is a test module for pytest built on rejected's harness;
    # run it as a reader would.
    pytest.importorskip("rejected.testing", reason="the test extra installs rejected")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(EXAMPLES / "testing_consumer.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b2 passed\b", result.stdout), result.stdout


# --- examples/oauth1.py (oauth) -----------------------------------------------

CLIENT_KEY = "sprocketsexampleclient"
CLIENT_SECRET = "example-client-secret"
TOKEN = "sprocketsexampletoken01"
TOKEN_SECRET = "example-token-secret"


class Validator(RequestValidator):
    """The server side: knows one client and one token, rejects a nonce it
    has seen before."""

    enforce_ssl = False  # the test server is plain HTTP on loopback

    def __init__(self) -> None:
        super().__init__()
        self.nonces: set = set()

    @property
    def dummy_client(self) -> str:
        return "dummyclientkeydummyclient"

    @property
    def dummy_access_token(self) -> str:
        return "dummyaccesstokendummytoken"

    def validate_client_key(self, client_key, request):
        return client_key == CLIENT_KEY

    def get_client_secret(self, client_key, request):
        return CLIENT_SECRET if client_key == CLIENT_KEY else "dummy"

    def get_access_token_secret(self, client_key, token, request):
        return TOKEN_SECRET if token == TOKEN else "dummy"

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        if (client_key, nonce) in self.nonces:
            return False
        self.nonces.add((client_key, nonce))
        return True


class PhotoAPI(web.RequestHandler):
    """Verifies each request's OAuth 1 signature with oauthlib; answers the
    first valid request with 503 to force a retry."""

    def initialize(self, state: Dict[str, Any]) -> None:
        self.state = state

    def _check(self) -> None:
        form = self.request.headers.get("Content-Type") == "application/x-www-form-urlencoded"
        valid, request = self.state["endpoint"].validate_request(
            self.request.full_url(), self.request.method,
            self.request.body if form else None, dict(self.request.headers),
        )
        self.state["log"].append({
            "valid": valid,
            "nonce": getattr(request, "nonce", None),
            "signature": getattr(request, "signature", None),
            "retry": self.request.headers.get("X-Retry-Attempt"),
        })
        if not valid:
            raise web.HTTPError(401)
        if sum(entry["valid"] for entry in self.state["log"]) == 1:
            raise web.HTTPError(503)

    def get(self) -> None:
        self._check()
        self.write({"photos": [], "page": self.get_argument("page")})

    def post(self) -> None:
        self._check()
        self.set_status(201)
        if self.request.headers.get("Content-Type") == "application/json":
            self.write({"created": json.loads(self.request.body)})
        else:
            self.write({"created": {name: self.get_argument(name)
                                    for name in self.request.body_arguments}})


@pytest.fixture
def photo_api(serve):
    state: Dict[str, Any] = {"endpoint": SignatureOnlyEndpoint(Validator()), "log": []}
    return serve([("/photos", PhotoAPI, {"state": state})]), state


@pytest.mark.parametrize("call", ["list_photos", "upload"])
async def test_oauth1_example_signs_every_attempt_afresh(photo_api, sleeps, call):
    url, state = photo_api
    oauth = load_example("oauth1")
    client = oauth.PhotoClient(CLIENT_KEY, CLIENT_SECRET, TOKEN, TOKEN_SECRET)

    if call == "list_photos":
        response = await client.list_photos(url, page=2)
        assert response.body == {"photos": [], "page": "2"}
    else:
        response = await client.upload(url, "Sunset")
        assert response.code == 201 and response.body == {"created": {"title": "Sunset"}}

    log = state["log"]
    # The first attempt was valid and answered 503; the retry carried a new
    # nonce and a valid signature, so the server accepted it.
    assert [entry["valid"] for entry in log] == [True, True]
    assert [entry["retry"] for entry in log] == [None, "2"]
    assert log[0]["nonce"] != log[1]["nonce"]
    assert log[0]["signature"] != log[1]["signature"]
    assert response.attempts == 2 and [r.code for r in response.history][0] == 503


async def test_oauth1_concurrent_calls_keep_their_own_method(photo_api, sleeps):
    import asyncio

    url, state = photo_api
    oauth = load_example("oauth1")
    client = oauth.PhotoClient(CLIENT_KEY, CLIENT_SECRET, TOKEN, TOKEN_SECRET)
    listed, uploaded = await asyncio.gather(
        client.list_photos(url, page=3), client.upload(url, "Dawn")
    )
    assert listed.ok and uploaded.ok
    assert all(entry["valid"] for entry in state["log"])


async def test_oauth1_reused_nonce_is_rejected_without_the_example(photo_api, sleeps):
    # The control: sign once and let the plain mixin resend the same header.
    url, state = photo_api
    _, signed, _ = oauth1.Client(
        CLIENT_KEY, client_secret=CLIENT_SECRET,
        resource_owner_key=TOKEN, resource_owner_secret=TOKEN_SECRET,
    ).sign(f"{url}/photos?page=1")

    class Unsigned(sprockets_http.HTTPClientMixin):
        pass

    response = await Unsigned().http_fetch(f"{url}/photos?page=1", request_headers=signed)
    assert [r.code for r in response.history] == [503, 401]
    assert [entry["valid"] for entry in state["log"]] == [True, False]


async def test_oauth1_wrong_secret_is_rejected(photo_api, sleeps):
    url, state = photo_api
    oauth = load_example("oauth1")
    client = oauth.PhotoClient(CLIENT_KEY, "not-the-secret", TOKEN, TOKEN_SECRET)
    response = await client.list_photos(url)
    assert response.code == 401 and response.attempts == 1


async def test_oauth1_form_body_is_signed(photo_api, sleeps):
    url, state = photo_api
    oauth = load_example("oauth1")
    client = oauth.PhotoClient(CLIENT_KEY, CLIENT_SECRET, TOKEN, TOKEN_SECRET)
    response = await client.http_fetch(
        f"{url}/photos", method="POST", body="title=Noon&album=7",
        content_type="application/x-www-form-urlencoded",
    )
    # The server's signature check covers the form fields.
    assert [entry["valid"] for entry in state["log"]] == [True, True]
    assert response.code == 201 and response.attempts == 2
    assert response.body == {"created": {"title": "Noon", "album": "7"}}


async def test_oauth1_tampered_form_body_is_rejected(photo_api, sleeps):
    url, state = photo_api
    oauth = load_example("oauth1")

    class Tampering(oauth.PhotoClient):
        def _http_req_modify_for_retry(self, response, attempt, url, headers, body):
            url, headers, body = super()._http_req_modify_for_retry(
                response, attempt, url, headers, body
            )
            return url, headers, "title=Midnight&album=7"  # changed after signing

    client = Tampering(CLIENT_KEY, CLIENT_SECRET, TOKEN, TOKEN_SECRET)
    response = await client.http_fetch(
        f"{url}/photos", method="POST", body="title=Noon&album=7",
        content_type="application/x-www-form-urlencoded",
    )
    assert [entry["valid"] for entry in state["log"]] == [True, False]
    assert response.code == 401


# --- examples/opentelemetry_app.py (observability) -----------------------------


def test_opentelemetry_example_prints_the_tree_in_the_docs():
    pytest.importorskip(
        "opentelemetry.instrumentation.tornado",
        reason="the OpenTelemetry example needs the test extra's opentelemetry packages "
        "(Python 3.10+)",
    )
    # A process of its own: the example sets the global providers, which a
    # process can do once.
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "opentelemetry_app.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = (DOCS / "observability.rst").read_text(encoding="utf-8")
    shown = page.split("``traceparent``:\n\n.. code-block:: text\n\n", 1)[1].split("\n\n", 1)[0]
    assert result.stdout.splitlines() == [line[3:] for line in shown.splitlines()]


# --- the docs themselves --------------------------------------------------------


def rst_files() -> List[pathlib.Path]:
    return [README, *sorted(DOCS.glob("*.rst"))]


def python_blocks(text: str) -> List[str]:
    """The bodies of ``.. code-block:: python`` (and ``pycon``) directives."""
    blocks = []
    pattern = re.compile(r"^( *)\.\. code-block:: *(python|py|pycon|python3)\s*\n", re.M)
    for match in pattern.finditer(text):
        lines = text[match.end():].splitlines()
        body: List[str] = []
        for line in lines:
            if line.strip() and not line.startswith(match.group(1) + " ") and body:
                break
            if line.strip().startswith(":") and not body:
                continue  # a directive option
            body.append(line)
        blocks.append(_dedent("\n".join(body)).strip())
    return blocks


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text)


@pytest.mark.parametrize("path", rst_files(), ids=lambda path: path.name)
def test_doctests_in_docs(path):
    try:
        result = doctest.testfile(
            str(path), module_relative=False, encoding="utf-8",
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        )
    finally:
        httpclient.AsyncHTTPClient.configure(None)
    assert result.failed == 0


@pytest.mark.parametrize("path", rst_files(), ids=lambda path: path.name)
def test_no_unexecuted_python_in_docs(path):
    """A Python block in the docs is a doctest or the text of an example file."""
    examples = {p.read_text(encoding="utf-8").strip() for p in EXAMPLES.glob("*.py")}
    text = path.read_text(encoding="utf-8")
    for block in python_blocks(text):
        assert block.startswith(">>>") or block in examples, (
            f"{path.name}: this Python block is neither a doctest nor an examples/ file:\n"
            f"{block[:300]}"
        )
    # A bare "::" literal block must not hide Python either.
    for include in re.findall(r"^\.\. literalinclude:: *(\S+)", text, re.M):
        assert (path.parent / include).resolve().is_file(), include
        assert (path.parent / include).resolve().parent == EXAMPLES, include


def test_readme_set_up_commands():
    text = README.read_text(encoding="utf-8")
    section = text.split("Set up\n------", 1)[1].split("\n----", 1)[0]
    commands = [line.strip() for line in section.splitlines()
                if line.strip().startswith("python3 -m venv")]
    assert commands == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && "
        ".venv/bin/python -m sprockets_http demo",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && "
        ".venv/bin/python -m pytest",
    ]
    # CI runs the second one verbatim.
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# --- examples/base_handler.py (handlers) ----------------------------------------


# The payments API's answers.
PAID = Answer(200, {"charge": "ch_1", "status": "paid"})
DECLINED = {"message": "declined", "code": "card_expired"}


@pytest.fixture
def charge_service(serve, scripted_upstream):
    base = load_example("base_handler")
    return serve(base.make_app(scripted_upstream.url))


async def test_base_handler_example_charges(charge_service, scripted_upstream, sleeps):
    client = httpclient.AsyncHTTPClient()
    charges = scripted_upstream.route("POST", "/charges", Answer(429, DECLINED), PAID)
    answer = await client.fetch(
        f"{charge_service}/orders/42/charge?amount=1250", method="POST", body=b"",
        headers={"Correlation-Id": "req-7"},
    )
    assert answer.code == 201
    assert json.loads(answer.body) == {"charge": "ch_1", "status": "paid"}
    assert sleeps == [0.5]  # 429 is retried even for POST
    assert [seen.headers["Correlation-Id"] for seen in charges.requests] == ["req-7"] * 2
    assert [seen.body for seen in charges.requests] == [{"order": "42", "amount": 1250}] * 2


async def test_base_handler_example_does_not_retry_a_failed_post(
    charge_service, scripted_upstream, sleeps
):
    charges = scripted_upstream.route("POST", "/charges", Answer(500, DECLINED))
    answer = await httpclient.AsyncHTTPClient().fetch(
        f"{charge_service}/orders/42/charge?amount=5", method="POST", body=b"",
        raise_error=False,
    )
    assert answer.code == 502 and len(charges.requests) == 1 and sleeps == []
    # simplify_error_response is off: the whole error document came through.
    assert json.loads(answer.body) == {
        "upstream_status": 500,
        "upstream_error": {"message": "declined", "code": "card_expired"},
    }


async def test_simplify_error_response_set_in_initialize_is_kept(serve, sleeps):
    # examples/base_handler.py relies on it: the mixin sets its default before
    # RequestHandler.__init__ calls initialize().
    from tornado import web as tornado_web

    class Early(sprockets_http.HTTPClientMixin, tornado_web.RequestHandler):
        def initialize(self) -> None:
            self.simplify_error_response = False

        def get(self) -> None:
            self.write({"simplify": self.simplify_error_response})

    url = serve([("/", Early)])
    answer = await httpclient.AsyncHTTPClient().fetch(f"{url}/")
    assert json.loads(answer.body) == {"simplify": False}


# --- every example file ------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda path: path.name)
def test_every_example_file_imports_and_is_in_the_docs(path, monkeypatch):
    # Importing runs the module's code; the tests above run what it defines.
    if path.name in ("consumer.py", "testing_consumer.py"):
        pytest.importorskip("rejected.testing", reason="the test extra installs rejected")
    # testing_handlers imports handler, testing_consumer imports consumer.
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in ("handler", "consumer"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        load_example(path.stem)
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("opentelemetry"):
            raise
        pytest.skip(f"examples/{path.name} needs {error.name}, not installed here")
    for name in ("handler", "consumer"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    directive = re.compile(
        rf"^\.\. literalinclude:: *\.\./examples/{re.escape(path.name)}\s*$", re.M
    )
    assert any(directive.search(rst.read_text("utf-8")) for rst in DOCS.glob("*.rst")), (
        f"examples/{path.name} is not included in any page of docs/"
    )
