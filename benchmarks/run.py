#!/usr/bin/env python3
"""Benchmark sprockets_http's ``http_fetch`` against its transports' floors,
sprockets.mixins.http 2.6.0, aiohttp and httpx.

Run from the repository root::

    python benchmarks/run.py              # the full run (see docs/performance.rst)
    python benchmarks/run.py --smoke      # tiny counts, one round, no callgrind: CI
    python benchmarks/run.py --help

The variants, cells and modules are described in ``benchmarks/__init__.py``
and on the performance page. Exits non-zero when anything fails.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run as a script: make the benchmarks package importable
    sys.path.insert(0, ROOT)

from benchmarks import measure, report  # noqa: E402
from benchmarks.environments import BUILD, environments  # noqa: E402
from benchmarks.records import RunResult  # noqa: E402
from benchmarks.upstream import Upstream  # noqa: E402
from benchmarks.variants import (  # noqa: E402
    CONCURRENCY,
    DEFAULT_INSTALL,
    HTTP,
    IN_PROCESS,
    PROJECT,
    RETRY,
    VARIANTS,
    Cell,
    Variant,
)

DOCS_FIGURES = os.path.join(ROOT, "docs", "figures")

# (calls per round, warm-up calls, calls counted by callgrind, callgrind's warm-up)
# by (kind, size, sequential?). 1 MB decoded by u-msgpack-python is about
# 0.1 s and 10^9 instructions a call: those cells are small. Every variant
# also makes one checked call when it is prepared for a cell, before these.
# Many short rounds rather than a few long ones: a burst of load on the
# machine then spoils fewer rounds, and the medians shrug them off.
COUNTS: Dict[Tuple[str, str, bool], Tuple[int, int, int, int]] = {
    (HTTP, "1k", True): (150, 20, 100, 20),
    (HTTP, "1k", False): (500, 200, 200, 100),
    (HTTP, "1m", True): (3, 2, 1, 0),
    (HTTP, "1m", False): (100, 10, 100, 10),
    (RETRY, "1k", True): (50, 5, 50, 5),
    (IN_PROCESS, "1k", True): (1000, 100, 200, 20),
    (IN_PROCESS, "1m", True): (3, 1, 1, 0),
}
SMOKE_COUNTS: Dict[Tuple[str, str, bool], Tuple[int, int, int, int]] = {
    (HTTP, "1k", True): (4, 1, 2, 1),
    (HTTP, "1k", False): (20, 2, 20, 2),
    (HTTP, "1m", True): (1, 0, 1, 0),
    (RETRY, "1k", True): (2, 0, 2, 1),
    (IN_PROCESS, "1k", True): (20, 2, 2, 1),
    (IN_PROCESS, "1m", True): (1, 0, 1, 0),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The results and how to read them: docs/performance.rst.",
    )
    parser.add_argument(
        "--smoke", action="store_true",
        help="tiny counts, one round, no callgrind: checks that it all works (CI)",
    )
    parser.add_argument(
        "--rounds", type=int, default=10,
        help="CPU rounds per cell (default 10; 3 at most for 1 MB with 100 in flight)",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every CPU call count by this"
    )
    parser.add_argument(
        "--variants", nargs="+", metavar="NAME",
        help="only these variants (names or letters, e.g. F G fast-simple); default: all",
    )
    parser.add_argument(
        "--clients", nargs="+", choices=["simple", "curl"], default=["simple", "curl"],
        help="tornado clients to include (variants on other transports are kept)",
    )
    parser.add_argument("--formats", nargs="+", choices=["msgpack", "json"], default=["msgpack"])
    parser.add_argument("--sizes", nargs="+", choices=["1k", "1m"], default=["1k", "1m"])
    parser.add_argument(
        "--modes", nargs="+", choices=["sequential", "concurrent"],
        default=["sequential", "concurrent"], help=f"concurrent: {CONCURRENCY} calls in flight",
    )
    parser.add_argument("--no-http", action="store_true", help="skip the calls to the upstream")
    parser.add_argument("--no-retry", action="store_true", help="skip the retry-path cell")
    parser.add_argument(
        "--no-overhead", "--no-in-process", dest="no_in_process", action="store_true",
        help="skip the in-process cells (the investigation's pieces and the decoders)",
    )
    parser.add_argument(
        "--no-decode", action="store_true", help="skip the decoders in the in-process cells"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory scenarios")
    parser.add_argument(
        "--no-original", action="store_true",
        help="leave sprockets.mixins.http 2.6.0 out (no virtualenv is made)",
    )
    parser.add_argument(
        "--original-python", metavar="PATH",
        help="the Python 3.9-3.11 for 2.6.0's virtualenv (default: this one, or python3.11...)",
    )
    callgrind = parser.add_mutually_exclusive_group()
    callgrind.add_argument(
        "--no-callgrind", action="store_true", help="no instruction counts (the default in --smoke)"
    )
    callgrind.add_argument(
        "--callgrind", action="store_true", help="count instructions even in --smoke"
    )
    parser.add_argument(
        "--callgrind-runs", type=int, default=1, metavar="N",
        help="run callgrind N times and report how far the counts moved (default 1)",
    )
    parser.add_argument(
        "--callgrind-budget", type=float, default=4.0, metavar="G",
        help="skip a concurrent cell's count when it would take over G x 10^9 "
        "instructions (default 4)",
    )
    parser.add_argument(
        "--callgrind-delay", type=float, default=0.03, metavar="SECONDS",
        help="how long the upstream waits before each answer in the sequential cells "
        "while instructions are counted (default 0.03)",
    )
    parser.add_argument(
        "--instructions-from", metavar="JSON",
        help="take the instruction counts from a saved --json file instead of counting "
        "(to re-measure the CPU figures only, or with --report-from to combine two runs)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument(
        "--write-docs", action="store_true",
        help="write docs/figures/performance.{json,txt,svg} from this run",
    )
    parser.add_argument(
        "--report-from", metavar="JSON",
        help="measure nothing: print the report of a saved --json file (with --write-docs, "
        "redraw the page's files from it)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    # Internal: the upstream server (python -m benchmarks.upstream does the same).
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds = 1
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.callgrind_runs < 1:
        parser.error("--callgrind-runs must be at least 1")
    return args


def select_variants(
    args: argparse.Namespace, envs: Dict[str, Any]
) -> Tuple[List[Variant], Dict[str, str]]:
    """The variants to run, and why the others are left out."""
    chosen, skipped = [], {}
    wanted = None
    if args.variants:
        wanted = set(args.variants)
        known = {v.name for v in VARIANTS} | {v.letter for v in VARIANTS if v.letter}
        unknown = wanted - known
        if unknown:
            raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")
    for variant in VARIANTS:
        if wanted is not None:
            if variant.name not in wanted and variant.letter not in wanted:
                continue
        elif variant.optional:
            continue
        if variant.transport in ("simple", "curl") and variant.transport not in args.clients:
            continue
        if args.no_decode and variant.call.startswith("decode"):
            continue
        environment = envs[variant.environment]
        if environment.python is None:
            skipped[variant.name] = environment.unavailable
            continue
        missing = [module for module in variant.requires if not environment.importable(module)]
        if missing:
            extra = "the bench extra" if {"aiohttp", "httpx"} & set(missing) else "its extra"
            skipped[variant.name] = f"{', '.join(missing)} not importable (install {extra})"
            continue
        chosen.append(variant)
    return chosen, skipped


def plan_cells(args: argparse.Namespace, variants: List[Variant]) -> List[measure.CellPlan]:
    """The cells, in the order they run (sequential before concurrent, so the
    callgrind budget can use the sequential count)."""
    counts = SMOKE_COUNTS if args.smoke else COUNTS
    cells: List[Cell] = []
    for fmt in args.formats:
        if not args.no_http:
            for size in args.sizes:
                for mode in ("sequential", "concurrent"):
                    if args.smoke and size == "1m" and mode == "concurrent":
                        continue  # the 1 KB concurrent and 1 MB sequential cells cover it
                    if mode in args.modes:
                        concurrency = 1 if mode == "sequential" else CONCURRENCY
                        cells.append(Cell(HTTP, fmt, size, concurrency))
                if size == "1k" and not args.no_retry and "sequential" in args.modes:
                    cells.append(Cell(RETRY, fmt, size, 1))
        if not args.no_in_process:
            for size in args.sizes:
                cells.append(Cell(IN_PROCESS, fmt, size, 1))
    plans = []
    for cell in cells:
        names = tuple(variant.name for variant in variants if cell.runs(variant))
        if not names:
            continue
        sequential = cell.concurrency == 1
        calls, warmup, counted, counted_warmup = counts[(cell.kind, cell.size, sequential)]
        rounds = args.rounds
        if cell.size == "1m" and cell.concurrency > 1:
            rounds = min(rounds, 3)  # 100 u-msgpack-python decodes of 1 MB: 10 s a round
        plans.append(
            measure.CellPlan(
                cell, names, max(1, int(calls * args.scale)), rounds, warmup, counted,
                counted_warmup,
            )
        )
    return plans


def _versions() -> Dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("sprockets-http-client", "tornado", "msgpack", "u-msgpack-python", "pycurl",
                 "aiohttp", "httpx"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        import pycurl

        found["libcurl"] = pycurl.version_info()[1]
    except ImportError:
        pass
    valgrind = measure.callgrind_available()
    if valgrind:
        done = subprocess.run(
            [valgrind, "--version"], stdout=subprocess.PIPE, text=True, check=False
        )
        found["valgrind"] = done.stdout.strip().replace("valgrind-", "")
    return found


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def check_backends(info: Dict[str, Dict[str, Any]], all_groups: List[measure.Group]) -> None:
    """The default-install processes must decode with u-msgpack-python and the
    others with msgpack's C extension, or the table would lie."""
    for group in all_groups:
        backend = info[group.name].get("msgpack_backend")
        if backend is None:
            continue
        expected = "umsgpack" if group.environment == DEFAULT_INSTALL else None
        if group.environment == PROJECT and info[group.name].get("msgpack_importable"):
            expected = "msgpack"
        if expected and backend != expected:
            raise SystemExit(f"{group.name}: this project decodes msgpack with {backend}")


def copy_instructions(result: RunResult, path: str) -> None:
    """Give *result* the instruction counts of the run saved in *path*, cell by
    cell and variant by variant (they do not depend on the machine's load)."""
    with open(path, encoding="utf-8") as stream:
        saved = RunResult.from_json(json.load(stream))
    for cell in result.cells:
        earlier = saved.cell(cell.cell.key)
        if earlier is None:
            continue
        for name, measurement in cell.measurements.items():
            found = earlier.measurements.get(name)
            if found is not None:
                measurement.instructions = found.instructions
                measurement.instructions_skipped = found.instructions_skipped
    result.machine["instructions_from"] = saved.started
    result.machine.setdefault("versions", {})["valgrind"] = saved.machine["versions"].get(
        "valgrind", "?"
    )


def write_docs(result: RunResult, text: str) -> None:
    """docs/figures/performance.json and .txt, then the chart redrawn from them."""
    with open(os.path.join(DOCS_FIGURES, "performance.json"), "w", encoding="utf-8") as stream:
        json.dump(result.to_json(), stream, indent=1)
        stream.write("\n")
    with open(os.path.join(DOCS_FIGURES, "performance.txt"), "w", encoding="utf-8") as stream:
        stream.write(text)
    spec = importlib.util.spec_from_file_location(
        "make_figures", os.path.join(DOCS_FIGURES, "make_figures.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([])


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.serve:
        from benchmarks.upstream import serve

        serve()
        return 0
    if args.report_from:
        with open(args.report_from, encoding="utf-8") as stream:
            result = RunResult.from_json(json.load(stream))
        if args.instructions_from:
            copy_instructions(result, args.instructions_from)
        text = report.render(result)
        print(text)
        if args.write_docs:
            write_docs(result, text)
        return 0

    started = time.perf_counter()

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    result = RunResult(
        started=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        seconds=0.0,
        machine={"cpus": os.cpu_count(), "load": {"before": _load()}, "versions": _versions()},
    )
    wants_original = not args.no_original and (
        not args.variants or bool({"C", "sprockets.mixins.http-2.6.0"} & set(args.variants))
    )
    envs = environments(log, wants_original, args.original_python)
    variants, result.skipped = select_variants(args, envs)
    for name, why in result.skipped.items():
        log(f"left out {name}: {why}")
    plans = plan_cells(args, variants)
    used = {name for plan in plans for name in plan.variants}
    variants = [variant for variant in variants if variant.name in used]
    all_groups = measure.groups(variants)
    group_of = {variant.name: group.name for group in all_groups for variant in group.variants}
    with Upstream(delay=args.callgrind_delay) as upstream:
        if plans:
            log(f"starting {len(all_groups)} client processes")
            workers = measure.start_workers(
                all_groups, envs, upstream.base, os.path.join(BUILD, "logs")
            )
            try:
                for group in all_groups:
                    result.info[group.name] = workers[group.name].request(op="info")["info"]
                check_backends(result.info, all_groups)
                result.cells = measure.measure_cpu(plans, workers, group_of, log)
            finally:
                for worker in workers.values():
                    worker.close()
            if args.json:  # the CPU figures are kept if the callgrind part fails
                with open(args.json, "w", encoding="utf-8") as stream:
                    json.dump(result.to_json(), stream, indent=1)
        if not args.no_memory and not args.no_http:
            from benchmarks.memory import run_memory

            log("memory scenarios")
            clients = [
                client for client in args.clients
                if client != "curl" or envs[PROJECT].importable("pycurl")
            ]
            result.memory = run_memory(upstream.base, args.smoke, clients)
        if args.instructions_from:
            copy_instructions(result, args.instructions_from)
        elif plans and not args.no_callgrind and (args.callgrind or not args.smoke):
            measure.count_instructions(
                plans, result.cells, all_groups, envs, upstream.base, args.callgrind_runs,
                args.callgrind_budget * 1e9, log,
            )
    result.machine["load"]["after"] = _load()
    result.seconds = time.perf_counter() - started
    text = report.render(result)
    print(text)
    log("done")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(result.to_json(), stream, indent=1)
    if args.write_docs:
        write_docs(result, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
