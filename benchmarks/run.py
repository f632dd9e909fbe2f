#!/usr/bin/env python3
"""Benchmark sprockets_http's ``http_fetch`` against the bare Tornado client.

Run from the repository root::

    python benchmarks/run.py            # the full table (several minutes)
    python benchmarks/run.py --smoke    # tiny counts, for CI (< 20 s)

An upstream server runs in a separate process on 127.0.0.1 and serves canned
~1 KB and ~1 MB msgpack and JSON bodies. In this (the client) process the
variants below run interleaved in rounds, so a burst of load on the machine
hits every variant alike; each figure is the median over the rounds, with the
spread (min-max) beside it.

Variants:

floor     ``await AsyncHTTPClient().fetch(url)``: what any caller pays.
hand      the floor plus one decode of ``response.body`` (``umsgpack.unpackb``
          or ``json.loads``): the call a service would write by hand.
default   ``await self.http_fetch(url)`` and one ``.body`` read, msgpack
          decoded by u-msgpack-python (the default install).
fast      the same with the ``fast`` extra (msgpack's C extension).
default5  ``default`` reading ``.body`` five times.

Figures per variant: client CPU microseconds per request (``time.process_time``
of this process), wall microseconds per request, requests per second, and the
CPU ratio to the floor and to the hand-written call (medians of per-round
ratios). Then: the mixin's own cost, isolated (the same variants against an
instant in-process client, so the network and the event loop's waiting are
out of the picture and the figure is steady on a noisy machine); decode
micro-benchmarks (u-msgpack-python against msgpack's C extension), and memory
(peak RSS for 1,000 concurrent 1 KB calls, and the bytes held by one call
whose three attempts each return 1 MB), each measured in a fresh process.

Request counts are bounded and everything stays on loopback. The msgpack
backend is switched with ``sprockets_http.content._use_backend``, so one
install measures both. Exits non-zero when anything fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import umsgpack
from tornado import httpclient, httputil

from sprockets_http import HTTPClientMixin, content

try:
    import msgpack
except ImportError:  # the fast extra is not installed
    msgpack = None

try:
    import pycurl  # noqa: F401

    CURL_AVAILABLE = True
except ImportError:
    CURL_AVAILABLE = False

KB = 1024
MB = 1024 * KB
SIZES = {"1k": KB, "1m": MB}
SIZE_LABELS = {"1k": "1 KB", "100k": "100 KB", "1m": "1 MB"}
FORMATS = {"msgpack": "application/msgpack", "json": "application/json"}
CLIENTS = {
    "simple": "tornado.simple_httpclient.SimpleAsyncHTTPClient",
    "curl": "tornado.curl_httpclient.CurlAsyncHTTPClient",
}
CONCURRENCY = 100


# --- bodies ---------------------------------------------------------------

_FIRST = ["Ana", "Łukasz", "Zoë", "Søren", "Chen", "Aoife", "Mateus", "Priya", "Jörg", "Kofi"]
_LAST = ["Silva", "Nowak", "Brontë", "Dvořák", "Okafor", "Tanaka", "Murphy", "Ólafsson"]
_TAGS = ["admin", "beta", "billing", "eu", "legacy", "mobile", "trial", "us", "vip"]


def _record(rng: random.Random, number: int) -> Dict[str, Any]:
    """One row of a typical service response."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {
        "id": number,
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}@example.com",
        "active": rng.random() < 0.8,
        "score": round(rng.uniform(0, 1000), 3),
        "visits": rng.randint(0, 100_000),
        "tags": rng.sample(_TAGS, 3),
        "created": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z",
    }


def make_document(size: int, fmt: str) -> Tuple[Any, bytes]:
    """A ``{"items": [...], "count": n}`` document encoding to about *size* bytes."""
    encode: Callable[[Any], bytes] = (
        umsgpack.packb if fmt == "msgpack" else (lambda v: json.dumps(v).encode())
    )
    rng = random.Random(size)  # the same bodies on every run
    items: List[Dict[str, Any]] = []
    total = 32
    while total < size:
        record = _record(rng, len(items))
        items.append(record)
        total += len(encode(record)) + 1
    document = {"items": items, "count": len(items)}
    return document, encode(document)


# --- the upstream server (a separate process) -----------------------------


class _Upstream(asyncio.Protocol):
    """A minimal HTTP/1.1 responder with canned responses, keep-alive aware.

    ``GET /{format}/{size}`` answers 200 with that body; ``GET /retry/{format}/{size}``
    answers 503 with that body unless ``X-Retry-Attempt: 3`` (the third attempt).
    """

    def __init__(self, routes: Dict[str, bytes], failing: Dict[str, bytes]) -> None:
        self.routes = routes
        self.failing = failing
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
            if target in self.failing and fields.get("x-retry-attempt") != "3":
                self.transport.write(self.failing[target])
            else:
                self.transport.write(self.routes.get(target, self.routes["404"]))
            if fields.get("connection", "").lower() == "close":
                self.transport.close()
                return


def _canned(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def serve() -> None:
    """Run the upstream until the parent process goes away; print the port first."""
    routes = {"404": _canned("404 Not Found", "text/plain", b"not found")}
    failing = {}
    for fmt, content_type in FORMATS.items():
        for size_name, size in SIZES.items():
            body = make_document(size, fmt)[1]
            routes[f"/{fmt}/{size_name}"] = _canned("200 OK", content_type, body)
            routes[f"/retry/{fmt}/{size_name}"] = routes[f"/{fmt}/{size_name}"]
            failing[f"/retry/{fmt}/{size_name}"] = _canned(
                "503 Service Unavailable", content_type, body
            )
    parent = os.getppid()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Upstream(routes, failing), "127.0.0.1", 0, backlog=4096
        )
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        while os.getppid() == parent:
            await asyncio.sleep(0.5)

    asyncio.run(main())


class Upstream:
    """The upstream process, started and stopped by the benchmark."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve"],
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
        self.process.terminate()
        self.process.wait(timeout=10)


# --- client variants --------------------------------------------------------


class Caller(HTTPClientMixin):
    """The smallest object using the mixin, as a consumer or script has."""


Variant = Callable[[httpclient.AsyncHTTPClient, Caller, str], Awaitable[None]]


async def _floor(client: httpclient.AsyncHTTPClient, caller: Caller, url: str) -> None:
    await client.fetch(url)


async def _hand_msgpack(client: httpclient.AsyncHTTPClient, caller: Caller, url: str) -> None:
    umsgpack.unpackb((await client.fetch(url)).body)


async def _hand_json(client: httpclient.AsyncHTTPClient, caller: Caller, url: str) -> None:
    json.loads((await client.fetch(url)).body)


async def _mixin(client: httpclient.AsyncHTTPClient, caller: Caller, url: str) -> None:
    response = await caller.http_fetch(url)
    if response.code != 200:
        raise RuntimeError(f"{url}: {response.code}")
    response.body  # noqa: B018 - the read is the point


async def _mixin5(client: httpclient.AsyncHTTPClient, caller: Caller, url: str) -> None:
    response = await caller.http_fetch(url)
    if response.code != 200:
        raise RuntimeError(f"{url}: {response.code}")
    for _ in range(5):
        response.body  # noqa: B018 - the reads are the point


# (name, label, coroutine, msgpack backend or None)
VARIANTS: List[Tuple[str, str, Optional[Variant], Optional[str]]] = [
    ("floor", "bare fetch (floor)", _floor, None),
    ("hand", "fetch + one decode (hand-written)", None, None),
    ("default", "http_fetch + .body, default", _mixin, "umsgpack"),
    ("fast", "http_fetch + .body, fast", _mixin, "msgpack"),
    ("default5", "http_fetch + .body x5, default", _mixin5, "umsgpack"),
]


def _variants_for(fmt: str) -> List[Tuple[str, str, Variant, Optional[str]]]:
    chosen = []
    for name, label, coroutine, backend in VARIANTS:
        if name == "hand":
            coroutine = _hand_msgpack if fmt == "msgpack" else _hand_json
        if name == "fast" and (fmt != "msgpack" or msgpack is None):
            continue  # JSON does not use msgpack; without the extra there is no "fast"
        assert coroutine is not None
        chosen.append((name, label, coroutine, backend))
    return chosen


async def _timed(
    variant: Variant,
    client: httpclient.AsyncHTTPClient,
    caller: Caller,
    url: str,
    requests: int,
    concurrency: int,
) -> Tuple[float, float]:
    """Run *requests* calls, *concurrency* at a time; return (CPU s, wall s)."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    if concurrency == 1:
        for _ in range(requests):
            await variant(client, caller, url)
    else:
        remaining = requests

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await variant(client, caller, url)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, requests))))
    return time.process_time() - cpu, time.perf_counter() - wall


Cell = Dict[str, Any]


def plan_cells(args: argparse.Namespace) -> List[Cell]:
    cells = []
    for client in args.clients:
        if client == "curl" and not CURL_AVAILABLE:
            print("pycurl is not importable: skipping the curl client", file=sys.stderr)
            continue
        for fmt in args.formats:
            for size in args.sizes:
                for mode in args.modes:
                    concurrency = 1 if mode == "sequential" else CONCURRENCY
                    if args.smoke:
                        requests = (4 if concurrency == 1 else 20) if size == "1k" else 2
                        concurrency = min(concurrency, 10)
                    elif size == "1k":
                        requests = 300 if concurrency == 1 else 1000
                    else:
                        requests = 6 if concurrency == 1 else 100
                    requests = max(1, int(requests * args.scale))
                    cells.append(
                        {
                            # 100 u-msgpack-python decodes of 1 MB take about
                            # 10 s a variant: three rounds are enough there.
                            "rounds": min(args.rounds, 3)
                            if size == "1m" and concurrency > 1
                            else args.rounds,
                            "client": client,
                            "format": fmt,
                            "size": size,
                            "mode": mode,
                            "concurrency": concurrency,
                            "requests": requests,
                        }
                    )
    return cells


def run_cells(base: str, cells: List[Cell], log: Callable[[str], None]) -> None:
    """Measure every cell; results go into ``cell["results"]``."""
    for client_kind in dict.fromkeys(cell["client"] for cell in cells):
        httpclient.AsyncHTTPClient.configure(CLIENTS[client_kind], max_clients=CONCURRENCY)

        async def main(client_kind: str = client_kind) -> None:
            client = httpclient.AsyncHTTPClient()
            caller = Caller()
            try:
                for cell in cells:
                    if cell["client"] != client_kind:
                        continue
                    await _run_cell(client, caller, base, cell, cell["rounds"], log)
            finally:
                client.close()

        asyncio.run(main())
    content._use_backend(None)


async def _run_cell(
    client: httpclient.AsyncHTTPClient,
    caller: Caller,
    base: str,
    cell: Cell,
    rounds: int,
    log: Callable[[str], None],
) -> None:
    url = f"{base}/{cell['format']}/{cell['size']}"
    variants = _variants_for(cell["format"])
    log(
        f"{cell['client']} {cell['format']} {cell['size']} {cell['mode']}: "
        f"{len(variants)} variants x {rounds} rounds x {cell['requests']} requests"
    )
    # Warm up: connections, caches, first-call imports.
    for _name, _label, variant, backend in variants:
        content._use_backend(backend)
        await _timed(variant, client, caller, url, min(cell["requests"], 5), 1)
    results: Dict[str, List[Tuple[float, float]]] = {name: [] for name, *_ in variants}
    for round_number in range(rounds):
        # Rotate the order each round so no variant always runs first.
        shift = round_number % len(variants)
        for name, _label, variant, backend in variants[shift:] + variants[:shift]:
            content._use_backend(backend)
            results[name].append(
                await _timed(
                    variant, client, caller, url, cell["requests"], cell["concurrency"]
                )
            )
    cell["labels"] = {name: label for name, label, *_ in variants}
    cell["results"] = results


# --- decode micro-benchmarks -----------------------------------------------


class _InstantClient(httpclient.AsyncHTTPClient):
    """An AsyncHTTPClient whose every request is answered at once, in process,
    with one canned 1 KB body: tornado's fetch machinery without the I/O."""

    body = b""
    content_type = ""

    def fetch_impl(
        self, request: httpclient.HTTPRequest, callback: Callable[[httpclient.HTTPResponse], None]
    ) -> None:
        headers = httputil.HTTPHeaders({"Content-Type": self.content_type})
        buffer = io.BytesIO(self.body)
        callback(httpclient.HTTPResponse(request, 200, headers=headers, buffer=buffer))


async def _overhead_round(fmt: str, calls: int, results: Dict[str, List[float]]) -> None:
    caller = Caller()
    client = httpclient.AsyncHTTPClient()
    variants = _variants_for(fmt)
    # Rotate the order each round, as the HTTP cells do.
    shift = len(results.get("floor", [])) % len(variants)
    for name, _label, variant, backend in variants[shift:] + variants[:shift]:
        if backend is not None:
            content._use_backend(backend)
        try:
            gc.collect()
            cpu = time.process_time()
            for _ in range(calls):
                await variant(client, caller, "http://127.0.0.1:9/")
            results.setdefault(name, []).append((time.process_time() - cpu) / calls)
        finally:
            content._use_backend(None)


def run_overhead(rounds: int, smoke: bool) -> List[Dict[str, Any]]:
    """CPU per call of each variant against :class:`_InstantClient`."""
    rows = []
    for fmt in ("msgpack", "json"):
        _document, body = make_document(KB, fmt)
        _InstantClient.body, _InstantClient.content_type = body, FORMATS[fmt]
        httpclient.AsyncHTTPClient.configure(_InstantClient)
        results: Dict[str, List[float]] = {}
        try:
            for _ in range(rounds):
                asyncio.run(_overhead_round(fmt, 200 if smoke else 5000, results))
        finally:
            httpclient.AsyncHTTPClient.configure(None)
        rows.append({"format": fmt, "results": results})
    return rows


def report_overhead(rows: List[Dict[str, Any]]) -> List[str]:
    lines = [
        "the mixin's own cost: CPU us per call against an instant in-process client "
        "(1 KB body; median, min-max)"
    ]
    for row in rows:
        results = row["results"]
        hand = statistics.median(results["hand"])
        lines.append(f"  {row['format']}")
        for name, label, _variant, _backend in _variants_for(row["format"]):
            median, low, high = _median_spread(results[name])
            added = ""
            if name not in ("floor", "hand"):
                added = f"   adds {(median - hand) * 1e6:5.1f} us to hand-written"
            lines.append(
                f"    {label:<36} {median * 1e6:7.1f} ({low * 1e6:.1f}-{high * 1e6:.1f}){added}"
            )
    return lines


def run_decode(rounds: int, smoke: bool) -> List[Dict[str, Any]]:
    """u-msgpack-python against msgpack's C extension, raw and through content."""
    rows = []
    sizes = {"1k": KB, "100k": 100 * KB, "1m": MB}
    for size_name, size in sizes.items():
        data = make_document(size, "msgpack")[1]
        decoders: Dict[str, Callable[[], Any]] = {
            "umsgpack.unpackb": lambda data=data: umsgpack.unpackb(data),
            "content (umsgpack)": lambda data=data: _with_backend("umsgpack", data),
        }
        if msgpack is not None:
            decoders["msgpack.unpackb"] = lambda data=data: msgpack.unpackb(data)
            decoders["content (msgpack)"] = lambda data=data: _with_backend("msgpack", data)
        samples: Dict[str, List[float]] = {name: [] for name in decoders}
        repeat: Dict[str, int] = {}
        for name, decode in decoders.items():
            start = time.process_time()
            decode()
            once = max(time.process_time() - start, 1e-6)
            repeat[name] = 1 if smoke else max(1, int(0.05 / once))
        for _ in range(rounds):
            for name, decode in decoders.items():
                gc.collect()
                start = time.process_time()
                for _ in range(repeat[name]):
                    decode()
                samples[name].append((time.process_time() - start) / repeat[name])
        rows.append({"size": size_name, "bytes": len(data), "samples": samples})
    content._use_backend(None)
    return rows


def _with_backend(backend: str, data: bytes) -> Any:
    content._use_backend(backend)
    return content.msgpack_unpackb(data)


# --- memory (each scenario in a fresh process) ------------------------------


def _rss_kib() -> int:
    """This process's peak RSS in KiB.

    Linux's ``ru_maxrss`` survives ``exec`` (a fresh child reports its
    parent's peak), so the kernel's per-process ``VmHWM`` is read instead.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_scenario(name: str, base: str, client_kind: str, calls: int) -> Dict[str, Any]:
    """Run one memory scenario in this (fresh) process and return its figures."""
    httpclient.AsyncHTTPClient.configure(CLIENTS[client_kind], max_clients=CONCURRENCY)
    content._use_backend("msgpack" if msgpack is not None else "umsgpack")
    logging.getLogger("sprockets_http").setLevel(logging.ERROR)  # the 503s are expected
    caller = Caller()
    result: Dict[str, Any] = {"scenario": name, "client": client_kind}

    async def concurrent() -> None:
        url = f"{base}/msgpack/1k"
        (await caller.http_fetch(url)).body  # noqa: B018 - warm up
        result["baseline_kib"] = _rss_kib()
        responses = await asyncio.gather(*(caller.http_fetch(url) for _ in range(calls)))
        if not all(response.ok and response.body for response in responses):
            raise RuntimeError("a concurrent call failed")
        result["peak_kib"] = _rss_kib()
        result["calls"] = calls

    async def retried() -> None:
        url = f"{base}/retry/msgpack/1m"
        (await caller.http_fetch(f"{base}/msgpack/1k")).body  # noqa: B018 - warm up
        result["baseline_kib"] = _rss_kib()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        response = await caller.http_fetch(url, retry_timeout=0)
        gc.collect()
        codes = [attempt.code for attempt in response.history]
        if codes != [503, 503, 200]:
            raise RuntimeError(f"unexpected attempts: {codes}")
        sizes = [len(attempt.body) for attempt in response.history]
        after_call = tracemalloc.get_traced_memory()[0] - before
        for attempt in response.history:  # tornado's body: buffer.getvalue(), cached
            for _ in range(3):
                attempt.body  # noqa: B018
        after_raw = tracemalloc.get_traced_memory()[0] - before
        response.body  # noqa: B018 - the decoded value is cached
        after_decode = tracemalloc.get_traced_memory()[0] - before
        for _ in range(5):
            response.body  # noqa: B018
            response.raw.body  # type: ignore[union-attr]  # noqa: B018
        after_reads = tracemalloc.get_traced_memory()[0] - before
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        result.update(
            body_bytes=sizes,
            held_after_call=after_call,
            held_after_raw_reads=after_raw,
            held_after_decode=after_decode,
            held_after_more_reads=after_reads,
            traced_peak=peak,
            shared=all(
                attempt.body is attempt.buffer.getvalue() for attempt in response.history
            ),
            peak_kib=_rss_kib(),
        )

    asyncio.run(concurrent() if name == "concurrent" else retried())
    return result


def run_memory(base: str, smoke: bool, clients: List[str]) -> List[Dict[str, Any]]:
    results = []
    calls = 50 if smoke else 1000
    for client_kind in clients:
        for scenario in ("concurrent", "retry"):
            output = subprocess.run(
                [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--memory-scenario",
                    scenario,
                    "--base",
                    base,
                    "--clients",
                    client_kind,
                    "--calls",
                    str(calls),
                ],
                check=True,
                stdout=subprocess.PIPE,
                text=True,
                timeout=300,
            ).stdout
            results.append(json.loads(output.strip().splitlines()[-1]))
    return results


# --- the report ---------------------------------------------------------------


def _median_spread(values: List[float]) -> Tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _fmt_us(seconds: float) -> str:
    micro = seconds * 1e6
    return f"{micro:,.0f}" if micro >= 100 else f"{micro:,.1f}"


def report_cell(cell: Cell) -> List[str]:
    results, requests = cell["results"], cell["requests"]
    cpu = {name: [c / requests for c, _ in runs] for name, runs in results.items()}
    wall = {name: [w / requests for _, w in runs] for name, runs in results.items()}
    mode = "sequential" if cell["concurrency"] == 1 else f"{cell['concurrency']} concurrent"
    lines = [
        f"{cell['client']} client, {cell['format']}, {SIZE_LABELS[cell['size']]}, {mode} "
        f"({requests} requests x {len(results['floor'])} rounds)",
        f"  {'variant':<34}{'CPU us/req (min-max)':>26}{'wall us/req':>13}{'req/s':>9}"
        f"{'CPU x floor':>13}{'CPU x hand':>12}{'wall x hand':>13}",
    ]
    for name, label in cell["labels"].items():
        median, low, high = _median_spread(cpu[name])
        wall_median = statistics.median(wall[name])
        x_floor = statistics.median(a / b for a, b in zip(cpu[name], cpu["floor"]))
        x_hand = statistics.median(a / b for a, b in zip(cpu[name], cpu["hand"]))
        wall_x_hand = statistics.median(a / b for a, b in zip(wall[name], wall["hand"]))
        spread = f"{_fmt_us(median)} ({_fmt_us(low)}-{_fmt_us(high)})"
        lines.append(
            f"  {label:<34}{spread:>26}{_fmt_us(wall_median):>13}{1 / wall_median:>9,.0f}"
            f"{x_floor:>13.3f}{x_hand:>12.3f}{wall_x_hand:>13.3f}"
        )
        cell.setdefault("summary", {})[name] = {
            "cpu_us": median * 1e6,
            "cpu_us_min": low * 1e6,
            "cpu_us_max": high * 1e6,
            "wall_us": wall_median * 1e6,
            "rps": 1 / wall_median,
            "cpu_x_floor": x_floor,
            "cpu_x_hand": x_hand,
            "wall_x_hand": wall_x_hand,
        }
    return lines


def report_decode(rows: List[Dict[str, Any]]) -> List[str]:
    lines = ["msgpack decode, CPU us per document (median, min-max)"]
    names = list(rows[0]["samples"])
    header = "".join(f"{name:>26}" for name in names)
    lines.append(f"  {'body':<16}{header}{'C speedup':>12}")
    for row in rows:
        cells = []
        for name in names:
            median, low, high = _median_spread(row["samples"][name])
            cells.append(f"{_fmt_us(median)} ({_fmt_us(low)}-{_fmt_us(high)})")
        speedup = ""
        if "content (msgpack)" in row["samples"]:
            speedup = "{:.1f}x".format(
                statistics.median(row["samples"]["content (umsgpack)"])
                / statistics.median(row["samples"]["content (msgpack)"])
            )
        label = f"{SIZE_LABELS[row['size']]} ({row['bytes']:,} B)"
        lines.append(f"  {label:<16}" + "".join(f"{c:>26}" for c in cells) + f"{speedup:>12}")
    lines.append("  C speedup: content (umsgpack) / content (msgpack), i.e. what http_fetch's")
    lines.append("  .body pays with the default install against the fast extra.")
    return lines


def report_memory(results: List[Dict[str, Any]]) -> List[str]:
    lines = ["memory (each scenario in a fresh process; RSS in MiB)"]
    for result in results:
        peak = result["peak_kib"] / 1024
        base = result["baseline_kib"] / 1024
        if result["scenario"] == "concurrent":
            lines.append(
                f"  {result['client']:<7} {result['calls']} concurrent 1 KB calls: peak RSS "
                f"{peak:.1f} (baseline {base:.1f}, +{peak - base:.1f})"
            )
        else:
            mib = 1024 * 1024
            bodies = sum(result["body_bytes"])
            lines.append(
                f"  {result['client']:<7} one call, 3 attempts x "
                f"{result['body_bytes'][0] / mib:.2f} MiB: peak RSS {peak:.1f} "
                f"(baseline {base:.1f}, +{peak - base:.1f})"
            )
            lines.append(
                f"          traced bytes held: after the call {result['held_after_call'] / mib:.2f}"
                f" (bodies {bodies / mib:.2f}), after raw .body reads "
                f"{result['held_after_raw_reads'] / mib:.2f}, after .body "
                f"{result['held_after_decode'] / mib:.2f}, after 5 more reads of each "
                f"{result['held_after_more_reads'] / mib:.2f}; traced peak "
                f"{result['traced_peak'] / mib:.2f}"
            )
            lines.append(
                "          each body shares the BytesIO buffer (no copy): "
                f"{'yes' if result['shared'] else 'NO'}"
            )
    return lines


# --- command line -----------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "Run from the repository root: `python benchmarks/run.py` for the full table "
            "(several minutes), `python benchmarks/run.py --smoke` for the CI check. The "
            "results are described in docs/performance.rst."
        ),
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny counts, one round: checks that it all works"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per cell (default 5)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every request count by this"
    )
    parser.add_argument(
        "--clients", nargs="+", choices=sorted(CLIENTS), default=["simple", "curl"]
    )
    parser.add_argument(
        "--formats", nargs="+", choices=sorted(FORMATS), default=["msgpack", "json"]
    )
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["1k", "1m"])
    parser.add_argument(
        "--modes", nargs="+", choices=["sequential", "concurrent"],
        default=["sequential", "concurrent"],
        help=f"concurrent means {CONCURRENCY} calls in flight",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the request benchmarks")
    parser.add_argument(
        "--no-overhead", action="store_true", help="skip the instant-client overhead figures"
    )
    parser.add_argument("--no-decode", action="store_true", help="skip the decode benchmarks")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory scenarios")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    # Internal: the upstream server, and one memory scenario in a fresh process.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory-scenario", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds = 1
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def _version(parts: Tuple[int, ...]) -> str:
    return ".".join(str(part) for part in parts)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve()
        return 0
    if args.memory_scenario:
        figures = memory_scenario(args.memory_scenario, args.base, args.clients[0], args.calls)
        print(json.dumps(figures))
        return 0

    started = time.perf_counter()

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    out = io.StringIO()
    out.write(
        f"sprockets_http benchmark: Python {sys.version.split()[0]}, "
        f"msgpack {_version(msgpack.version) if msgpack is not None else 'not installed'}, "
        f"u-msgpack-python {_version(umsgpack.version)}, {os.cpu_count()} CPUs\n\n"
    )
    figures: Dict[str, Any] = {}
    upstream = Upstream()
    try:
        if not args.no_http:
            cells = plan_cells(args)
            run_cells(upstream.base, cells, log)
            for cell in cells:
                out.write("\n".join(report_cell(cell)) + "\n\n")
            figures["http"] = [
                {k: v for k, v in cell.items() if k != "results"} for cell in cells
            ]
        if not args.no_overhead:
            log("the mixin's own cost, against an instant client")
            overhead = run_overhead(1 if args.smoke else args.rounds, args.smoke)
            out.write("\n".join(report_overhead(overhead)) + "\n\n")
            figures["overhead"] = overhead
        if not args.no_decode:
            log("decode micro-benchmarks")
            rows = run_decode(1 if args.smoke else args.rounds, args.smoke)
            out.write("\n".join(report_decode(rows)) + "\n\n")
            figures["decode"] = rows
        if not args.no_memory:
            log("memory scenarios")
            clients = [c for c in args.clients if c != "curl" or CURL_AVAILABLE]
            memory = run_memory(upstream.base, args.smoke, clients)
            out.write("\n".join(report_memory(memory)) + "\n")
            figures["memory"] = memory
    finally:
        upstream.stop()
    print(out.getvalue())
    log("done")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(figures, stream, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
