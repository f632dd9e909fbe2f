"""Check the built HTML documentation in headless Chromium.

Every page of a Sphinx HTML build is loaded at each window width (by default
1280 CSS pixels, a desktop; 800, where the theme's sidebar leaves a narrow
text column; 400, a phone) and measured in the browser: a table wider than
the text column, a table that scrolls sideways inside its box, an image that
did not load, has no alt text or does not fit the column, and a page wider
than the window, each is a problem. The script prints one line per page and
width, then the problems, and exits 1 if there are any.

    python docs/check_rendering.py build/docs
    python docs/check_rendering.py build/docs --screenshots /tmp/shots

With ``--screenshots DIR`` it also writes, for each page and width, a PNG of
the whole page and one of every table and figure, to look at.

Needs nothing but the standard library and Chromium (Debian's ``chromium``
package). The pages are served by :mod:`http.server` on 127.0.0.1; the browser
is driven through the DevTools protocol over a pipe
(``--remote-debugging-pipe``), one browser for every page and width, with a
fresh profile and its background network features off.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import functools
import http.server
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]
DEFAULT_WIDTHS = (1280, 800, 400)
VIEWPORT_HEIGHT = 900
# Sphinx's own pages that hold no content of ours (search needs its index
# loaded by script and shows nothing by itself).
SKIPPED_PAGES = {"search.html"}

# Runs in the page; returns what it found. Everything is measured against the
# text column (the theme's article body), in CSS pixels, with 1 px of slack
# for rounding.
MEASURE = r"""
(() => {
  const column = document.querySelector('[itemprop="articleBody"]')
    || document.querySelector('div.body') || document.body;
  const limit = column.getBoundingClientRect().right + 1;
  const where = (element) => {
    const section = element.closest('section, div.section');
    const heading = section && section.querySelector('h1, h2, h3, h4, h5, h6');
    const caption = element.querySelector('caption, figcaption');
    const text = (caption || heading || {textContent: '(top)'}).textContent;
    return text.replace(/\s+/g, ' ').replace(/[\u00b6#]$/, '').trim();
  };
  const problems = [];
  const boxes = [];
  column.querySelectorAll('table').forEach((table, index) => {
    const box = table.getBoundingClientRect();
    const scroller = table.parentElement;
    const hidden = scroller.scrollWidth - scroller.clientWidth;
    if (box.right > limit) {
      problems.push(`table ${index + 1} ("${where(table)}") is ${Math.round(box.width)} px wide, `
        + `${Math.round(box.right - limit + 1)} px more than the column`);
    } else if (hidden > 1 && getComputedStyle(scroller).overflowX !== 'visible') {
      problems.push(`table ${index + 1} ("${where(table)}") scrolls sideways: `
        + `${hidden} px of it are hidden`);
    }
    boxes.push({kind: 'table', index: index + 1, x: box.left + scrollX, y: box.top + scrollY,
                width: box.width, height: box.height});
  });
  // A figure may scroll sideways inside its own box on a narrow screen, as a
  // code block does: then the box is what must fit in the column.
  const scrollBox = (element) => {
    for (let node = element.parentElement; node && node !== column; node = node.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(node).overflowX)) return node;
    }
    return element;
  };
  column.querySelectorAll('img').forEach((image, index) => {
    const box = scrollBox(image).getBoundingClientRect();
    if (!image.complete || image.naturalWidth === 0) {
      problems.push(`image ${index + 1} (${image.getAttribute('src')}) did not load`);
    } else if (box.right > limit) {
      problems.push(`image ${index + 1} (${image.getAttribute('src')}) is wider than the column`);
    }
    if (!image.getAttribute('alt')) {
      problems.push(`image ${index + 1} (${image.getAttribute('src')}) has no alt text`);
    }
    const figure = image.closest('figure, div.figure') || image;
    const frame = figure.getBoundingClientRect();
    boxes.push({kind: 'figure', index: index + 1, x: frame.left + scrollX,
                y: frame.top + scrollY, width: frame.width, height: frame.height});
  });
  const viewport = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > viewport + 1) {
    // Name the innermost elements that stick out, so the fix is easy to find.
    const sticksOut = (element) => element.getBoundingClientRect().right > viewport + 1;
    const wide = [...column.querySelectorAll('*')].filter(
      (element) => sticksOut(element) && ![...element.children].some(sticksOut));
    const names = wide.slice(0, 3).map((element) => {
      const classes = element.className ? '.' + element.className.split(' ').join('.') : '';
      const text = element.textContent.replace(/\s+/g, ' ').trim().slice(0, 40);
      return `<${element.tagName.toLowerCase()}${classes}> "${text}"`;
    });
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${viewport} px`
      + ` window: ${names.join(', ') || 'outside the text column'}`);
  }
  return {
    tables: column.querySelectorAll('table').length,
    images: column.querySelectorAll('img').length,
    problems, boxes,
  };
})()
"""


class ProtocolError(RuntimeError):
    """Chromium answered a DevTools command with an error, or not at all."""


class Browser:
    """Headless Chromium driven through the DevTools protocol over a pipe.

    ``--remote-debugging-pipe`` makes Chromium read commands from its file
    descriptor 3 and write answers and events to 4, each a JSON message
    followed by a NUL byte; no port is opened.
    """

    def __init__(self, executable: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="check-rendering-")
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        # The child's 3 and 4 come from these by dup2 in a tiny trampoline:
        # subprocess can keep descriptors open but not renumber them.
        trampoline = (
            "import fcntl, os, sys\n"
            "r, w = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])\n"
            "os.dup2(r, 3); os.dup2(w, 4); os.close(r); os.close(w)\n"
            "os.execv(sys.argv[3], sys.argv[3:])\n"
        )
        self.process = subprocess.Popen(  # noqa: S603 (our own command line)
            [sys.executable, "-c", trampoline, str(commands_read), str(answers_write),
             executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            pass_fds=(commands_read, answers_write),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(answers_write)
        fcntl.fcntl(self._answers, fcntl.F_SETFL, os.O_NONBLOCK)
        self._buffer = b""
        self._next_id = 0
        self._events: List[Dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable", session=self.session)
        self.call("Runtime.enable", session=self.session)

    def close(self) -> None:
        with contextlib.suppress(OSError, ProtocolError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._answers)
        shutil.rmtree(self._profile, ignore_errors=True)

    def _read_message(self, deadline: float) -> Dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError("Chromium did not answer in time")
            ready, _, _ = select.select([self._answers], [], [], left)
            if ready:
                chunk = os.read(self._answers, 1 << 20)
                if not chunk:
                    raise ProtocolError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        result: Dict[str, Any] = json.loads(message)
        return result

    def call(self, method: str, session: Optional[str] = None, **params: Any) -> Dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: Dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") != self._next_id:
                self._events.append(answer)
                continue
            if "error" in answer:
                raise ProtocolError(f"{method}: {answer['error']}")
            return dict(answer.get("result", {}))

    def wait_for_event(self, method: str) -> Dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == self.session:
                    del self._events[index]
                    return event
            self._events.append(self._read_message(deadline))

    def evaluate(self, expression: str) -> Any:
        answer = self.call(
            "Runtime.evaluate", session=self.session, expression=expression,
            returnByValue=True, awaitPromise=True,
        )
        if "exceptionDetails" in answer:
            raise ProtocolError(f"the page's script failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def load(self, url: str, width: int) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride", session=self.session,
            width=width, height=VIEWPORT_HEIGHT, deviceScaleFactor=1, mobile=False,
        )
        self._events.clear()
        self.call("Page.navigate", session=self.session, url=url)
        self.wait_for_event("Page.loadEventFired")
        # Web fonts change the width of text: measure once they are in.
        self.evaluate("document.fonts.ready.then(() => true)")

    def screenshot(self, path: pathlib.Path, clip: Optional[Dict[str, float]] = None) -> None:
        if clip is None:
            size = self.call("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
        answer = self.call(
            "Page.captureScreenshot", session=self.session, format="png",
            captureBeyondViewport=True, clip={**clip, "scale": 1},
        )
        path.write_bytes(base64.b64decode(answer["data"]))


@contextlib.contextmanager
def serve(directory: pathlib.Path) -> Iterator[str]:
    """Serve *directory* on 127.0.0.1 on a free port; yield its base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pages(build: pathlib.Path) -> List[str]:
    return sorted(
        path.name for path in build.glob("*.html") if path.name not in SKIPPED_PAGES
    )


def check(
    build: pathlib.Path,
    widths: Tuple[int, ...],
    chromium: str,
    screenshots: Optional[pathlib.Path] = None,
) -> List[str]:
    """Load every page at every width; return the problems, one line each."""
    problems: List[str] = []
    browser = Browser(chromium)
    try:
        with serve(build) as base:
            for width in widths:
                for page in pages(build):
                    browser.load(f"{base}/{page}", width)
                    found = browser.evaluate(MEASURE)
                    print(
                        f"{width:>5} px  {page:<22} {found['tables']:>2} tables "
                        f"{found['images']:>2} images  "
                        + ("ok" if not found["problems"] else f"{len(found['problems'])} problems")
                    )
                    problems += [f"{page} at {width} px: {text}" for text in found["problems"]]
                    if screenshots is not None:
                        stem = f"{page[:-5]}-{width}"
                        browser.screenshot(screenshots / f"{stem}.png")
                        for box in found["boxes"]:
                            margin = 8
                            clip = {
                                "x": max(box["x"] - margin, 0),
                                "y": max(box["y"] - margin, 0),
                                "width": box["width"] + 2 * margin,
                                "height": box["height"] + 2 * margin,
                            }
                            name = f"{stem}-{box['kind']}{box['index']}.png"
                            browser.screenshot(screenshots / name, clip)
    finally:
        browser.close()
    return problems


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=pathlib.Path, help="a Sphinx HTML build directory")
    parser.add_argument(
        "--widths", default=",".join(map(str, DEFAULT_WIDTHS)),
        help="window widths in CSS pixels, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--screenshots", type=pathlib.Path, metavar="DIR",
        help="also write PNGs of each page, table and figure there",
    )
    parser.add_argument(
        "--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"),
        help="the Chromium executable (default: chromium on PATH)",
    )
    args = parser.parse_args(argv)
    if not args.chromium:
        parser.error("Chromium was not found; install Debian's chromium package or use --chromium")
    if not (args.build / "index.html").is_file():
        parser.error(f"{args.build} is not an HTML build (no index.html)")
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    widths = tuple(int(width) for width in args.widths.split(","))
    problems = check(args.build, widths, args.chromium, args.screenshots)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problems" if problems else "no cut-off table, every image loaded")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
