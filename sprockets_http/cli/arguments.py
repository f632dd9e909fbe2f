"""The argument parser of ``demo`` and ``fetch``."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import List, Optional

from sprockets_http._version import __version__
from sprockets_http.cli.request import PASSWORD_VARIABLE

__all__ = ["build_parser", "parse_arguments", "prog_name"]


def prog_name() -> str:
    """How the command was run: ``sprockets-http`` or ``python -m sprockets_http``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not name or name in ("__main__.py", "-c") or name.startswith("python"):
        return "python -m sprockets_http"
    return name


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text!r}")
    return value


def _not_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text!r}")
    return value


def _attempts(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


_FETCH_EPILOG = """\
request items (httpie's):
  NAME=TEXT     a body field whose value is the string TEXT
  NAME:=JSON    a body field whose value is raw JSON: 2, true, null, [1, 2], {"a": 1}
  Header:VALUE  a request header
  NAME==VALUE   a query parameter, added to the URL's query
  A backslash before = or : in a name makes it part of the name (a\\=b=c).
  Body fields are sent as a JSON object (with --msgpack: msgpack), and make
  the method POST; they cannot be combined with -d.

output:
  stdout gets the body of the last response, decoded: JSON and msgpack bodies
  are printed as indented JSON (bytes inside as base64), other bodies as text
  when they decode (by their charset, else UTF-8), else as the bytes received.
  -i prints the status line and the response headers first. --raw writes the
  bytes as received instead. An error response's whole body is printed (the
  library's simplify_error_response is off here). On a terminal the output is
  coloured when Pygments is installed (the 'cli' extra); never when piped, or
  with NO_COLOR set, or --no-color.

logging:
  sprockets_http logs a warning for every failed attempt. Without -v only
  errors are shown (a failed call ends with one summary line on stderr
  instead); -v shows the warnings, -vv the debug lines too. When stderr is a
  terminal, a live line counts down each wait before a retry.

exit status:
  0 when the last response is 200-399, 1 when it is not (or no response came),
  2 for usage errors and bad input (-d that is not JSON, an unreadable @FILE, a
  malformed -H or request item, an invalid URL, no password for -a).

examples:
  %(prog)s http://127.0.0.1:8000/items/1
  %(prog)s -i http://127.0.0.1:8000/orders sku=A-1 quantity:=2 X-Trace:abc
  %(prog)s -a ada http://127.0.0.1:8000/private page==2
  %(prog)s -v --attempts 5 --retry-timeout 0.5 http://127.0.0.1:8000/flaky
  %(prog)s -X PUT -d '{"name": "widget"}' --json http://127.0.0.1:8000/items/1
  %(prog)s -d @order.json -H 'Correlation-Id: 1234' http://127.0.0.1:8000/orders
  %(prog)s --raw http://127.0.0.1:8000/items/1 > item.msgpack
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``demo`` and ``fetch``."""
    prog = prog_name()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="sprockets_http: Tornado's HTTP client with retries, msgpack and JSON.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands.add_parser(
        "demo",
        help="run an offline demonstration on loopback: retries after 503 + Retry-After",
        description="Start a flaky upstream (503 + Retry-After: 1 twice, then a msgpack "
        "body) and a Tornado handler calling it with http_fetch, on loopback; print "
        "each attempt and the decoded body.",
    )
    fetch = commands.add_parser(
        "fetch",
        help="make one request through HTTPClientMixin.http_fetch and print the body",
        description=(
            "Make one request exactly as a service's http_fetch call would: the same\n"
            "default headers, body encoding, retry loop and waits. Defaults not given\n"
            "here are the library's: 3 attempts, 3 s before the first retry (doubling),\n"
            "20 s timeouts."
        ),
        epilog=_FETCH_EPILOG % {"prog": f"{prog} fetch"},
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("url", metavar="URL", help="an http:// or https:// URL")
    fetch.add_argument(
        "items", metavar="REQUEST_ITEM", nargs="*",
        help="NAME=TEXT, NAME:=JSON, Header:VALUE or NAME==VALUE (see below)",
    )
    fetch.add_argument(
        "-X", "--method", help="the request method (default GET, or POST with a body)"
    )
    fetch.add_argument(
        "-H", "--header", action="append", metavar="'NAME: VALUE'",
        help="a request header; repeat for more. Yours win over the defaults "
        "(Accept, Content-Type, User-Agent)",
    )
    fetch.add_argument(
        "-d", "--data", metavar="JSON|@FILE",
        help="a request body: JSON text, @FILE holding JSON, or @- for stdin; "
        "sent encoded as msgpack (or JSON with --json)",
    )
    encoding = fetch.add_mutually_exclusive_group()
    encoding.add_argument(
        "--msgpack", dest="format", action="store_const", const="msgpack", default=None,
        help="send the body as application/msgpack (the default for -d, as http_fetch does)",
    )
    encoding.add_argument(
        "--json", dest="format", action="store_const", const="json",
        help="send the body as application/json (the default for body fields) and ask "
        "for JSON: Accept: application/json, */*;q=0.5",
    )
    fetch.add_argument(
        "-a", "--auth", metavar="USER[:PASSWORD]",
        help="Basic authentication. Without :PASSWORD the password is read from "
        f"${PASSWORD_VARIABLE}, or asked for (not echoed) when stdin is a terminal",
    )
    fetch.add_argument(
        "-i", "--include", action="store_true",
        help="print the response's status line and headers before the body",
    )
    fetch.add_argument(
        "--color", "--colour", dest="color", action="store_true", default=None,
        help="colour the output even when it is not a terminal",
    )
    fetch.add_argument(
        "--no-color", "--no-colour", dest="color", action="store_false",
        help="never colour the output (as NO_COLOR=1 does)",
    )
    fetch.add_argument(
        "--attempts", type=_attempts, metavar="N",
        help="attempts in all, the first included (default 3)",
    )
    fetch.add_argument(
        "--retry-timeout", type=_not_negative, metavar="SECONDS",
        help="the wait before the first retry, doubled for each further one "
        "(default 3); a Retry-After header overrides it",
    )
    fetch.add_argument(
        "--timeout", type=_positive, metavar="SECONDS",
        help="the timeout for each attempt, and the cap on a Retry-After wait (default 20)",
    )
    fetch.add_argument(
        "--connect-timeout", type=_positive, metavar="SECONDS",
        help="the timeout for connecting (default 20)",
    )
    fetch.add_argument(
        "--follow-redirects", action="store_true", help="follow redirects (up to 5)"
    )
    fetch.add_argument(
        "--insecure", action="store_true",
        help="do not validate the server's TLS certificate (validate_cert=False)",
    )
    fetch.add_argument(
        "--user-agent", metavar="TEXT",
        help="the User-Agent (default sprockets.mixins.http/VERSION, as in a bare object)",
    )
    fetch.add_argument(
        "--raw", action="store_true",
        help="write the body's bytes exactly as received, not decoded",
    )
    fetch.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="print a table of the attempts (status or exception, duration, wait) "
        "and a summary on stderr, and the library's warnings; -vv adds debug logs",
    )
    parser.set_defaults(fetch_parser=fetch)
    return parser


def parse_arguments(
    parser: argparse.ArgumentParser, argv: Optional[List[str]]
) -> argparse.Namespace:
    """Parse *argv* with *parser* (from :func:`build_parser`).

    Request items may come before, between and after options, as with
    httpie (argparse alone takes positionals only before the first option).

    :raises SystemExit: for ``--help``, ``--version`` and usage errors
    """
    args, extra = parser.parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.fetch_parser if (
        args.command == "fetch"
    ) else parser
    if extra:
        options = [text for text in extra if text.startswith("-")]
        if args.command != "fetch" or options:
            # Only the options: a value after an unknown option may be a secret.
            command_parser.error(f"unrecognized arguments: {' '.join(options or extra)}")
        args.items = [*(args.items or []), *extra]
    return args
