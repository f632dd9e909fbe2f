"""The command line: ``python -m sprockets_http fetch URL`` and ``... demo``.

``fetch`` makes one call through :class:`~sprockets_http.HTTPClientMixin`,
exactly as a service's handler would (same defaults, headers, body encoding,
retry loop and waits), and prints the decoded body. ``demo`` is an offline
demonstration on loopback. Both write their results with the helpers below.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import math
import os
import shutil
import string
import sys
import time
import urllib.parse
from typing import (
    Any,
    Collection,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    TextIO,
    Tuple,
    Union,
)

import umsgpack
from tornado import httpclient, web

from sprockets_http import content, events
from sprockets_http._headers import find_header
from sprockets_http._log import LOGGER, describe_outcome, redact_url, secrets_of
from sprockets_http._version import __version__
from sprockets_http.mixin import HTTPClientMixin
from sprockets_http.response import HTTPResponse
from sprockets_http.testing import serve_loopback

# --- output shared by the commands ------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, umsgpack.Ext):
        return {"ext_type": value.type, "data": base64.b64encode(value.data).decode("ascii")}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _json_key(key: Any) -> Any:
    """A dict key JSON can carry: msgpack maps may have bytes or array keys."""
    if key is None or isinstance(key, (str, int, float, bool)):
        return key
    if isinstance(key, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(key)).decode("ascii")
    return json.dumps(_with_json_keys(key), ensure_ascii=False, default=_jsonable)


def _with_json_keys(value: Any) -> Any:
    """Copy *value* with every dict key turned into one JSON accepts."""
    if isinstance(value, dict):
        return {_json_key(k): _with_json_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_json_keys(v) for v in value]
    return value


def render_json(value: Any) -> str:
    """A decoded JSON or msgpack value as indented JSON: bytes inside become
    base64 text, dates their ``isoformat()``, other msgpack extension types
    ``{"ext_type": N, "data": BASE64}``."""
    return json.dumps(_with_json_keys(value), indent=2, ensure_ascii=False, default=_jsonable)


def body_output(response: HTTPResponse) -> Tuple[Union[str, bytes, None], Optional[str]]:
    """What to print for the last response's body, and a warning or None.

    A JSON or msgpack body becomes indented JSON (whatever its value: a string
    body is printed as a JSON string). Any other body is text when it decodes
    with its charset (UTF-8 when none is given), else the bytes themselves. A
    body that is not valid for its declared type is shown as received, with a
    warning. ``None`` when there is no response or the body is empty.
    """
    raw = response.raw
    if raw is None or not raw.body:
        return None, None
    kind = content.media_type(raw.headers.get("Content-Type"))
    if kind.format is not None:
        try:
            return render_json(response.body), None
        except content.BodyDecodeError as error:
            return _text_or_bytes(raw.body, kind.charset), f"{error}; shown as received"
    return _text_or_bytes(raw.body, kind.charset), None


def _text_or_bytes(data: bytes, charset: Optional[str]) -> Union[str, bytes]:
    for encoding in (charset, "utf-8") if charset else ("utf-8",):
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return data


def write_bytes(data: bytes, out: TextIO) -> None:
    """Write *data* unchanged to *out*'s binary buffer (escaped text when the
    stream has none)."""
    out.flush()
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        out.write(data.decode("utf-8", "backslashreplace"))


def write_body(output: Union[str, bytes, None], out: TextIO) -> None:
    """Write a :func:`body_output` value: text ends with a newline, bytes go
    to the binary buffer as they are."""
    if output is None:
        return
    if isinstance(output, bytes):
        write_bytes(output, out)
        return
    if not output.endswith("\n"):
        output += "\n"
    try:
        out.write(output)
    except UnicodeEncodeError:  # a terminal that cannot show some characters
        write_bytes(output.encode(out.encoding or "utf-8", "backslashreplace"), out)
    out.flush()


def _each_attempt(
    response: HTTPResponse, durations: Optional[Sequence[float]] = None
) -> Iterator[Tuple[int, Any, Optional[float], Optional[float]]]:
    """(number, outcome, duration, wait before the next) for each attempt.

    *durations* are the seconds each attempt took; without them a response's
    ``request_time`` is used (an exception has none).
    """
    for index, item in enumerate(response.outcomes):
        duration: Optional[float] = None
        if durations is not None and index < len(durations):
            duration = durations[index]
        elif isinstance(item, httpclient.HTTPResponse):
            duration = item.request_time
        wait = response.waits[index] if index < len(response.waits) else None
        yield index + 1, item, duration, wait


def attempt_rows(response: HTTPResponse) -> List[str]:
    """One line per attempt: number, status or exception, wait before the next."""
    rows = []
    for number, item, duration, wait in _each_attempt(response):
        outcome = describe_outcome(item)
        if duration:
            outcome += f" ({duration * 1000:.1f} ms)"
        tail = f", then waited {wait:.1f} s" if wait is not None else ""
        rows.append(f"attempt {number} of {response.attempts}: {outcome}{tail}")
    return rows


def _seconds(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def attempt_table(
    response: HTTPResponse,
    durations: Optional[Sequence[float]] = None,
    secrets: Collection[str] = (),
) -> List[str]:
    """The attempts as an aligned table: attempt, status or exception,
    duration, and the wait before the next attempt.

    *durations* as for :func:`_each_attempt`; *secrets* are scrubbed from
    exception texts.
    """
    rows = [("attempt", "status or exception", "duration", "wait before next")]
    for number, item, duration, wait in _each_attempt(response, durations):
        rows.append(
            (
                str(number),
                describe_outcome(item, secrets),
                _seconds(duration),
                "-" if wait is None else f"{wait:.1f} s",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [
        f"{row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
        for row in rows
    ]


def write_result(
    response: HTTPResponse,
    out: TextIO,
    err: TextIO,
    verbose: bool = True,
    durations: Optional[Sequence[float]] = None,
    secrets: Collection[str] = (),
) -> None:
    """Print the attempt table (to *err* when *verbose*) and the body to *out*."""
    if verbose:
        for row in attempt_table(response, durations, secrets):
            print(row, file=err)
    output, warning = body_output(response)
    if warning:
        print(f"warning: {warning}", file=err)
    err.flush()
    write_body(output, out)


# --- fetch --------------------------------------------------------------------


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class LiveLine:
    """One status line on a terminal, rewritten in place and then erased."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def show(self, text: str) -> None:
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self.stream.write("\r" + text[: max(width, 10)] + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


class CommandLineClient(HTTPClientMixin):
    """The mixin as the ``fetch`` command uses it.

    Everything about the request is the library's own; this subclass only
    subscribes to the call's events (:mod:`sprockets_http.events`): it keeps
    each attempt's duration, and while the library waits before a retry it
    shows a live line such as ``503 Service Unavailable, retrying in 2.0 s
    (attempt 2 of 3)`` when given a :class:`LiveLine`. The whole error body is
    kept (``simplify_error_response`` is off), since a person reads it.
    """

    def __init__(self, max_attempts: int, live: Optional[LiveLine] = None) -> None:
        super().__init__()
        self.simplify_error_response = False
        self.max_attempts = max_attempts
        self.live = live
        #: seconds each attempt took, in order
        self.durations: List[float] = []
        #: credentials to scrub from what the live line shows
        self.secrets: Collection[str] = ()
        self._ticker: Optional[asyncio.Future[None]] = None
        self._last: Optional[events.AttemptEnded] = None
        self.HTTP_EVENT_SUBSCRIBERS = (self._on_event,)

    async def http_fetch(self, url: Any, *args: Any, **kwargs: Any) -> HTTPResponse:
        self.durations = []
        try:
            return await super().http_fetch(url, *args, **kwargs)
        finally:
            self._stop_ticker()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, events.AttemptEnded):
            self.durations.append(event.duration)
            self._last = event
        elif isinstance(event, events.WaitStarted):
            if self.live is not None and not event.instant:
                self._ticker = asyncio.ensure_future(self._countdown(event))
        elif isinstance(event, (events.AttemptStarted, events.CallEnded)):
            self._stop_ticker()

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
            if self.live is not None:
                self.live.clear()

    async def _countdown(self, wait: events.WaitStarted) -> None:
        assert self.live is not None and self._last is not None
        last = self._last
        what = (
            f"{last.status} {last.reason_phrase}".rstrip()
            if last.error is None
            else describe_outcome(last.error, self.secrets)
        ).splitlines()[0]
        started = time.monotonic()
        while True:
            left = max(wait.seconds - (time.monotonic() - started), 0.0)
            self.live.show(
                f"{what}, retrying in {left:.1f} s "
                f"(attempt {wait.next_attempt} of {self.max_attempts})"
            )
            await asyncio.sleep(0.1)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"})
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def parse_headers(values: Sequence[str]) -> Dict[str, str]:
    """``-H 'Name: value'`` options as a dict; a repeated name (in any letter
    case) gets its values joined with ``", "``.

    :raises UsageError: for a value without a colon, an invalid name, or a
        control character
    """
    headers: Dict[str, str] = {}
    for text in values:
        name, colon, value = text.partition(":")
        name = name.strip()
        if not colon or not name:
            raise UsageError(f"-H {text!r}: expected 'Name: value'")
        if not set(name) <= _TOKEN_CHARS:
            raise UsageError(f"-H {text!r}: {name!r} is not a valid header name")
        value = value.strip()
        if any(ord(char) < 32 and char != "\t" or ord(char) == 127 for char in value):
            raise UsageError(f"-H {text!r}: control characters are not allowed in a value")
        existing = next((key for key in headers if key.lower() == name.lower()), None)
        if existing is None:
            headers[name] = value
        else:
            headers[existing] = f"{headers[existing]}, {value}"
    return headers


def read_data(text: str, stdin: Optional[TextIO] = None) -> Any:
    """The ``-d`` value: JSON text, ``@FILE`` holding JSON, or ``@-`` for stdin.

    :raises UsageError: for a file that cannot be read or text that is not JSON
    """
    source = "-d"
    if text.startswith("@"):
        path = text[1:]
        source = f"-d {text}"
        try:
            if path == "-":
                stream = stdin if stdin is not None else sys.stdin
                raw: Union[str, bytes] = stream.buffer.read() if hasattr(
                    stream, "buffer"
                ) else stream.read()
            else:
                with open(path, "rb") as handle:
                    raw = handle.read()
        except OSError as error:
            reason = error.strerror or _one_line(error)
            raise UsageError(f"{source}: cannot read {path!r}: {reason}") from None
    else:
        raw = text
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise UsageError(f"{source} is not valid JSON: {_one_line(error)}") from None


def _check_url(url: str) -> str:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:  # its text may quote a password cut short by "/": not shown
        raise UsageError(
            f"invalid URL {redact_url(url)!r}: a bad port or IPv6 address"
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid URL {redact_url(url)!r}: expected http://HOST/... or https://HOST/..."
        )
    return url


async def _fetch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    url = _check_url(args.url)
    headers = parse_headers(args.header or [])
    body: Any = None
    if args.data is not None:
        body = read_data(args.data)
    method = (args.method or ("POST" if args.data is not None else "GET")).upper()
    if not method or not set(method) <= _TOKEN_CHARS:
        raise UsageError(f"-X {args.method!r}: not a valid method name")
    content_type = content.CONTENT_TYPE_JSON if args.json else content.CONTENT_TYPE_MSGPACK
    if body is not None and not isinstance(body, (dict, list)):
        # http_fetch sends str bodies as they are and encodes dicts and lists;
        # a JSON scalar is encoded here the same way, by the Content-Type.
        given = find_header(headers, "Content-Type")
        effective = headers[given] if given is not None else content_type
        if content.media_type(effective).format is not None or not isinstance(body, str):
            try:
                body = content.encode_body(body, effective)
            except ValueError as error:
                raise UsageError(_one_line(error)) from None
    allow_nonstandard = method not in _STANDARD_METHODS or (
        (body is not None) != (method in _BODY_METHODS)
    )
    live = LiveLine(err) if _isatty(err) else None
    client = CommandLineClient(args.attempts or HTTPClientMixin.MAX_HTTP_RETRIES, live)
    client.secrets = secrets = secrets_of(url, headers, None)
    try:
        response = await client.http_fetch(
            url,
            method=method,
            request_headers=headers,
            body=body,
            content_type=content_type,
            follow_redirects=args.follow_redirects,
            connect_timeout=args.connect_timeout,
            request_timeout=args.timeout,
            retry_timeout=args.retry_timeout,
            max_http_attempts=args.attempts,
            user_agent=args.user_agent,
            validate_cert=not args.insecure,
            allow_nonstandard_methods=allow_nonstandard,
        )
    except ValueError as error:  # a body the Content-Type cannot carry
        raise UsageError(_one_line(error)) from None
    finally:
        if live is not None:
            live.clear()

    if args.raw:
        if args.verbose:
            for row in attempt_table(response, client.durations, secrets):
                print(row, file=err)
        err.flush()
        raw = response.raw
        if raw is not None and raw.body:
            write_bytes(raw.body, out)
    else:
        write_result(
            response, out, err, verbose=args.verbose > 0, durations=client.durations,
            secrets=secrets,
        )

    last = response.outcomes[-1] if response.outcomes else None
    outcome = (
        _one_line(describe_outcome(last, secrets)) if last is not None else "no attempt was made"
    )
    plural = "attempt" if response.attempts == 1 else "attempts"
    took = f"after {response.attempts} {plural} in {response.duration:.2f} s"
    if not response.ok:
        print(f"{_prog()}: {method} {redact_url(url)} failed {took}: {outcome}", file=err)
        return 1
    if args.verbose:
        print(f"{method} {redact_url(url)}: {outcome} {took}", file=err)
    return 0


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# --- demo ---------------------------------------------------------------------


class _FlakyUpstream(web.RequestHandler):
    """Answers 503 with Retry-After: 1 twice, then a msgpack body."""

    calls = 0

    def get(self) -> None:
        type(self).calls += 1
        if type(self).calls <= 2:
            self.set_status(503)
            self.set_header("Retry-After", "1")
            self.write({"message": "warming up, try again"})
            return
        self.set_header("Content-Type", "application/msgpack")
        self.write(
            umsgpack.packb(
                {"greeting": "hello from upstream", "attempt": type(self).calls, "ok": True}
            )
        )


class _DemoHandler(HTTPClientMixin, web.RequestHandler):
    """A service endpoint that calls the flaky upstream with http_fetch."""

    async def get(self) -> None:
        response = await self.http_fetch(self.settings["upstream"])
        self.application.settings["last_response"] = response
        self.set_status(200 if response.ok else 502)
        self.write({"ok": response.ok, "attempts": response.attempts})


async def _demo(out: TextIO, err: TextIO) -> int:
    _FlakyUpstream.calls = 0
    upstream, upstream_url = serve_loopback(web.Application([(r"/", _FlakyUpstream)]))
    service_app = web.Application(
        [(r"/", _DemoHandler)],
        upstream=f"{upstream_url}/",
        service="demo-service",
        version="1.0",
    )
    service, service_url = serve_loopback(service_app)
    try:
        print(f"upstream on {upstream_url[len('http://'):]}: 503 + Retry-After: 1 twice, "
              "then msgpack",
              file=out)
        print(f"service  on {service_url[len('http://'):]}: a handler calling it with "
              "http_fetch",
              file=out)
        out.flush()
        await httpclient.AsyncHTTPClient().fetch(
            f"{service_url}/", raise_error=False, request_timeout=30
        )
        response: HTTPResponse = service_app.settings["last_response"]
        for row in attempt_rows(response):
            print(row, file=out)
        print(f"total {response.duration:.2f} s, ok={response.ok}, code={response.code}",
              file=out)
        print("decoded body:", file=out)
        output, warning = body_output(response)
        if warning:
            print(f"warning: {warning}", file=err)
        write_body(output, out)
        return 0 if response.ok else 1
    finally:
        service.stop()
        upstream.stop()


# --- the command line ---------------------------------------------------------


def _prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not name or name in ("__main__.py", "-c") or name.startswith("python"):
        return "python -m sprockets_http"
    return name


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text!r}")
    return value


def _not_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _attempts(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


_FETCH_EPILOG = """\
output:
  stdout gets the body of the last response, decoded: JSON and msgpack bodies
  are printed as indented JSON (bytes inside as base64), other bodies as text
  when they decode (by their charset, else UTF-8), else as the bytes received.
  --raw writes the bytes as received instead. An error response's whole body
  is printed (the library's simplify_error_response is off here).

logging:
  sprockets_http logs a warning for every failed attempt. Without -v only
  errors are shown (a failed call ends with one summary line on stderr
  instead); -v shows the warnings, -vv the debug lines too. When stderr is a
  terminal, a live line counts down each wait before a retry.

exit status:
  0 when the last response is 200-399, 1 when it is not (or no response came),
  2 for usage errors and bad input (-d that is not JSON, an unreadable @FILE, a
  malformed -H, an invalid URL).

examples:
  %(prog)s http://127.0.0.1:8000/items/1
  %(prog)s -v --attempts 5 --retry-timeout 0.5 http://127.0.0.1:8000/flaky
  %(prog)s -X PUT -d '{"name": "widget"}' --json http://127.0.0.1:8000/items/1
  %(prog)s -d @order.json -H 'Correlation-Id: 1234' http://127.0.0.1:8000/orders
  %(prog)s --raw http://127.0.0.1:8000/items/1 > item.msgpack
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``demo`` and ``fetch``."""
    prog = _prog()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="sprockets_http: Tornado's HTTP client with retries, msgpack and JSON.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands.add_parser(
        "demo",
        help="run an offline demonstration on loopback: retries after 503 + Retry-After",
        description="Start a flaky upstream (503 + Retry-After: 1 twice, then a msgpack "
        "body) and a Tornado handler calling it with http_fetch, on loopback; print "
        "each attempt and the decoded body.",
    )
    fetch = commands.add_parser(
        "fetch",
        help="make one request through HTTPClientMixin.http_fetch and print the body",
        description=(
            "Make one request exactly as a service's http_fetch call would: the same\n"
            "default headers, body encoding (msgpack unless --json), retry loop and\n"
            "waits. Defaults not given here are the library's: 3 attempts, 3 s before\n"
            "the first retry (doubling), 20 s timeouts."
        ),
        epilog=_FETCH_EPILOG % {"prog": f"{prog} fetch"},
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("url", metavar="URL", help="an http:// or https:// URL")
    fetch.add_argument(
        "-X", "--method", help="the request method (default GET, or POST with -d)"
    )
    fetch.add_argument(
        "-H", "--header", action="append", metavar="'NAME: VALUE'",
        help="a request header; repeat for more. Yours win over the defaults "
        "(Accept, Content-Type, User-Agent)",
    )
    fetch.add_argument(
        "-d", "--data", metavar="JSON|@FILE",
        help="a request body: JSON text, @FILE holding JSON, or @- for stdin; "
        "sent encoded as msgpack (or JSON with --json)",
    )
    encoding = fetch.add_mutually_exclusive_group()
    encoding.add_argument(
        "--msgpack", dest="json", action="store_false", default=False,
        help="send -d as application/msgpack (the default, as http_fetch does)",
    )
    encoding.add_argument(
        "--json", dest="json", action="store_true", help="send -d as application/json"
    )
    fetch.add_argument(
        "--attempts", type=_attempts, metavar="N",
        help="attempts in all, the first included (default 3)",
    )
    fetch.add_argument(
        "--retry-timeout", type=_not_negative, metavar="SECONDS",
        help="the wait before the first retry, doubled for each further one "
        "(default 3); a Retry-After header overrides it",
    )
    fetch.add_argument(
        "--timeout", type=_positive, metavar="SECONDS",
        help="the timeout for each attempt, and the cap on a Retry-After wait (default 20)",
    )
    fetch.add_argument(
        "--connect-timeout", type=_positive, metavar="SECONDS",
        help="the timeout for connecting (default 20)",
    )
    fetch.add_argument(
        "--follow-redirects", action="store_true", help="follow redirects (up to 5)"
    )
    fetch.add_argument(
        "--insecure", action="store_true",
        help="do not validate the server's TLS certificate (validate_cert=False)",
    )
    fetch.add_argument(
        "--user-agent", metavar="TEXT",
        help="the User-Agent (default sprockets.mixins.http/VERSION, as in a bare object)",
    )
    fetch.add_argument(
        "--raw", action="store_true",
        help="write the body's bytes exactly as received, not decoded",
    )
    fetch.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="print a table of the attempts (status or exception, duration, wait) "
        "and a summary on stderr, and the library's warnings; -vv adds debug logs",
    )
    return parser


class _Logging:
    """Send log records to stderr while a command runs, at the given level per
    logger, and restore those loggers afterwards."""

    def __init__(self, stream: TextIO, levels: Dict[str, int]) -> None:
        self.handler = logging.StreamHandler(stream)
        self.handler.setFormatter(logging.Formatter("log: %(name)s %(levelname)s %(message)s"))
        self.levels = levels
        self.saved: List[Tuple[logging.Logger, int, bool]] = []

    def __enter__(self) -> None:
        for name, level in self.levels.items():
            logger = logging.getLogger(name)
            self.saved.append((logger, logger.level, logger.propagate))
            logger.setLevel(level)
            logger.propagate = False
            logger.addHandler(self.handler)

    def __exit__(self, *exc: object) -> None:
        for logger, level, propagate in self.saved:
            logger.removeHandler(self.handler)
            logger.setLevel(level)
            logger.propagate = propagate
        self.saved.clear()


def _log_levels(command: str, verbose: int) -> Dict[str, int]:
    """The loggers a command shows, and their levels.

    ``fetch``: the library's warnings (one per failed attempt) only with -v,
    since the command reports the outcome itself; its debug lines with -vv;
    Tornado's client-side loggers at ERROR, WARNING with -v. ``demo``: the
    library's warnings; its own servers' access log is silenced (it would
    log every 503 the demo upstream sends on purpose).
    """
    if command == "demo":
        return {
            LOGGER.name: logging.WARNING,
            "tornado.general": logging.WARNING,
            "tornado.application": logging.WARNING,
            "tornado.access": logging.CRITICAL,
        }
    library = logging.DEBUG if verbose >= 2 else logging.WARNING if verbose else logging.ERROR
    tornado = logging.WARNING if verbose else logging.ERROR
    return {LOGGER.name: library, "tornado.general": tornado, "tornado.application": tornado}


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line with *argv* (``sys.argv[1:]`` by default); returns
    the exit status: 0 ok, 1 a failed call, 2 a usage error or bad input."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error
        return exit_.code if isinstance(exit_.code, int) else 2
    out, err = sys.stdout, sys.stderr
    try:
        with _Logging(err, _log_levels(args.command, getattr(args, "verbose", 0))):
            if args.command == "demo":
                return asyncio.run(_demo(out, err))
            return asyncio.run(_fetch(args, out, err))
    except UsageError as error:
        print(f"{parser.prog}: error: {error}", file=err)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=err)
        return 130
    except BrokenPipeError:  # stdout closed early, as by `| head`
        # Keep the interpreter from complaining again when it flushes at exit.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
