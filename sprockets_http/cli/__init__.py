"""The command line: ``sprockets-http fetch URL`` (or ``python -m
sprockets_http fetch URL``) and ``... demo``.

``fetch`` makes one call through :class:`~sprockets_http.HTTPClientMixin`,
exactly as a service's handler would (same defaults, headers, body encoding,
retry loop and waits), and prints the decoded body. ``demo`` is an offline
demonstration on loopback.

The modules: :mod:`~sprockets_http.cli.arguments` (the parser),
:mod:`~sprockets_http.cli.request` (request items, headers, ``-d``, ``-a``),
:mod:`~sprockets_http.cli.fetch` and :mod:`~sprockets_http.cli.demo` (the
commands), :mod:`~sprockets_http.cli.progress` (event subscribers: the
attempt record and the live retry line), :mod:`~sprockets_http.cli.render`
(pure: what is printed), :mod:`~sprockets_http.cli.highlight` (colour, with
Pygments) and :mod:`~sprockets_http.cli.output` (streams and terminals).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Dict, List, Optional, TextIO, Tuple

from sprockets_http._log import LOGGER
from sprockets_http.cli.arguments import build_parser, parse_arguments
from sprockets_http.cli.demo import run_demo
from sprockets_http.cli.errors import UsageError
from sprockets_http.cli.fetch import run_fetch

__all__ = ["UsageError", "build_parser", "main"]


class _Logging:
    """Send log records to stderr while a command runs, at the given level per
    logger, and restore those loggers afterwards."""

    def __init__(self, stream: TextIO, levels: Dict[str, int]) -> None:
        self.handler = logging.StreamHandler(stream)
        self.handler.setFormatter(logging.Formatter("log: %(name)s %(levelname)s %(message)s"))
        self.levels = levels
        self.saved: List[Tuple[logging.Logger, int, bool]] = []

    def __enter__(self) -> None:
        for name, level in self.levels.items():
            logger = logging.getLogger(name)
            self.saved.append((logger, logger.level, logger.propagate))
            logger.setLevel(level)
            logger.propagate = False
            logger.addHandler(self.handler)

    def __exit__(self, *exc: object) -> None:
        for logger, level, propagate in self.saved:
            logger.removeHandler(self.handler)
            logger.setLevel(level)
            logger.propagate = propagate
        self.saved.clear()


def _log_levels(command: str, verbose: int) -> Dict[str, int]:
    """The loggers a command shows, and their levels.

    ``fetch``: the library's warnings (one per failed attempt) only with -v,
    since the command reports the outcome itself; its debug lines with -vv;
    Tornado's client-side loggers at ERROR, WARNING with -v. ``demo``: the
    library's warnings; its own servers' access log is silenced (it would
    log every 503 the demo upstream sends on purpose).
    """
    if command == "demo":
        return {
            LOGGER.name: logging.WARNING,
            "tornado.general": logging.WARNING,
            "tornado.application": logging.WARNING,
            "tornado.access": logging.CRITICAL,
        }
    library = logging.DEBUG if verbose >= 2 else logging.WARNING if verbose else logging.ERROR
    tornado = logging.WARNING if verbose else logging.ERROR
    return {LOGGER.name: library, "tornado.general": tornado, "tornado.application": tornado}


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line with *argv* (``sys.argv[1:]`` by default); returns
    the exit status: 0 ok, 1 a failed call, 2 a usage error or bad input,
    130 interrupted."""
    parser = build_parser()
    try:
        args = parse_arguments(parser, argv)
    except SystemExit as exit_:  # --help, --version, or a usage error
        return exit_.code if isinstance(exit_.code, int) else 2
    out, err = sys.stdout, sys.stderr
    try:
        with _Logging(err, _log_levels(args.command, getattr(args, "verbose", 0))):
            if args.command == "demo":
                return asyncio.run(run_demo(out, err))
            return asyncio.run(run_fetch(args, out, err, parser.prog))
    except UsageError as error:
        print(f"{parser.prog}: error: {error}", file=err)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=err)
        return 130
    except BrokenPipeError:  # stdout closed early, as by `| head`
        # Keep the interpreter from complaining again when it flushes at exit.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
