"""A client process: runs the calls of one or more variants when told to.

The orchestrator (:mod:`benchmarks.measure`) starts one of these per group of
variants that share an environment and a transport, and talks to it over
its standard input and output, one JSON object a line:

``{"op": "prepare", "variant": NAME, "cell": {...}}``
    build the variant's call for that cell and make it once (checked);
    answers a summary of what the call returned. With ``"slow": true`` the
    calls go to the upstream's ``/slow/`` targets, answered after a delay.
``{"op": "run", "variant": NAME, "cell": KEY, "calls": N, "concurrency": C}``
    make N calls, C at a time; answers this process's CPU seconds
    (``time.process_time``) and wall seconds for them. ``"collect": true``
    runs the garbage collector first, outside the timing.
``{"op": "collect"}``
    run the garbage collector.
``{"op": "zero"}``, ``{"op": "dump"}``
    mark where an instruction count starts and ends: under callgrind
    (``--zero-before=sched_getscheduler --dump-before=sched_getparam``)
    these two libc calls, which nothing else in the process makes, zero
    the counters and write them out.
``{"op": "info"}``
    versions, and which msgpack backend this project uses here.
``{"op": "quit"}``

Nothing but the answers goes to standard output; the package loggers' lines
go to a handler writing to ``os.devnull`` (formatted and written, as in a
service, but not shown). ``--without-msgpack`` makes ``import msgpack`` fail
before anything else is imported, which is what this project sees when
installed without its ``fast`` extra.

    python -m benchmarks.worker --transport simple --variants simple,fast-simple
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple


def _summary(value: Any) -> Dict[str, Any]:
    """What a call returned, briefly: enough to check it did its work."""
    if isinstance(value, dict):
        return {"type": "dict", "count": value.get("count")}
    if isinstance(value, (bytes, bytearray)):
        return {"type": "bytes", "length": len(value)}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    return {"type": type(value).__name__}


async def _run(call: Any, calls: int, concurrency: int) -> None:
    if concurrency == 1:
        for _ in range(calls):
            await call()
        return
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, calls))))


async def serve(transport_kind: str, variant_names: List[str], base: Optional[str]) -> None:
    from benchmarks import calls as calls_module
    from benchmarks.variants import BY_NAME, Cell

    transport = await calls_module.set_up_transport(transport_kind)
    prepared: Dict[Tuple[str, str], Any] = {}
    try:
        for line in sys.stdin:
            command = json.loads(line)
            op = command["op"]
            reply: Dict[str, Any] = {"ok": True}
            try:
                if op == "prepare":
                    name = command["variant"]
                    if name not in variant_names:
                        raise ValueError(f"{name} does not run in this process")
                    cell = Cell(**command["cell"])
                    call = await calls_module.make_call(
                        BY_NAME[name], cell, base, transport, command.get("slow", False)
                    )
                    reply["result"] = _summary(await call())
                    prepared[name, cell.key] = call
                elif op == "run":
                    call = prepared[command["variant"], command["cell"]]
                    if command.get("collect", True):
                        gc.collect()
                    cpu, wall = time.process_time(), time.perf_counter()
                    await _run(call, command["calls"], command["concurrency"])
                    reply["cpu"] = time.process_time() - cpu
                    reply["wall"] = time.perf_counter() - wall
                elif op == "collect":
                    gc.collect()
                elif op == "zero":
                    os.sched_getscheduler(0)
                elif op == "dump":
                    os.sched_getparam(0)
                elif op == "info":
                    reply["info"] = _info()
                elif op == "quit":
                    print(json.dumps(reply), flush=True)
                    break
                else:
                    raise ValueError(f"unknown op {op!r}")
            except Exception:  # noqa: BLE001 - reported to the orchestrator, which stops
                reply = {"ok": False, "error": traceback.format_exc()}
            print(json.dumps(reply), flush=True)
    finally:
        await transport.close()


def _info() -> Dict[str, Any]:
    import tornado

    info: Dict[str, Any] = {
        "python": sys.version.split()[0],
        "tornado": tornado.version,
        "msgpack_importable": _importable("msgpack"),
    }
    try:
        from sprockets_http import __version__, content
    except ImportError:
        pass
    else:
        info["sprockets_http"] = __version__
        info["msgpack_backend"] = content.msgpack_backend()
    try:
        from sprockets.mixins.http import __version__ as original_version
    except ImportError:
        pass
    else:
        info["sprockets.mixins.http"] = original_version
    return info


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transport", required=True)
    parser.add_argument("--variants", required=True, help="comma-separated variant names")
    parser.add_argument("--base", help="the upstream's URL")
    parser.add_argument("--without-msgpack", action="store_true")
    parser.add_argument(
        "--long-timeouts", action="store_true", help="every timeout 600 s (under callgrind)"
    )
    args = parser.parse_args(argv)
    if args.long_timeouts:
        from benchmarks import calls

        calls.long_timeouts = True
    if args.without_msgpack:
        # An entry of None in sys.modules makes the import raise ImportError.
        sys.modules["msgpack"] = None  # type: ignore[assignment]
    handler = logging.StreamHandler(open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    asyncio.run(serve(args.transport, args.variants.split(","), args.base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
