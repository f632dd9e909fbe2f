"""Memory: each scenario in a fresh process, with this project's defaults
(msgpack's C extension when it is installed).

* ``concurrent``: the peak RSS (Linux ``VmHWM``) for N concurrent 1 KB calls.
* ``retry``: one call whose three attempts (503, 503, 200) each return 1 MB,
  with :mod:`tracemalloc` accounting of the bytes the response holds after
  the call, after reading every attempt's body, after decoding, and after
  more reads.

    python -m benchmarks.memory --scenario retry --base URL --client curl
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import resource
import subprocess
import sys
import tracemalloc
from typing import Any, Dict, List, Optional

from tornado import httpclient

from benchmarks.calls import CLIENT_CLASSES
from benchmarks.environments import ROOT
from benchmarks.variants import CONCURRENCY


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


def scenario(name: str, base: str, client_kind: str, calls: int) -> Dict[str, Any]:
    """Run one scenario in this (fresh) process and return its figures."""
    from sprockets_http import HTTPClientMixin

    class Caller(HTTPClientMixin):
        pass

    httpclient.AsyncHTTPClient.configure(CLIENT_CLASSES[client_kind], max_clients=CONCURRENCY)
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
    """Every scenario for every client, each in a fresh process."""
    results = []
    calls = 50 if smoke else 1000
    for client_kind in clients:
        for name in ("concurrent", "retry"):
            output = subprocess.run(
                [
                    sys.executable, "-m", "benchmarks.memory", "--scenario", name,
                    "--base", base, "--client", client_kind, "--calls", str(calls),
                ],
                cwd=ROOT,
                check=True,
                stdout=subprocess.PIPE,
                text=True,
                timeout=300,
            ).stdout
            results.append(json.loads(output.strip().splitlines()[-1]))
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["concurrent", "retry"], required=True)
    parser.add_argument("--base", required=True)
    parser.add_argument("--client", choices=sorted(CLIENT_CLASSES), default="simple")
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args(argv)
    print(json.dumps(scenario(args.scenario, args.base, args.client, args.calls)))
    return 0


if __name__ == "__main__":
    os.environ.pop("HTTP_MAX_CLIENTS", None)
    sys.exit(main())
