"""``demo``: an offline demonstration on loopback.

A flaky upstream answers ``503`` with ``Retry-After: 1`` twice and then a
msgpack body; a Tornado handler calls it with ``http_fetch``. The command
prints each attempt (recorded from the call's events) and the decoded body.
"""

from __future__ import annotations

from typing import TextIO

import umsgpack
from tornado import httpclient, web

from sprockets_http import events
from sprockets_http.cli import render
from sprockets_http.cli.output import write_text
from sprockets_http.cli.progress import AttemptRecorder
from sprockets_http.mixin import HTTPClientMixin
from sprockets_http.response import HTTPResponse
from sprockets_http.testing import serve_loopback

__all__ = ["run_demo"]


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


async def run_demo(out: TextIO, err: TextIO) -> int:
    """Run the demonstration: 0 when the service's call succeeded."""
    _FlakyUpstream.calls = 0
    upstream, upstream_url = serve_loopback(web.Application([(r"/", _FlakyUpstream)]))
    service_app = web.Application(
        [(r"/", _DemoHandler)],
        upstream=f"{upstream_url}/",
        service="demo-service",
        version="1.0",
    )
    service, service_url = serve_loopback(service_app)
    recorder = AttemptRecorder()
    try:
        print(
            f"upstream on {upstream_url[len('http://'):]}: 503 + Retry-After: 1 twice, "
            "then msgpack",
            file=out,
        )
        print(
            f"service  on {service_url[len('http://'):]}: a handler calling it with http_fetch",
            file=out,
        )
        out.flush()
        with events.subscribed(recorder):
            await httpclient.AsyncHTTPClient().fetch(
                f"{service_url}/", raise_error=False, request_timeout=30
            )
        response: HTTPResponse = service_app.settings["last_response"]
        for row in render.attempt_rows(recorder.records):
            print(row, file=out)
        print(
            f"total {response.duration:.2f} s, ok={response.ok}, code={response.code}", file=out
        )
        print("decoded body:", file=out)
        raw = response.raw
        body = render.render_body(raw.body, raw.headers.get("Content-Type")) if raw else None
        if body is not None:
            for note in body.notes:
                print(f"warning: {note}", file=err)
            if body.tokens is not None:
                write_text(render.text(body.tokens), out)
            elif body.text is not None:
                write_text(body.text, out)
        out.flush()
        return 0 if response.ok else 1
    finally:
        service.stop()
        upstream.stop()
