"""The report: plain-text tables from a :class:`~benchmarks.records.RunResult`.

:func:`render` gives the whole report (what ``benchmarks/run.py`` prints and
``--write-docs`` puts on the performance page): the summary table in issue
12's shape, the goals, each cell in full, the retry path, the
investigation's in-process pieces, memory, and what was left out.
"""

from __future__ import annotations

import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks.documents import SIZE_LABELS
from benchmarks.records import CellResult, Measurement, RunResult
from benchmarks.variants import BY_NAME, HTTP, IN_PROCESS, RETRY

#: The summary table's rows, in order.
TABLE_ROWS = [
    "simple",
    "simple+umsgpack",
    "sprockets.mixins.http-2.6.0",
    "default",
    "fast-simple",
    "fast-curl",
    "curl+msgpack",
    "simple+msgpack",
    "aiohttp+msgpack",
    "httpx+msgpack",
    "aiohttp-tornado+msgpack",
    "fast-aiohttp-tornado",
]

#: Issue 12's goals: (label, variant, baseline, limit, sizes it applies to).
GOALS: List[Tuple[str, str, str, float, Tuple[str, ...]]] = [
    ("F/G <= 1.05", "fast-curl", "curl+msgpack", 1.05, ("1k", "1m")),
    ("E/A+ <= 1.03", "fast-simple", "simple+msgpack", 1.03, ("1k", "1m")),
    ("D/B <= 1.03", "default", "simple+umsgpack", 1.03, ("1k", "1m")),
    ("F/C <= 0.35", "fast-curl", "sprockets.mixins.http-2.6.0", 0.35, ("1k",)),
]


def _scale(size: str) -> Tuple[float, str, float, str]:
    """Units for a size: (instruction divisor, its name, CPU multiplier, its name)."""
    return (1e3, "k", 1e6, "us") if size == "1k" else (1e6, "M", 1e3, "ms")


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _instructions(measurement: Optional[Measurement], size: str) -> str:
    if measurement is None or measurement.instructions is None:
        return "-"
    divisor, _unit, _, _ = _scale(size)
    return _number(measurement.instructions.per_call / divisor)


def _cpu(measurement: Optional[Measurement], size: str, spread: bool = True) -> str:
    if measurement is None or not measurement.samples:
        return "-"
    _, _, multiplier, _ = _scale(size)
    median = measurement.cpu_median() * multiplier
    if not spread:
        return _number(median)
    low, high = (value * multiplier for value in measurement.cpu_spread())
    return f"{_number(median)} ({_number(low)}-{_number(high)})"


def _table(header: Sequence[str], rows: List[Sequence[str]], left: int = 1) -> List[str]:
    """Columns padded to their widest cell: the first *left* to the left."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            cell.ljust(widths[i]) if i < left else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  " + "  ".join(cells).rstrip()

    return [line(header), "  " + "  ".join("-" * width for width in widths), *map(line, rows)]


def _http_cells(result: RunResult, fmt: str) -> List[CellResult]:
    return [cell for cell in result.cells if cell.cell.kind == HTTP and cell.cell.fmt == fmt]


def _column_title(cell: CellResult) -> str:
    mode = "seq" if cell.cell.concurrency == 1 else f"{cell.cell.concurrency} conc"
    divisor, unit, _, cpu_unit = _scale(cell.cell.size)
    return f"{SIZE_LABELS[cell.cell.size]} {mode} ({unit} instr / {cpu_unit})"


def summary(result: RunResult, fmt: str = "msgpack") -> List[str]:
    """Issue 12's table: instructions and median client CPU per call."""
    cells = _http_cells(result, fmt)
    if not cells:
        return []
    rows = []
    for name in TABLE_ROWS:
        found = [cell.measurements.get(name) for cell in cells]
        if not any(found):
            continue
        row = [BY_NAME[name].title]
        for cell, measurement in zip(cells, found):
            size = cell.cell.size
            row.append(f"{_instructions(measurement, size)} / {_cpu(measurement, size, False)}")
        rows.append(row)
    lines = [
        f"Per call, {fmt}: instructions (callgrind, client process) / median client CPU",
        *_table(["variant", *(_column_title(cell) for cell in cells)], rows),
    ]
    return lines


def _ratio_text(cell: CellResult, variant: str, baseline: str) -> str:
    cpu = cell.cpu_ratio(variant, baseline)
    instructions = cell.instruction_ratio(variant, baseline)
    if cpu is None:
        return "-"
    text = f"{cpu[0]:.3f} ({cpu[1]:.2f}-{cpu[2]:.2f})"
    if instructions is not None:
        text += f" / {instructions:.3f}"
    return text


def goals(result: RunResult, fmt: str = "msgpack") -> List[str]:
    """The goals' ratios in every cell: CPU (median of per-round ratios, with
    their range) / instructions."""
    cells = _http_cells(result, fmt)
    if not cells:
        return []
    rows = []
    for label, variant, baseline, _limit, sizes in GOALS:
        row = [label]
        for cell in cells:
            row.append(_ratio_text(cell, variant, baseline) if cell.cell.size in sizes else "")
        rows.append(row)
    for letter, variant in (("F", "fast-curl"), ("E", "fast-simple"), ("D", "default")):
        retry_row = retry_goal(result, variant)
        if retry_row:
            label = f"retry: per failed attempt {letter}/C <= 0.5"
            rows.append([label, retry_row, *[""] * (len(cells) - 1)])
    titles = [
        f"{SIZE_LABELS[c.cell.size]} {'seq' if c.cell.concurrency == 1 else 'conc'}"
        for c in cells
    ]
    return [
        "Goals (issue 12): CPU ratio, median (min-max) of per-round ratios / instruction ratio",
        *_table(["goal", *titles], rows),
    ]


def cell_detail(cell: CellResult) -> List[str]:
    """One cell in full: every variant's figures."""
    size = cell.cell.size
    divisor, unit, multiplier, cpu_unit = _scale(size)
    first = next(iter(cell.measurements.values()), None)
    calls = first.calls if first else 0
    mode = "sequential" if cell.cell.concurrency == 1 else f"{cell.cell.concurrency} in flight"
    kind = {HTTP: "to the upstream", RETRY: "503, 503, 200", IN_PROCESS: "in process"}[
        cell.cell.kind
    ]
    lines = [
        f"{cell.cell.fmt}, {SIZE_LABELS[size]}, {mode}, {kind} "
        f"({calls} calls x {cell.rounds} rounds)"
    ]
    rows = []
    for name, measurement in cell.measurements.items():
        count = measurement.instructions
        if count is None:
            instructions = "-"
            repeat = measurement.instructions_skipped and "skipped"
        else:
            instructions = _number(count.per_call / divisor)
            repeat = f"{count.spread * 100:.2f}%" if len(count.runs) > 1 else ""
        wall = statistics.median(measurement.wall_per_call()) if measurement.samples else 0
        rows.append(
            [
                BY_NAME[name].title,
                instructions,
                repeat or "",
                _cpu(measurement, size),
                _number(wall * multiplier) if wall else "-",
                f"{1 / wall:,.0f}" if wall else "-",
            ]
        )
    lines += _table(
        [
            "variant",
            f"{unit} instr/call",
            "repeat",
            f"CPU {cpu_unit}/call (min-max)",
            f"wall {cpu_unit}",
            "calls/s",
        ],
        rows,
    )
    return lines


def retry_goal(result: RunResult, variant: str = "fast-curl") -> str:
    """Per failed attempt, *variant* (F by default) against C: the CPU ratio
    ``/`` the instruction ratio, or ''."""
    figures = retry_attempt_costs(result)
    if variant not in figures or "sprockets.mixins.http-2.6.0" not in figures:
        return ""
    ours, original = figures[variant], figures["sprockets.mixins.http-2.6.0"]
    text = f"{ours[0] / original[0]:.3f}"
    if ours[1] is not None and original[1] is not None:
        text += f" / {ours[1] / original[1]:.3f}"
    return text


def retry_attempt_costs(result: RunResult) -> Dict[str, Tuple[float, Optional[float]]]:
    """What one failed attempt adds, per variant: (CPU seconds, instructions),
    as (a call with two 503s first - a call without) / 2, at 1 KB."""
    costs: Dict[str, Tuple[float, Optional[float]]] = {}
    for retry in result.cells:
        if retry.cell.kind != RETRY:
            continue
        plain = result.cell(f"{HTTP}/{retry.cell.fmt}/{retry.cell.size}/sequential")
        if plain is None:
            continue
        for name, measurement in retry.measurements.items():
            base = plain.measurements.get(name)
            if base is None or not measurement.samples or not base.samples:
                continue
            cpu = (measurement.cpu_median() - base.cpu_median()) / 2
            instructions = None
            if measurement.instructions and base.instructions:
                instructions = (measurement.instructions.per_call - base.instructions.per_call) / 2
            costs[name] = (cpu, instructions)
    return costs


def retry_section(result: RunResult) -> List[str]:
    costs = retry_attempt_costs(result)
    if not costs:
        return []
    rows = []
    for name, (cpu, instructions) in costs.items():
        rows.append(
            [
                BY_NAME[name].title,
                "-" if instructions is None else _number(instructions / 1e3),
                _number(cpu * 1e6),
            ]
        )
    return [
        "The retry path: what one failed attempt (a 503 with a 1 KB body, retried at once) adds",
        *_table(["variant", "k instr", "CPU us"], rows),
    ]


#: The investigation's in-process pieces, in the order they add up.
PIECES = [
    "request-object",
    "request-headers",
    "request-proxy",
    "response-object",
    "tornado-instant",
    "tornado-instant-simple",
    "proxy-reads-simple",
    "proxy-reads-curl",
    "mixin-instant-fast",
    "mixin-instant-default",
    "decode-msgpack",
    "decode-content-fast",
    "decode-umsgpack",
    "decode-content-default",
]


def in_process_section(result: RunResult) -> List[str]:
    """The pieces, per size: instructions and CPU per call."""
    lines: List[str] = []
    for cell in result.cells:
        if cell.cell.kind != IN_PROCESS:
            continue
        size = cell.cell.size
        divisor, unit, multiplier, cpu_unit = _scale(size)
        rows = []
        for name in PIECES:
            measurement = cell.measurements.get(name)
            if measurement is None:
                continue
            note = ""
            if name.startswith("proxy-reads-") and "value" in measurement.result:
                note = f"{measurement.result['value']} reads"
            rows.append(
                [
                    BY_NAME[name].label,
                    _instructions(measurement, size),
                    _cpu(measurement, size),
                    note,
                ]
            )
        if lines:
            lines.append("")
        lines.append(
            f"In process, {cell.cell.fmt} {SIZE_LABELS[size]} (no I/O): per call"
        )
        lines += _table(
            ["piece", f"{unit} instr", f"CPU {cpu_unit} (min-max)", ""], rows
        )
    return lines


def memory_section(memory: List[Dict[str, object]]) -> List[str]:
    if not memory:
        return []
    lines = ["Memory (each scenario in a fresh process; RSS in MiB)"]
    mib = 1024 * 1024
    for found in memory:
        peak = float(found["peak_kib"]) / 1024  # type: ignore[arg-type]
        base = float(found["baseline_kib"]) / 1024  # type: ignore[arg-type]
        if found["scenario"] == "concurrent":
            lines.append(
                f"  {found['client']:<7} {found['calls']} concurrent 1 KB calls: peak RSS "
                f"{peak:.1f} (baseline {base:.1f}, +{peak - base:.1f})"
            )
            continue
        sizes = found["body_bytes"]
        assert isinstance(sizes, list)
        lines.append(
            f"  {found['client']:<7} one call, 3 attempts x {sizes[0] / mib:.2f} MiB: peak RSS "
            f"{peak:.1f} (baseline {base:.1f}, +{peak - base:.1f})"
        )
        held = {key: float(found[key]) / mib for key in (  # type: ignore[arg-type]
            "held_after_call", "held_after_raw_reads", "held_after_decode",
            "held_after_more_reads", "traced_peak",
        )}
        lines.append(
            f"          traced MiB held: after the call {held['held_after_call']:.2f} "
            f"(bodies {sum(sizes) / mib:.2f}), after raw reads "
            f"{held['held_after_raw_reads']:.2f}, after .body {held['held_after_decode']:.2f}, "
            f"after more reads {held['held_after_more_reads']:.2f}; peak {held['traced_peak']:.2f}"
        )
        lines.append(
            "          each body shares the BytesIO buffer (no copy): "
            f"{'yes' if found['shared'] else 'NO'}"
        )
    return lines


def header(result: RunResult) -> List[str]:
    machine = result.machine
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    load = machine.get("load", {})
    lines = [
        f"sprockets_http benchmark, {result.started}, {result.seconds / 60:.1f} minutes",
        f"{machine['cpus']} CPUs; load average {load.get('before', '?')} before, "
        f"{load.get('after', '?')} after; {versions}",
    ]
    if machine.get("instructions_from"):
        lines.append(f"instruction counts from the run of {machine['instructions_from']}")
    return lines


def render(result: RunResult) -> str:
    """The whole report as text."""
    sections: List[List[str]] = [header(result)]
    formats = list(dict.fromkeys(cell.cell.fmt for cell in result.cells if cell.cell.kind == HTTP))
    for fmt in formats:
        sections.append(summary(result, fmt))
    sections.append(goals(result))
    sections.append(retry_section(result))
    sections.append(in_process_section(result))
    for cell in result.cells:
        if cell.cell.kind in (HTTP, RETRY):
            sections.append(cell_detail(cell))
    sections.append(memory_section(result.memory))  # type: ignore[arg-type]
    if result.skipped:
        sections.append(
            ["Left out:", *(f"  {name}: {why}" for name, why in result.skipped.items())]
        )
    skipped_counts = sorted(
        {
            f"  {BY_NAME[name].title}, {cell.cell.key}: {measurement.instructions_skipped}"
            for cell in result.cells
            for name, measurement in cell.measurements.items()
            if measurement.instructions_skipped
        }
    )
    if skipped_counts:
        sections.append(["No instruction count:", *skipped_counts])
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"
