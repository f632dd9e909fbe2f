"""Draw the documentation's figures as SVG files, with nothing but Python.

    python docs/figures/make_figures.py            # rewrite the SVG files here
    python docs/figures/make_figures.py --check    # exit 1 if one is out of date

Each figure is a function in ``FIGURES`` that draws on a :class:`Drawing`: boxes,
text, lines and arrows on a grid of CSS pixels, written out the same way
every time, so a checked-in file changes only when its drawing does
(``tests/test_figures.py`` fails when a file and its function disagree).
Every drawing carries a ``<title>`` and a ``<desc>``; the page that shows it
gives it alt text too. To add a figure, write a function that returns a
:class:`Drawing`, add it to ``FIGURES``, run this script, and show the file
with a ``.. figure::`` directive (with ``:alt:``) on a page.

The figures state what the retry rules are (docs/retry.rst is the reference);
change them together. ``performance.svg`` is the exception: the benchmark's
chart (``benchmarks/chart.py``), drawn from ``performance.json`` beside it,
which ``python benchmarks/run.py --write-docs`` rewrites.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape

HERE = pathlib.Path(__file__).resolve().parent

# The Read the Docs theme's colours, and fonts every platform has a match for.
INK = "#404040"
MUTED = "#6a6a6a"
BLUE = "#2980b9"
LIGHT_BLUE = "#e7f2fa"
GREEN = "#1e8449"
LIGHT_GREEN = "#e9f7ef"
ORANGE = "#ca6f1e"
LIGHT_ORANGE = "#fdf2e9"
RED = "#c0392b"
LIGHT_GREY = "#f3f4f5"
GREY = "#b0b6ba"
SANS = "'Helvetica Neue', Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
MONO = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"


def number(value: float) -> str:
    """A coordinate as short, stable text: 12, 12.5, never 12.500000001."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def text_width(text: str, size: float, mono: bool = False) -> float:
    """A generous estimate of a text's width: the widest of the fonts above."""
    return len(text) * size * (0.61 if mono else 0.58)


class Drawing:
    """An SVG picture built from a few shapes, in CSS pixels.

    *title* and *description* become the picture's ``<title>`` and ``<desc>``
    (what a screen reader announces when the SVG is opened by itself).
    """

    def __init__(self, width: float, height: float, title: str, description: str) -> None:
        self.width = width
        self.height = height
        self.title = title
        self.description = description
        self.elements: List[str] = []

    @staticmethod
    def _attributes(**attributes: object) -> str:
        parts = []
        for name, value in attributes.items():
            if value is None:
                continue
            if isinstance(value, float):
                value = number(value)
            parts.append(f'{name.rstrip("_").replace("_", "-")}="{escape(str(value))}"')
        return " ".join(parts)

    def add(self, tag: str, content: Optional[str] = None, **attributes: object) -> None:
        opening = f"<{tag} {self._attributes(**attributes)}"
        self.elements.append(f"{opening}/>" if content is None else f"{opening}>{content}</{tag}>")

    def rect(
        self, x: float, y: float, width: float, height: float, *, fill: str = "none",
        stroke: Optional[str] = INK, dashed: bool = False, radius: float = 4,
    ) -> None:
        self.add(
            "rect", x=float(x), y=float(y), width=float(width), height=float(height),
            rx=float(radius), fill=fill, stroke=stroke, stroke_width=1.5 if stroke else None,
            stroke_dasharray="5 4" if dashed else None,
        )

    def line(
        self, x1: float, y1: float, x2: float, y2: float, *, stroke: str = INK,
        width: float = 1.5, dashed: bool = False, arrow: bool = False,
    ) -> None:
        self.add(
            "line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), stroke=stroke,
            stroke_width=float(width), stroke_dasharray="5 4" if dashed else None,
            marker_end=f"url(#arrow-{stroke.lstrip('#')})" if arrow else None,
        )

    def text(
        self, x: float, y: float, lines: str | Sequence[str], *, size: float = 13,
        anchor: str = "start", fill: str = INK, bold: bool = False, italic: bool = False,
        mono: bool = False, line_height: float = 1.3, max_width: Optional[float] = None,
    ) -> None:
        """Write one line, or several (a list), the first baseline at *y*.

        With *max_width*, a line estimated wider than that is a mistake in the
        figure and raises ``ValueError``, so labels never spill out of boxes.
        """
        rows = [lines] if isinstance(lines, str) else list(lines)
        if max_width is not None:
            for row in rows:
                if text_width(row, size, mono) > max_width:
                    raise ValueError(f"{row!r} does not fit in {max_width} px")
        spans = "".join(
            f'<tspan x="{number(x)}" dy="{number(0 if index == 0 else size * line_height)}">'
            f"{escape(row)}</tspan>"
            for index, row in enumerate(rows)
        )
        self.add(
            "text", spans, x=float(x), y=float(y), font_size=float(size),
            font_family=MONO if mono else SANS, text_anchor=anchor, fill=fill,
            font_weight="bold" if bold else None, font_style="italic" if italic else None,
        )

    def box(
        self, x: float, y: float, width: float, height: float, lines: str | Sequence[str], *,
        fill: str = "#ffffff", stroke: str = INK, text_fill: str = INK, size: float = 13,
        bold: bool = False, dashed: bool = False, mono: bool = False,
    ) -> None:
        """A rounded box with its text centred in it."""
        rows = [lines] if isinstance(lines, str) else list(lines)
        self.rect(x, y, width, height, fill=fill, stroke=stroke, dashed=dashed)
        if not rows:
            return
        first = y + height / 2 - (len(rows) - 1) * size * 1.3 / 2 + size * 0.35
        self.text(
            x + width / 2, first, rows, size=size, anchor="middle", fill=text_fill, bold=bold,
            mono=mono, max_width=width - 8,
        )

    def render(self) -> str:
        colours = sorted(
            {part.split("url(#arrow-")[1].split(")")[0]
             for part in self.elements if "url(#arrow-" in part}
        )
        markers = "".join(
            f'<marker id="arrow-{colour}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M 0 0 L 10 5 L 0 10 z" fill="#{colour}"/></marker>'
            for colour in colours
        )
        width, height = number(self.width), number(self.height)
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            "<!-- Generated by docs/figures/make_figures.py: edit that, not this. -->",
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" '
            'aria-labelledby="title desc">',
            f'<title id="title">{escape(self.title)}</title>',
            f'<desc id="desc">{escape(self.description)}</desc>',
            f"<defs>{markers}</defs>" if markers else "",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            *self.elements,
            "</svg>",
        ]
        return "\n".join(line for line in lines if line) + "\n"


# --- the retry timeline ----------------------------------------------------------

TIMELINE_TITLE = "The retry timeline"
TIMELINE_DESCRIPTION = (
    "Three calls on a time axis in seconds. With the defaults: attempt 1 gets a 503, "
    "the call waits 3 seconds, attempt 2 gets a 503, it waits 6 seconds, attempt 3 gets "
    "a 200 and the call returns it. With Retry-After: attempt 1 gets a 429 with "
    "Retry-After: 2, so the first wait is 2 seconds instead of 3; attempt 2 gets a 503 "
    "and the second wait is the backoff's 6 seconds; attempt 3 gets a 200. With "
    "total_timeout=8: attempts 1 and 2 get a 503 as in the first call, but the 6-second "
    "wait would end after the 8-second deadline, so it is not taken and the call returns "
    "the 503 at once."
)

#: One row of the timeline: a title, a subtitle, then the steps: ("attempt",
#: status) or ("wait", seconds, label). A wait whose label starts with "!" is
#: one the deadline cancels.
Step = Tuple[object, ...]
ATTEMPT_SECONDS = 0.7


def timeline() -> Drawing:
    rows: List[Tuple[str, str, List[Step], Optional[float]]] = [
        ("Backoff", "the defaults", [
            ("attempt", 503), ("wait", 3, "wait 3 s"), ("attempt", 503),
            ("wait", 6, "wait 6 s"), ("attempt", 200),
        ], None),
        ("Retry-After", "replaces one wait", [
            ("attempt", 429, "Retry-After: 2"), ("wait", 2, "wait 2 s"), ("attempt", 503),
            ("wait", 6, "wait 6 s"), ("attempt", 200),
        ], None),
        ("Deadline", "total_timeout=8", [
            ("attempt", 503), ("wait", 3, "wait 3 s"), ("attempt", 503),
            ("wait", 6, "!wait 6 s: it would end after the deadline, so it is not taken"),
        ], 8.0),
    ]
    left, right, top, row_height = 150.0, 745.0, 24.0, 96.0
    seconds = 13
    scale = (right - left) / seconds
    height = top + row_height * len(rows) + 46
    drawing = Drawing(760, height, TIMELINE_TITLE, TIMELINE_DESCRIPTION)

    def x_at(time: float) -> float:
        return left + time * scale

    for index, (title, subtitle, steps, deadline) in enumerate(rows):
        y = top + index * row_height
        middle = y + 44
        if index:
            drawing.line(12, y - 4, right, y - 4, stroke="#e1e4e5", width=1)
        drawing.text(12, middle - 4, title, size=14, bold=True, max_width=left - 20)
        drawing.text(12, middle + 14, subtitle, size=12, fill=MUTED, max_width=left - 20)
        if deadline is not None:
            drawing.line(x_at(deadline), y + 4, x_at(deadline), middle + 10,
                         stroke=RED, width=2, dashed=True)
            drawing.text(x_at(deadline) + 5, y + 14, f"deadline ({deadline:g} s)", size=12,
                         fill=RED, bold=True)
        now = 0.0
        attempt = 0
        for step in steps:
            if step[0] == "attempt":
                attempt += 1
                status = int(str(step[1]))
                good = status < 400
                drawing.text(x_at(now + ATTEMPT_SECONDS / 2), middle - 20, f"attempt {attempt}",
                             size=11, anchor="middle", fill=MUTED)
                drawing.box(
                    x_at(now), middle - 13, ATTEMPT_SECONDS * scale, 26, str(status),
                    fill=LIGHT_GREEN if good else LIGHT_ORANGE,
                    stroke=GREEN if good else ORANGE, text_fill=GREEN if good else ORANGE,
                    size=12, bold=True,
                )
                if len(step) > 2:  # a header the response carried
                    drawing.text(x_at(now), middle + 30, str(step[2]), size=11, mono=True,
                                 fill=ORANGE)
                now += ATTEMPT_SECONDS
            else:
                wait, label = float(str(step[1])), str(step[2])
                cancelled = label.startswith("!")
                start, end = x_at(now), x_at(now + wait)
                if cancelled:
                    drawing.rect(start + 2, middle - 5, end - start - 4, 10, fill="none",
                                 stroke=GREY, dashed=True, radius=2)
                    drawing.text(start + 4, middle + 22, label[1:], size=11, fill=RED,
                                 max_width=right - start)
                    drawing.text(x_at(now - ATTEMPT_SECONDS), middle + 38,
                                 "returns the 503 at once", size=11, bold=True)
                else:
                    drawing.rect(start + 2, middle - 5, end - start - 4, 10, fill=LIGHT_BLUE,
                                 stroke=BLUE, radius=2)
                    drawing.text((start + end) / 2, middle - 10, label, size=11,
                                 anchor="middle", fill=BLUE, max_width=end - start)
                    now += wait
        if steps[-1][0] == "attempt":
            drawing.text(x_at(now) + 6, middle + 4, "returns the 200", size=11, bold=True)

    axis = top + row_height * len(rows) + 4
    drawing.line(left, axis, right, axis, stroke=MUTED, width=1)
    for second in range(seconds + 1):
        drawing.line(x_at(second), axis, x_at(second), axis + 5, stroke=MUTED, width=1)
        if second % 2 == 0:
            drawing.text(x_at(second), axis + 19, f"{second} s", size=11, anchor="middle",
                         fill=MUTED)
    drawing.text(12, axis + 19, "time since the call", size=11, fill=MUTED)
    return drawing


# --- the decision for each outcome ------------------------------------------------

DECISIONS_TITLE = "Which outcomes are retried"
DECISIONS_DESCRIPTION = (
    "After each attempt: a 2xx or 3xx response, a status listed in dont_retry, a 4xx other "
    "than 423 and 429, and a TLS certificate that fails verification are returned to the "
    "caller. A 423 or 429 is retried for every method. A 5xx, a connection error or a "
    "timeout is retried when retry_methods is unset or lists the request's method, and "
    "returned otherwise. A retried outcome gets another attempt only if attempts are "
    "left, the wait ends before the total_timeout deadline, and the retry budget allows "
    "it; then the call waits (the backoff or Retry-After) and makes the next attempt. "
    "If any of the three says no, the call returns its last outcome and logs why at "
    "WARNING."
)


def decisions() -> Drawing:
    drawing = Drawing(760, 560, DECISIONS_TITLE, DECISIONS_DESCRIPTION)
    outcome_x, outcome_width = 12.0, 300.0
    check_x, check_width = 352.0, 190.0
    verdict_x, verdict_width = 582.0, 166.0
    row_height, gap = 40.0, 10.0

    drawing.text(outcome_x, 20, "Outcome of an attempt", size=14, bold=True)
    drawing.text(verdict_x, 20, "Then it is", size=14, bold=True)

    def verdict(y: float, retried: bool, note: Optional[str] = None) -> None:
        colour = ORANGE if retried else INK
        drawing.box(
            verdict_x, y, verdict_width, row_height, [] if retried else ["returned"],
            fill=LIGHT_ORANGE if retried else LIGHT_GREY, stroke=ORANGE if retried else MUTED,
            text_fill=colour, size=12, bold=True,
        )
        if retried:
            drawing.text(verdict_x + verdict_width / 2, y + row_height / 2 + (-3 if note else 4),
                         "retried", size=12, anchor="middle", fill=colour, bold=True)
        if note:
            drawing.text(verdict_x + verdict_width / 2, y + row_height / 2 + 12, note, size=11,
                         anchor="middle", fill=colour, max_width=verdict_width - 8)

    y = 36.0
    returned = [
        ["2xx or 3xx", "(a redirect that was not followed too)"],
        ["a status listed in dont_retry"],
        ["a 4xx other than 423 and 429", "(a retry would get the same answer)"],
        ["a TLS certificate that fails verification", "(unknown issuer, wrong host name)"],
    ]
    for lines in returned:
        drawing.box(outcome_x, y, outcome_width, row_height, lines, size=12)
        drawing.line(outcome_x + outcome_width, y + row_height / 2, verdict_x,
                     y + row_height / 2, arrow=True)
        verdict(y, retried=False)
        y += row_height + gap

    drawing.box(outcome_x, y, outcome_width, row_height,
                ["423 Locked, 429 Too Many Requests", "(the server did not process it)"], size=12)
    drawing.line(outcome_x + outcome_width, y + row_height / 2, verdict_x, y + row_height / 2,
                 arrow=True)
    verdict(y, retried=True, note="for every method")
    y += row_height + gap

    # 5xx and connection errors: the method decides.
    tall = 2 * row_height + gap
    drawing.box(outcome_x, y, outcome_width, tall,
                ["a 5xx, a connection error", "(refused, reset, DNS, other TLS errors)",
                 "or a timeout"],
                size=12)
    check_y = y + (tall - row_height - 10) / 2
    drawing.box(check_x, check_y, check_width, row_height + 10,
                ["retry_methods unset,", "or it lists the method?"], size=12,
                fill=LIGHT_BLUE, stroke=BLUE)
    drawing.line(outcome_x + outcome_width, y + tall / 2, check_x, y + tall / 2, arrow=True)
    drawing.line(check_x + check_width, check_y + 12, verdict_x, y + row_height / 2,
                 stroke=ORANGE, arrow=True)
    drawing.text(check_x + check_width + 8, check_y + 4, "yes", size=11, fill=ORANGE)
    verdict(y, retried=True)
    no_y = y + row_height + gap
    drawing.line(check_x + check_width, check_y + row_height - 2, verdict_x,
                 no_y + row_height / 2, arrow=True)
    drawing.text(check_x + check_width + 8, check_y + row_height + 22, "no", size=11)
    verdict(no_y, retried=False)
    y += tall + 34

    # Then the three limits, left to right.
    drawing.line(12, y - 14, 748, y - 14, stroke="#e1e4e5", width=1)
    drawing.text(outcome_x, y + 6, "A retried outcome gets another attempt only if:", size=14,
                 bold=True)
    y += 22
    steps = [
        ["attempts are left", "(max_http_attempts)"],
        ["the wait ends before", "the deadline", "(total_timeout)"],
        ["the retry budget", "allows it", "(RETRY_BUDGET)"],
    ]
    width, height, spacing = 150.0, 62.0, 42.0
    x = outcome_x
    for lines in steps:
        drawing.box(x, y, width, height, lines, size=12, fill=LIGHT_BLUE, stroke=BLUE)
        drawing.line(x + width, y + height / 2, x + width + spacing, y + height / 2,
                     stroke=ORANGE, arrow=True)
        drawing.text(x + width + spacing / 2, y + height / 2 - 6, "yes", size=11,
                     anchor="middle", fill=ORANGE)
        drawing.line(x + width / 2, y + height, x + width / 2, y + height + 40, arrow=True)
        drawing.text(x + width / 2 + 6, y + height + 24, "no", size=11)
        x += width + spacing
    drawing.box(x, y, 748 - x, height,
                ["wait (the backoff or", "Retry-After), then", "make the next attempt"],
                size=12, fill=LIGHT_ORANGE, stroke=ORANGE, text_fill=ORANGE, bold=True)
    y += height + 40
    drawing.box(outcome_x, y, 3 * width + 2 * spacing, 40,
                ["the call returns its last outcome", "and logs the reason at WARNING"],
                size=12, fill=LIGHT_GREY, stroke=MUTED)
    drawing.height = y + 40 + 12
    return drawing


# --- the benchmark's chart --------------------------------------------------------------


def performance() -> Drawing:
    """docs/performance.rst's chart: benchmarks/chart.py draws it from the
    figures the benchmark wrote (``python benchmarks/run.py --write-docs``)."""
    path = HERE.parent.parent / "benchmarks" / "chart.py"
    spec = importlib.util.spec_from_file_location("benchmark_chart", path)
    assert spec is not None and spec.loader is not None
    chart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chart)
    data = json.loads((HERE / "performance.json").read_text(encoding="utf-8"))
    drawing: Drawing = chart.draw(data, Drawing)
    return drawing


#: Every figure: file name -> the function that draws it.
FIGURES: Dict[str, Callable[[], Drawing]] = {
    "retry-timeline.svg": timeline,
    "retry-decisions.svg": decisions,
    "performance.svg": performance,
}


def render_all() -> Dict[str, str]:
    """Every figure's SVG text, by file name."""
    return {name: draw().render() for name, draw in FIGURES.items()}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 if a checked-in file differs from its drawing",
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path = HERE / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
            print(f"wrote docs/figures/{name}")
    if args.check and stale:
        print("out of date (run python docs/figures/make_figures.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
