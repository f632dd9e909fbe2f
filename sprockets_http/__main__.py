"""The command line: ``python -m sprockets_http demo``."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import socket
import sys
from typing import Any, List, Optional, TextIO

import umsgpack
from tornado import httpclient, httpserver, web

from sprockets_http import content
from sprockets_http.mixin import HTTPClientMixin
from sprockets_http.response import HTTPResponse

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


def render_body(value: Any) -> str:
    """Render a decoded body for a terminal: JSON-like values as indented JSON
    (bytes inside as base64), bytes as text when they are UTF-8."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return repr(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=_jsonable)


def attempt_rows(response: HTTPResponse) -> List[str]:
    """One line per attempt: number, status or exception, wait before the next.

    """
    outcomes: List[str] = []
    for item in response.outcomes:
        if isinstance(item, httpclient.HTTPResponse):
            elapsed = f" ({item.request_time * 1000:.1f} ms)" if item.request_time else ""
            outcomes.append(f"{item.code} {item.reason}{elapsed}")
        else:
            outcomes.append(f"{type(item).__name__}: {item}")
    rows = []
    for index, outcome in enumerate(outcomes):
        wait = response.waits[index] if index < len(response.waits) else None
        tail = f", then waited {wait:.1f} s" if wait is not None else ""
        rows.append(f"attempt {index + 1} of {len(outcomes)}: {outcome}{tail}")
    return rows


def write_result(response: HTTPResponse, out: TextIO, err: TextIO, verbose: bool = True) -> None:
    """Print the attempts (to *err* when *verbose*) and the decoded body."""
    if verbose:
        for row in attempt_rows(response):
            print(row, file=err)
    try:
        print(render_body(response.body), file=out)
    except content.BodyDecodeError as error:
        print(f"warning: {error}", file=err)
        raw = response.raw
        print(render_body(raw.body if raw is not None else None), file=out)


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


def _listen(app: web.Application) -> tuple[httpserver.HTTPServer, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    server = httpserver.HTTPServer(app)
    server.add_sockets([sock])
    return server, sock.getsockname()[1]


async def _demo(out: TextIO, err: TextIO) -> int:
    _FlakyUpstream.calls = 0
    upstream, upstream_port = _listen(web.Application([(r"/", _FlakyUpstream)]))
    service_app = web.Application(
        [(r"/", _DemoHandler)],
        upstream=f"http://127.0.0.1:{upstream_port}/",
        service="demo-service",
        version="1.0",
    )
    service, service_port = _listen(service_app)
    try:
        print(f"upstream on 127.0.0.1:{upstream_port}: 503 + Retry-After: 1 twice, then msgpack",
              file=out)
        print(f"service  on 127.0.0.1:{service_port}: a handler calling it with http_fetch",
              file=out)
        await httpclient.AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{service_port}/", raise_error=False, request_timeout=30
        )
        response: HTTPResponse = service_app.settings["last_response"]
        for row in attempt_rows(response):
            print(row, file=out)
        print(f"total {response.duration:.2f} s, ok={response.ok}, code={response.code}",
              file=out)
        print("decoded body:", file=out)
        print(render_body(response.body), file=out)
        return 0 if response.ok else 1
    finally:
        service.stop()
        upstream.stop()


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m sprockets_http",
        description="sprockets_http: Tornado's HTTP client with retries, msgpack and JSON.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands.add_parser(
        "demo",
        help="run an offline demonstration on loopback: retries after 503 + Retry-After",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="log: %(name)s %(levelname)s %(message)s")
    # The demo's own servers would log every 503 they send; that is noise here.
    logging.getLogger("tornado.access").setLevel(logging.CRITICAL)
    command: str = args.command
    if command != "demo":  # pragma: no cover - argparse only admits known commands
        parser.error(f"unknown command {command!r}")
    return asyncio.run(_demo(sys.stdout, sys.stderr))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
