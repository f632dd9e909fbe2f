"""The upstream server: a separate process on 127.0.0.1 with canned responses.

``GET /{format}/{size}`` answers 200 with that document (see
:mod:`benchmarks.documents`); ``GET /retry/{format}/{size}`` answers 503 with
the same body unless the request carries ``X-Retry-Attempt: 3``, so a call
with three attempts sees 503, 503, 200. Under ``/slow/`` (``/slow/msgpack/1k``)
the same answers come after a delay, 30 ms by default, as a real service
takes time to answer: the sequential instruction counts use it (see
:mod:`benchmarks.measure`). Anything else is a 404.

The server is a bare :class:`asyncio.Protocol` writing prebuilt bytes, so it
costs little next to any client, and it runs in its own process so that its
work is never counted in a client's CPU time or instructions. It serves
keep-alive connections for as long as the client holds them, and stops when
the process that started it closes its standard input (or dies).

    python -m benchmarks.upstream [--delay SECONDS]   # prints the port, serves until stdin closes
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
from typing import Dict, Optional

from benchmarks.documents import FORMATS, SIZES, make_document

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Responder(asyncio.Protocol):
    """A minimal HTTP/1.1 responder: reads request heads (and bodies by
    Content-Length) and writes the canned response for the target."""

    def __init__(
        self, routes: Dict[str, bytes], failing: Dict[str, bytes], delay: float
    ) -> None:
        self.routes = routes
        self.failing = failing
        self.delay = delay
        self.transport: Optional[asyncio.Transport] = None
        self.pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.pending += data
        while True:
            end = self.pending.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.pending[:end].decode("latin-1").split("\r\n")
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            length = int(fields.get("content-length") or 0)
            if len(self.pending) < end + 4 + length:
                return
            self.pending = self.pending[end + 4 + length :]
            target = lines[0].split(" ")[1]
            delay = 0.0
            if target.startswith("/slow/"):
                target, delay = target[len("/slow") :], self.delay
            if target in self.failing and fields.get("x-retry-attempt") != "3":
                answer = self.failing[target]
            else:
                answer = self.routes.get(target, self.routes["404"])
            close = fields.get("connection", "").lower() == "close"
            if delay:
                asyncio.get_running_loop().call_later(delay, self._answer, answer, close)
            else:
                self._answer(answer, close)
            if close:
                return

    def _answer(self, answer: bytes, close: bool) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        self.transport.write(answer)
        if close:
            self.transport.close()


def _canned(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def routes() -> tuple[Dict[str, bytes], Dict[str, bytes]]:
    """The canned responses by target: (answers, first answers of /retry/ targets)."""
    answers = {"404": _canned("404 Not Found", "text/plain", b"not found")}
    failing = {}
    for fmt, content_type in FORMATS.items():
        for size_name, size in SIZES.items():
            body = make_document(size, fmt)[1]
            answers[f"/{fmt}/{size_name}"] = _canned("200 OK", content_type, body)
            answers[f"/retry/{fmt}/{size_name}"] = answers[f"/{fmt}/{size_name}"]
            failing[f"/retry/{fmt}/{size_name}"] = _canned(
                "503 Service Unavailable", content_type, body
            )
    return answers, failing


def serve(delay: float = 0.0) -> None:
    """Serve until standard input closes; print the port first. An answer to
    a target under ``/slow/`` is written *delay* seconds after its request
    was read."""
    # Every client process keeps up to 100 connections open at once.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    answers, failing = routes()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Responder(answers, failing, delay), "127.0.0.1", 0, backlog=4096
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        closed = loop.create_future()
        stdin = sys.stdin.fileno()

        def on_input() -> None:
            if not os.read(stdin, 4096) and not closed.done():
                closed.set_result(None)

        loop.add_reader(stdin, on_input)
        await closed
        server.close()

    asyncio.run(main())


class Upstream:
    """The upstream process, started by the benchmark: ``base`` is its URL."""

    def __init__(self, delay: float = 0.03) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.upstream", "--delay", str(delay)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip():
            self.stop()
            raise RuntimeError("the upstream server did not start")
        self.base = f"http://127.0.0.1:{int(line)}"

    def stop(self) -> None:
        """Close its standard input and wait for it to end."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--delay", type=float, default=0.03,
        help="seconds before each answer under /slow/ (default 0.03)",
    )
    serve(parser.parse_args().delay)
