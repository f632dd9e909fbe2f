"""What is measured: the variants (who makes the call, how) and the cells
(which document, how many calls in flight).

Plain records, no I/O and no third-party import: the orchestrator
(:mod:`benchmarks.run`) plans with them, and each client process
(:mod:`benchmarks.worker`) looks its variants up here by name and runs the
code :mod:`benchmarks.calls` has for them.

The variants A to G are the rows of issue 12's table; their names are
stable (the JSON output, the chart and the goals use them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

#: Kinds of cell: calls to the upstream, calls that never leave the process
#: (the investigation's pieces and the decoders), and calls whose first two
#: attempts get a 503.
HTTP, IN_PROCESS, RETRY = "http", "in-process", "retry"

#: The client processes' environments (see :mod:`benchmarks.environments`):
#: this project's interpreter with everything installed; the same with
#: msgpack made unimportable, which is what the default install (no ``fast``
#: extra) sees; and a separate virtualenv with sprockets.mixins.http 2.6.0.
PROJECT, DEFAULT_INSTALL, ORIGINAL = "project", "default-install", "sprockets-2.6.0"


@dataclass(frozen=True)
class Variant:
    """One way of making the call that is measured.

    *transport* is what carries the request: tornado's ``simple`` or ``curl``
    client, ``aiohttp`` or ``httpx`` themselves, ``aiohttp-tornado`` (the
    investigation's AsyncHTTPClient on aiohttp), ``instant`` (an
    AsyncHTTPClient answering at once, in process) or ``none``. *call* names
    what each call does, in :mod:`benchmarks.calls`. *requires* lists the
    modules that must be importable for the variant to run (it is left out,
    saying so, when one is not).
    """

    name: str
    letter: str
    label: str
    kinds: Tuple[str, ...]
    environment: str
    transport: str
    call: str
    requires: Tuple[str, ...] = ()
    #: Left out unless asked for by name (``--variants``).
    optional: bool = False

    @property
    def title(self) -> str:
        """The label with the letter in front, for tables."""
        return f"{self.letter} {self.label}" if self.letter else self.label


_HTTP_AND_RETRY = (HTTP, RETRY)

VARIANTS: List[Variant] = [
    # --- issue 12's table ---------------------------------------------------------------
    Variant("simple", "A", "bare simple fetch", (HTTP,), PROJECT, "simple", "fetch"),
    Variant(
        "simple+umsgpack", "B", "bare simple fetch + u-msgpack decode", (HTTP,), PROJECT,
        "simple", "fetch+decode-py",
    ),
    Variant(
        "sprockets.mixins.http-2.6.0", "C", "sprockets.mixins.http 2.6.0", _HTTP_AND_RETRY,
        ORIGINAL, "simple", "mixin-2.6.0",
    ),
    Variant(
        "default", "D", "this project, default install (u-msgpack)", _HTTP_AND_RETRY,
        DEFAULT_INSTALL, "simple", "mixin",
    ),
    Variant(
        "fast-simple", "E", "this project, fast extra, simple client", _HTTP_AND_RETRY,
        PROJECT, "simple", "mixin", ("msgpack",),
    ),
    Variant(
        "fast-curl", "F", "this project, fast + curl", _HTTP_AND_RETRY, PROJECT, "curl",
        "mixin", ("msgpack", "pycurl"),
    ),
    Variant(
        "curl+msgpack", "G", "bare curl fetch + msgpack C decode (F's floor)", (HTTP,),
        PROJECT, "curl", "fetch+decode-c", ("msgpack", "pycurl"),
    ),
    Variant(
        "simple+msgpack", "A+", "bare simple fetch + msgpack C decode (E's floor)", (HTTP,),
        PROJECT, "simple", "fetch+decode-c", ("msgpack",),
    ),
    # --- what a user could pick instead (the bench extra) -------------------------------
    Variant(
        "aiohttp+msgpack", "", "aiohttp ClientSession + msgpack C", (HTTP,), PROJECT,
        "aiohttp", "aiohttp+decode-c", ("msgpack", "aiohttp"),
    ),
    Variant(
        "httpx+msgpack", "", "httpx AsyncClient + msgpack C", (HTTP,), PROJECT, "httpx",
        "httpx+decode-c", ("msgpack", "httpx"),
    ),
    # --- the investigation: an AsyncHTTPClient on aiohttp's pool (a prototype) -----------
    Variant(
        "aiohttp-tornado+msgpack", "", "bare fetch, AsyncHTTPClient on aiohttp + msgpack C",
        (HTTP,), PROJECT, "aiohttp-tornado", "fetch+decode-c", ("msgpack", "aiohttp"),
    ),
    Variant(
        "fast-aiohttp-tornado", "", "this project, fast, AsyncHTTPClient on aiohttp",
        _HTTP_AND_RETRY, PROJECT, "aiohttp-tornado", "mixin", ("msgpack", "aiohttp"),
    ),
    # --- optional -----------------------------------------------------------------------
    Variant(
        "default-x5", "", "this project, default install, .body read five times", (HTTP,),
        DEFAULT_INSTALL, "simple", "mixin-x5", optional=True,
    ),
    # --- in process: what Tornado's interface and the decoders cost ---------------------
    Variant(
        "tornado-instant", "", "AsyncHTTPClient.fetch, instant client", (IN_PROCESS,),
        PROJECT, "instant", "fetch",
    ),
    Variant(
        "tornado-instant-simple", "", "the same through SimpleAsyncHTTPClient's queue",
        (IN_PROCESS,), PROJECT, "instant", "fetch-simple-queue",
    ),
    Variant(
        "request-object", "", "HTTPRequest(url)", (IN_PROCESS,), PROJECT, "none",
        "request-object",
    ),
    Variant(
        "request-headers", "", "HTTPHeaders(request.headers), as fetch() does",
        (IN_PROCESS,), PROJECT, "none", "request-headers",
    ),
    Variant(
        "request-proxy", "", "_RequestProxy(request, defaults)", (IN_PROCESS,), PROJECT,
        "none", "request-proxy",
    ),
    Variant(
        "proxy-reads-simple", "", "the simple client's reads through _RequestProxy",
        (IN_PROCESS,), PROJECT, "none", "proxy-reads-simple",
    ),
    Variant(
        "proxy-reads-curl", "", "the curl client's reads through _RequestProxy",
        (IN_PROCESS,), PROJECT, "none", "proxy-reads-curl", ("pycurl",),
    ),
    Variant(
        "response-object", "", "HTTPResponse(request, 200, headers, buffer).body",
        (IN_PROCESS,), PROJECT, "none", "response-object",
    ),
    Variant(
        "mixin-instant-default", "", "this project, default install, instant client",
        (IN_PROCESS,), DEFAULT_INSTALL, "instant", "mixin",
    ),
    Variant(
        "mixin-instant-fast", "", "this project, fast, instant client", (IN_PROCESS,),
        PROJECT, "instant", "mixin", ("msgpack",),
    ),
    Variant(
        "decode-umsgpack", "", "umsgpack.unpackb", (IN_PROCESS,), PROJECT, "none",
        "decode-py",
    ),
    Variant(
        "decode-msgpack", "", "msgpack.unpackb", (IN_PROCESS,), PROJECT, "none", "decode-c",
        ("msgpack",),
    ),
    Variant(
        "decode-content-default", "", "content.msgpack_unpackb, default install",
        (IN_PROCESS,), DEFAULT_INSTALL, "none", "decode-content",
    ),
    Variant(
        "decode-content-fast", "", "content.msgpack_unpackb, fast", (IN_PROCESS,), PROJECT,
        "none", "decode-content", ("msgpack",),
    ),
]

BY_NAME: Dict[str, Variant] = {variant.name: variant for variant in VARIANTS}

#: In-process variants whose cost does not depend on the document's size:
#: measured at 1 KB only.
SIZE_FREE = frozenset(
    {
        "tornado-instant-simple",
        "request-object",
        "request-headers",
        "request-proxy",
        "proxy-reads-simple",
        "proxy-reads-curl",
        "response-object",
    }
)

#: Calls in flight in a concurrent cell.
CONCURRENCY = 100


@dataclass(frozen=True)
class Cell:
    """One document, one way of calling: every variant of the cell's kind runs it."""

    kind: str
    fmt: str
    size: str
    concurrency: int

    @property
    def mode(self) -> str:
        return "sequential" if self.concurrency == 1 else "concurrent"

    @property
    def key(self) -> str:
        """A stable identifier: ``http/msgpack/1k/sequential``."""
        return f"{self.kind}/{self.fmt}/{self.size}/{self.mode}"

    @property
    def path(self) -> str:
        """The upstream path the cell's calls fetch."""
        prefix = "/retry" if self.kind == RETRY else ""
        return f"{prefix}/{self.fmt}/{self.size}"

    def runs(self, variant: Variant) -> bool:
        """Whether *variant* is measured in this cell."""
        if self.kind not in variant.kinds:
            return False
        if self.kind == IN_PROCESS and self.size != "1k" and variant.name in SIZE_FREE:
            return False
        if self.fmt == "json" and variant.call in ("decode-c", "decode-py", "decode-content"):
            return variant.call == "decode-py"  # json.loads, once
        return True
