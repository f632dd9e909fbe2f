#!/usr/bin/env python3
"""What OpenTelemetry costs ``http_fetch``, per call, against an instant client.

Run from the repository root::

    python benchmarks/otel_overhead.py            # 3 processes x 60 batches of 500 calls
    python benchmarks/otel_overhead.py --smoke    # tiny counts

The client answers every request at once, in process, with a 1 KB JSON body,
so the figures are the mixin's own work and what OpenTelemetry adds to it.
Each installation state runs in its own process (the API lets a process set
its providers once):

absent      ``opentelemetry`` cannot be imported (as if not installed)
api         opentelemetry-api installed, no SDK configured
sdk         an SDK configured: spans to a processor that drops them, metrics
            to an in-memory reader
tornado     the same with opentelemetry-instrumentation-tornado active (when
            installed): with ``OPENTELEMETRY = False`` its client span and
            metric for each fetch, with ``True`` sprockets_http's spans instead

In each process, batches of calls by a class with ``OPENTELEMETRY = True``
alternate with batches by one with ``OPENTELEMETRY = False``, so a burst of
load on the machine hits both alike; the figures are medians of the batches'
CPU time per call (``time.process_time``), and the difference is the median
of the per-pair differences. A 200 at the first attempt.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
from typing import Dict, List

_CHILD = r"""
import asyncio, gc, io, json, sys, time
mode, batches, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if mode == "absent":
    sys.modules["opentelemetry"] = None
from tornado import httpclient, httputil
from sprockets_http import HTTPClientMixin

if mode in ("sdk", "tornado"):
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    if mode == "tornado":
        from opentelemetry.instrumentation.tornado import TornadoInstrumentor
        TornadoInstrumentor().instrument()

BODY = json.dumps({"items": list(range(150))}).encode()

class Instant(httpclient.AsyncHTTPClient):
    def fetch_impl(self, request, callback):
        headers = httputil.HTTPHeaders({"Content-Type": "application/json"})
        callback(httpclient.HTTPResponse(request, 200, headers=headers, buffer=io.BytesIO(BODY)))

class On(HTTPClientMixin):
    OPENTELEMETRY = True

class Off(HTTPClientMixin):
    OPENTELEMETRY = False

httpclient.AsyncHTTPClient.configure(Instant)

async def batch(caller, count):
    gc.collect()
    cpu = time.process_time()
    for _ in range(count):
        (await caller.http_fetch("http://127.0.0.1:9/")).body
    return (time.process_time() - cpu) / count

async def run():
    on, off = On(), Off()
    await batch(on, 200)  # warm up: imports, caches
    await batch(off, 200)
    results = {"on": [], "off": []}
    for number in range(batches):
        pair = [("on", on), ("off", off)]
        for name, caller in pair if number % 2 else pair[::-1]:
            results[name].append(await batch(caller, calls))
    return results

print(json.dumps(asyncio.run(run())))
"""

MODES = ("absent", "api", "sdk", "tornado")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts")
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    batches, calls = (2, 50) if args.smoke else (args.batches, args.calls)
    print(f"CPU us per http_fetch call, instant client, {batches} batches x {calls} calls "
          "per class (median, min-max)")
    print(f"  {'':<7} {'OPENTELEMETRY=True':>22} {'OPENTELEMETRY=False':>22}  difference")
    for mode in MODES:
        if mode == "tornado" and importlib.util.find_spec(
            "opentelemetry.instrumentation.tornado"
        ) is None:
            print(f"  {mode:<7} (opentelemetry-instrumentation-tornado is not installed)")
            continue
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, mode, str(batches), str(calls)],
            capture_output=True, text=True, check=True, timeout=900,
        )
        results: Dict[str, List[float]] = json.loads(out.stdout.strip().splitlines()[-1])
        cells = []
        for name in ("on", "off"):
            values = results[name]
            cells.append(f"{statistics.median(values) * 1e6:6.1f} "
                         f"({min(values) * 1e6:5.1f}-{max(values) * 1e6:5.1f})")
        difference = statistics.median(a - b for a, b in zip(results["on"], results["off"]))
        print(f"  {mode:<7} {cells[0]:>22} {cells[1]:>22}  {difference * 1e6:+6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
