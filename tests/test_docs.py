"""The documentation's commands and figures, checked like its code examples.

* The quickstart's "Run it" section: its commands run as a reader would run
  them, and what they print is compared with the lines on the page.
* The figures under docs/figures/: each checked-in SVG is what
  docs/figures/make_figures.py draws, is well-formed, carries a title and a
  description, and is shown on a page with alt text.

(tests/test_examples.py runs the Python examples and doctests.)
"""

from __future__ import annotations

import importlib.util
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
import urllib.error
import urllib.request
from typing import List
from xml.etree import ElementTree

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIGURES = DOCS / "figures"
SVG = "{http://www.w3.org/2000/svg}"


# --- the quickstart's "Run it" ----------------------------------------------------


def section(text: str, title: str) -> str:
    """The body of the section titled *title* (up to the next title of its level)."""
    body = text.split(f"\n{title}\n{'-' * len(title)}\n", 1)[1]
    return re.split(r"\n[^\n]+\n-{3,}\n", body, maxsplit=1)[0]


def console_blocks(text: str) -> List[List[str]]:
    """The lines of each ``.. code-block:: console`` in *text*."""
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: console\n\n((?:   .*\n|\n)+)", text, re.M):
        blocks.append(textwrap.dedent(match.group(1)).strip("\n").splitlines())
    return blocks


def get(url: str) -> str:
    """GET *url* as curl would (no proxy) and return the body, whatever the status."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=60) as answer:
            return answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.read().decode()


def test_quickstart_run_it_prints_what_the_page_shows():
    run_it = section((DOCS / "quickstart.rst").read_text("utf-8"), "Run it")
    start, calls = console_blocks(run_it)
    assert start[0] == "$ python examples/serve.py"
    # The page uses port 8000; here port 0 (the example takes a port as its
    # argument, 0 for a free one, and prints the one it got), as 8000 may be
    # taken on a shared machine.
    process = subprocess.Popen(
        [sys.executable, "examples/serve.py", "0"], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # Ctrl-C as at a terminal: a suite started in the background (a
        # shell's "&", nohup, some CI runners) ignores SIGINT, and a child
        # inherits that, so Python would never raise KeyboardInterrupt in it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    watchdog = threading.Timer(120, process.kill)  # never hang the suite
    watchdog.start()
    try:
        first_line = process.stdout.readline().rstrip("\n")
        port = re.search(r"127\.0\.0\.1:(\d+)/", first_line)
        assert port, first_line + process.stderr.read()
        assert first_line == start[1].replace(":8000/", f":{port.group(1)}/")

        assert len(calls) == 6
        durations = []
        for command, expected in zip(calls[0::2], calls[1::2]):
            assert command.startswith("$ curl http://127.0.0.1:8000/"), command
            url = command.split()[-1].replace(":8000/", f":{port.group(1)}/")
            started = time.monotonic()
            assert get(url) == expected, command
            durations.append(time.monotonic() - started)
        # "The first call answers after 3 seconds": the wait before the retry.
        assert durations[0] >= 2.9

        process.send_signal(signal.SIGINT)  # Ctrl-C
        _, errors = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
    # The retry is logged at WARNING by the sprockets_http logger, and the
    # example's log shows nothing else (its format: "name LEVEL: message").
    lines = errors.splitlines()
    assert all(line.startswith("sprockets_http ") for line in lines), errors
    retried = [line for line in lines if line.startswith("sprockets_http WARNING: GET http")
               and "/users/ada" in line and "503" in line and "retrying" in line]
    assert len(retried) == 1, errors


# --- the figures -----------------------------------------------------------------------


def load_generator() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("make_figures", FIGURES / "make_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def drawn():
    return load_generator().render_all()


def test_every_figure_is_checked_in_as_drawn(drawn):
    checked_in = {path.name for path in FIGURES.glob("*.svg")}
    assert checked_in == set(drawn), "run python docs/figures/make_figures.py"
    for name, text in drawn.items():
        assert (FIGURES / name).read_text("utf-8") == text, (
            f"docs/figures/{name} is out of date: run python docs/figures/make_figures.py"
        )


def test_every_figure_is_valid_svg_with_a_title_and_a_description(drawn):
    for name, text in drawn.items():
        root = ElementTree.fromstring(text.split("\n", 1)[1])  # after the XML declaration
        assert root.tag == f"{SVG}svg", name
        assert root.get("role") == "img", name
        title, description = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text, name
        assert description is not None and len(description.text or "") > 100, name
        width, height = float(root.get("width")), float(root.get("height"))
        assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}", name
        # Every shape and label lies inside the picture.
        for element in root.iter():
            for attribute, limit in (("x", width), ("x1", width), ("x2", width),
                                     ("y", height), ("y1", height), ("y2", height)):
                if element.get(attribute) is not None:
                    assert 0 <= float(element.get(attribute)) <= limit, (name, element.attrib)
            if element.tag == f"{SVG}rect" and element.get("x") is not None:
                assert float(element.get("x")) + float(element.get("width")) <= width, name
                assert float(element.get("y")) + float(element.get("height")) <= height, name


def test_every_figure_is_on_a_page_with_alt_text():
    pages = {path.name: path.read_text("utf-8") for path in DOCS.glob("*.rst")}
    shown = {}
    for page, text in pages.items():
        for match in re.finditer(r"^\.\. figure:: figures/(\S+)\n((?:   .*\n)*)", text, re.M):
            options = match.group(2)
            assert re.search(r"^   :alt: \S", options, re.M), f"{page}: {match.group(1)} has no alt"
            shown.setdefault(match.group(1), []).append(page)
    assert set(shown) == {path.name for path in FIGURES.glob("*.svg")}
    assert "retry.rst" in shown["retry-timeline.svg"] and "retry.rst" in shown[
        "retry-decisions.svg"
    ]


def test_a_label_too_wide_for_its_box_is_refused():
    # The generator's guard that keeps labels inside their boxes.
    generator = load_generator()
    drawing = generator.Drawing(100, 50, "title", "description")
    drawing.box(0, 0, 100, 30, "fits")
    with pytest.raises(ValueError, match="does not fit"):
        drawing.box(0, 0, 60, 30, "this label is far too long for the box")


# --- docs/check_rendering.py --------------------------------------------------------


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian's chromium package)")
def test_the_rendering_check_finds_a_cut_off_table_and_a_missing_image(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("check_rendering", DOCS / "check_rendering.py")
    assert spec is not None and spec.loader is not None
    check_rendering = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_rendering)
    svg = (FIGURES / "retry-timeline.svg").read_text("utf-8")
    (tmp_path / "figure.svg").write_text(svg, encoding="utf-8")
    column = '<body><div itemprop="articleBody" style="width: 300px">{}</div></body>'
    (tmp_path / "bad.html").write_text(column.format(
        '<div style="overflow: auto"><table><tr><td style="white-space: nowrap">'
        + "a cell that stays on one line " * 5 + "</td></tr></table></div>"
        '<img src="missing.svg" alt="gone"><img src="figure.svg">'
    ))
    (tmp_path / "good.html").write_text(column.format(
        "<table><tr><td>" + "a cell that wraps " * 5 + "</td></tr></table>"
        '<img src="figure.svg" alt="the timeline" style="max-width: 100%">'
    ))

    problems = check_rendering.check(tmp_path, (800,), CHROMIUM)

    found = [problem.split(": ", 1)[1] for problem in problems]
    # The table's width depends on the fonts installed; the rest does not.
    assert re.fullmatch(r'table 1 \("\(top\)"\) is \d+ px wide, \d+ px more than the column',
                        found[0]), found[0]
    assert found[1:] == [
        "image 1 (missing.svg) did not load",
        "image 2 (figure.svg) is wider than the column",
        "image 2 (figure.svg) has no alt text",
    ]
    assert all(problem.startswith("bad.html at 800 px: ") for problem in problems)
    assert "good.html" in capsys.readouterr().out
