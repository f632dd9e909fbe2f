"""The performance page's chart, drawn from a run's JSON (``--json``, or the
``docs/figures/performance.json`` that ``--write-docs`` writes).

For each document size, one row per variant of issue 12's table and the two
references: a bar for the median client CPU per call sequentially and one
with 100 calls in flight, each with its min-max over the rounds as a
whisker, and the figures (CPU and instructions per call) beside it.

It draws on the documentation's own :class:`Drawing` (docs/figures/
make_figures.py, passed in), so it has that page's fonts and colours, and it
imports nothing else from this repository: ``make_figures.py`` loads this
file by its path to redraw ``performance.svg`` from the checked-in JSON
(``tests/test_docs.py`` checks the two agree).
"""

from __future__ import annotations

import statistics
from typing import Any, Dict, List, Optional, Tuple

TITLE = "Client cost per call: this project against its floors, 2.6.0, aiohttp and httpx"

#: (variant name, letter, short label, colour role), top to bottom.
ROWS: List[Tuple[str, str, str, str]] = [
    ("simple", "A", "bare fetch, simple client", "floor"),
    ("simple+umsgpack", "B", "bare fetch + u-msgpack decode", "floor"),
    ("sprockets.mixins.http-2.6.0", "C", "sprockets.mixins.http 2.6.0", "original"),
    ("default", "D", "this project, default install", "ours"),
    ("fast-simple", "E", "this project, fast, simple", "ours"),
    ("fast-curl", "F", "this project, fast + curl", "ours"),
    ("curl+msgpack", "G", "bare fetch, curl + msgpack C", "floor"),
    ("simple+msgpack", "A+", "bare fetch, simple + msgpack C", "floor"),
    ("aiohttp+msgpack", "", "aiohttp + msgpack C", "reference"),
    ("httpx+msgpack", "", "httpx + msgpack C", "reference"),
]

#: Colour role -> (bar colour for sequential, lighter fill for 100 in flight).
COLOURS = {
    "floor": ("#8a9399", "#dfe3e6"),
    "original": ("#ca6f1e", "#f6dcc5"),
    "ours": ("#2980b9", "#cfe4f3"),
    "reference": ("#1e8449", "#cdebd9"),
}

SIZES = [("1k", "1 KB document", 1e6, "µs", 1e3, "k"), ("1m", "1 MB document", 1e3, "ms", 1e6, "M")]


def _figures(
    data: Dict[str, Any], size: str, sequential: bool
) -> Dict[str, Tuple[float, float, float, Optional[float]]]:
    """variant -> (CPU median, min, max per call in seconds, instructions per call)."""
    found: Dict[str, Tuple[float, float, float, Optional[float]]] = {}
    for cell in data["cells"]:
        spec = cell["cell"]
        if spec["kind"] != "http" or spec["fmt"] != "msgpack" or spec["size"] != size:
            continue
        if (spec["concurrency"] == 1) != sequential:
            continue
        for name, measurement in cell["measurements"].items():
            per_call = [sample["cpu"] / measurement["calls"] for sample in measurement["samples"]]
            if not per_call:
                continue
            count = measurement.get("instructions")
            instructions = statistics.median(count["runs"]) if count else None
            found[name] = (statistics.median(per_call), min(per_call), max(per_call), instructions)
    return found


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def describe(data: Dict[str, Any]) -> str:
    """The chart's ``<desc>``: every figure it shows, in words."""
    parts = []
    for size, title, cpu_scale, cpu_unit, _count_scale, _count_unit in SIZES:
        sequential = _figures(data, size, True)
        concurrent = _figures(data, size, False)
        rows = []
        for name, letter, label, _role in ROWS:
            if name not in sequential:
                continue
            text = f"{letter or label} {sequential[name][0] * cpu_scale:,.0f} {cpu_unit}"
            if name in concurrent:
                text += f" ({concurrent[name][0] * cpu_scale:,.0f} with 100 in flight)"
            rows.append(text)
        if rows:
            parts.append(f"{title}, median client CPU per call: " + "; ".join(rows) + ".")
    return (
        "Horizontal bars, one pair per variant: the median client CPU time per call made "
        "sequentially (dark) and with 100 calls in flight (light), with the range over the "
        "rounds as a whisker, and the instructions per call beside them. " + " ".join(parts)
    )


def draw(data: Dict[str, Any], drawing_class: Any) -> Any:
    """The chart for the run in *data*, on a new *drawing_class* (make_figures.Drawing)."""
    width = 760.0
    label_width, bar_left, bar_right = 236.0, 250.0, 560.0
    bar_height, pair_gap, row_gap = 10.0, 2.0, 9.0
    row_height = 2 * bar_height + pair_gap + row_gap
    drawing = drawing_class(width, 100.0, TITLE, describe(data))
    drawing.text(12, 22, TITLE, size=14, bold=True)
    drawing.text(
        12, 40,
        "Median client CPU per call, dark bars sequential, light bars 100 calls in flight; "
        "whiskers: min-max over the rounds.",
        size=11, fill="#6a6a6a",
    )
    drawing.text(
        12, 55,
        f"Beside each bar: CPU and instructions per call (callgrind). "
        f"{data['started']}, {data['machine']['cpus']} shared CPUs.",
        size=11, fill="#6a6a6a",
    )
    # The legend.
    x = 12.0
    for role, name, step in (("ours", "this project", 110), ("floor", "bare fetch (floors)", 150),
                             ("original", "sprockets.mixins.http 2.6.0", 195),
                             ("reference", "aiohttp, httpx", 0)):
        drawing.rect(x, 66, 12, 10, fill=COLOURS[role][0], stroke=None, radius=1)
        drawing.text(x + 17, 75, name, size=11)
        x += step
    y = 92.0
    for size, title, cpu_scale, cpu_unit, count_scale, count_unit in SIZES:
        sequential = _figures(data, size, True)
        concurrent = _figures(data, size, False)
        rows = [row for row in ROWS if row[0] in sequential or row[0] in concurrent]
        if not rows:
            continue
        top = max(
            [figures[2] for figures in sequential.values()]
            + [figures[2] for figures in concurrent.values()]
        )
        scale = (bar_right - bar_left) / top
        drawing.text(12, y + 14, title, size=13, bold=True)
        drawing.text(
            bar_left, y + 14, f"CPU {cpu_unit} per call · {count_unit} instructions per call",
            size=11, fill="#6a6a6a",
        )
        y += 24
        drawing.line(bar_left, y - 2, bar_left, y + len(rows) * row_height, stroke="#b0b6ba",
                     width=1)
        for name, letter, label, role in rows:
            drawing.text(12, y + bar_height + 5, letter, size=12, bold=True)
            drawing.text(38, y + bar_height + 5, label, size=12, max_width=label_width - 26)
            for index, figures in enumerate((sequential.get(name), concurrent.get(name))):
                if figures is None:
                    continue
                median, low, high, instructions = figures
                bar_y = y + index * (bar_height + pair_gap)
                colour = COLOURS[role][index]
                drawing.rect(bar_left, bar_y, max(median * scale, 1.0), bar_height, fill=colour,
                             stroke=None, radius=1)
                whisker_y = bar_y + bar_height / 2
                drawing.line(bar_left + low * scale, whisker_y, bar_left + high * scale,
                             whisker_y, stroke="#404040", width=1)
                text = f"{_number(median * cpu_scale)} {cpu_unit}"
                if instructions is not None:
                    text += f" · {_number(instructions / count_scale)}{count_unit}"
                drawing.text(bar_left + high * scale + 5, bar_y + bar_height - 1, text, size=10)
            y += row_height
        y += 14
    drawing.height = y
    return drawing
