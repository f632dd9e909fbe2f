"""``fetch``: one call through :meth:`HTTPClientMixin.http_fetch`, printed.

The call is the library's own, made by a bare
:class:`~sprockets_http.HTTPClientMixin` (so with its defaults, headers,
body encoding, retry loop and waits); the command only subscribes to the
call's events, for the ``-v`` table and the live retry line, and turns off
``simplify_error_response`` so that a person reads the whole error body.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import string
import sys
from typing import Any, Dict, Mapping, NamedTuple, Optional, TextIO, Tuple

from sprockets_http import content, events
from sprockets_http._headers import find_header
from sprockets_http._log import describe_outcome, redact_url, scrub, secrets_of
from sprockets_http.cli import highlight, render
from sprockets_http.cli.errors import UsageError, one_line
from sprockets_http.cli.output import LiveLine, isatty, wants_colour, write_bytes, write_text
from sprockets_http.cli.progress import AttemptRecorder, RetryCountdown
from sprockets_http.cli.request import (
    check_url,
    join_headers,
    parse_header_option,
    parse_items,
    read_data,
    resolve_auth,
    with_query,
)
from sprockets_http.mixin import HTTPClientMixin
from sprockets_http.response import HTTPResponse

__all__ = ["JSON_ACCEPT", "Request", "build_request", "run_fetch"]

#: The ``Accept`` header of JSON mode (``--json``, or a body from request
#: items), as httpie sends it.
JSON_ACCEPT = "application/json, */*;q=0.5"

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS"})
_TOKEN = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)


class Request(NamedTuple):
    """Everything ``fetch`` passes to ``http_fetch``."""

    url: str
    method: str
    headers: Dict[str, str]
    body: Any
    content_type: Any
    allow_nonstandard_methods: bool
    #: (user, password) for Basic authentication, or None.
    auth: Optional[Tuple[str, str]]

    def __repr__(self) -> str:  # never the password
        auth = None if self.auth is None else (self.auth[0], "[redacted]")
        return f"Request({self.method} {redact_url(self.url)}, auth={auth!r})"


def build_request(
    args: argparse.Namespace, environ: Mapping[str, str], stdin: TextIO
) -> Request:
    """The request the command line asks for.

    A body comes from ``-d`` or from body fields (``NAME=TEXT``,
    ``NAME:=JSON``), not both. Body fields are sent as JSON unless
    ``--msgpack`` is given, as httpie does; ``-d`` as msgpack unless
    ``--json`` is given, as ``http_fetch`` does. JSON mode (``--json``, or
    body fields without ``--msgpack``) also sends ``Accept:``
    :data:`JSON_ACCEPT`, unless a header says otherwise.

    :raises UsageError: for anything that cannot be sent; the password is
        asked for (or read) last, once everything else is known to be valid
    """
    url = check_url(args.url)
    items = parse_items(args.items or [])
    headers = join_headers(
        [*(parse_header_option(text) for text in args.header or []), *items.headers]
    )
    url = with_query(url, items.query)
    if args.data is not None and items.fields:
        raise UsageError("-d and body fields (NAME=TEXT, NAME:=JSON) cannot be combined")
    body: Any = None
    if args.data is not None:
        body = read_data(args.data, stdin)
    elif items.fields:
        body = dict(items.fields)
    body_format = args.format or ("json" if items.fields else "msgpack")
    content_type = (
        content.CONTENT_TYPE_JSON if body_format == "json" else content.CONTENT_TYPE_MSGPACK
    )
    if body_format == "json" and find_header(headers, "Accept") is None:
        headers["Accept"] = JSON_ACCEPT
    method = (args.method or ("POST" if body is not None else "GET")).upper()
    if not method or not set(method) <= _TOKEN:
        raise UsageError(f"-X {args.method!r}: not a valid method name")
    if body is not None and not isinstance(body, (dict, list)):
        # http_fetch sends str bodies as they are and encodes dicts and lists;
        # a JSON scalar is encoded here the same way, by the Content-Type.
        given = find_header(headers, "Content-Type")
        effective = headers[given] if given is not None else content_type
        if content.media_type(effective).format is not None or not isinstance(body, str):
            try:
                body = content.encode_body(body, effective)
            except ValueError as error:
                raise UsageError(one_line(error)) from None
    allow_nonstandard = method not in _STANDARD_METHODS or (
        (body is not None) != (method in _BODY_METHODS)
    )
    auth = None
    if args.auth is not None:
        auth = resolve_auth(args.auth, environ, isatty(stdin), getpass.getpass)
    return Request(url, method, headers, body, content_type, allow_nonstandard, auth)


async def run_fetch(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    prog: str,
    environ: Optional[Mapping[str, str]] = None,
    stdin: Optional[TextIO] = None,
) -> int:
    """Run ``fetch``: 0 when the last response is 200-399, 1 when not.

    :raises UsageError: for bad input, before anything is sent
    """
    environ = os.environ if environ is None else environ
    request = build_request(args, environ, sys.stdin if stdin is None else stdin)
    password = request.auth[1] if request.auth else None
    secrets = secrets_of(request.url, request.headers, password)

    client = HTTPClientMixin()
    client.simplify_error_response = False
    recorder = AttemptRecorder(owner=client)
    countdown = RetryCountdown(LiveLine(err), owner=client) if isatty(err) else None
    with contextlib.ExitStack() as subscriptions:
        subscriptions.enter_context(events.subscribed(recorder))
        if countdown is not None:
            subscriptions.enter_context(events.subscribed(countdown))
        try:
            response = await client.http_fetch(
                request.url,
                method=request.method,
                request_headers=request.headers,
                body=request.body,
                content_type=request.content_type,
                follow_redirects=args.follow_redirects,
                connect_timeout=args.connect_timeout,
                request_timeout=args.timeout,
                retry_timeout=args.retry_timeout,
                max_http_attempts=args.attempts,
                auth_username=request.auth[0] if request.auth else None,
                auth_password=password,
                user_agent=args.user_agent,
                validate_cert=not args.insecure,
                allow_nonstandard_methods=request.allow_nonstandard_methods,
            )
        except ValueError as error:  # a body the Content-Type cannot carry, ...
            raise UsageError(scrub(one_line(error), secrets)) from None
        finally:
            if countdown is not None:
                countdown.stop()

    if args.verbose:
        for row in render.attempt_table(recorder.records):
            print(row, file=err)
    _print_response(response, args, out, err, environ)

    last = response.outcomes[-1] if response.outcomes else None
    outcome = (
        one_line(describe_outcome(last, secrets)) if last is not None else "no attempt was made"
    )
    plural = "attempt" if response.attempts == 1 else "attempts"
    took = f"after {response.attempts} {plural} in {response.duration:.2f} s"
    shown_url = redact_url(request.url)
    if not response.ok:
        print(f"{prog}: {request.method} {shown_url} failed {took}: {outcome}", file=err)
        return 1
    if args.verbose:
        print(f"{request.method} {shown_url}: {outcome} {took}", file=err)
    return 0


def _print_response(
    response: HTTPResponse,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
) -> None:
    """The head (with ``-i``) and the body of the last response to *out*,
    notes about the body to *err*."""
    raw = response.raw
    if raw is None:
        err.flush()
        return
    colour = not args.raw and wants_colour(args.color, out, environ)
    if colour and not highlight.available():
        colour = False
        if args.color:
            print(
                "warning: --color needs Pygments: pip install 'sprockets-http-client[cli]'",
                file=err,
            )
    body = None if args.raw else render.render_body(raw.body, raw.headers.get("Content-Type"))
    for note in body.notes if body is not None else ():
        print(f"warning: {note}", file=err)
    err.flush()
    if args.include:
        head = render.head_tokens(raw.code, raw.reason, raw.headers.get_all())
        write_text(highlight.colour_tokens(head) if colour else render.text(head), out, end="")
        if raw.body:
            write_text("", out)  # a blank line between the head and the body
    if args.raw:
        if raw.body:
            write_bytes(raw.body, out)
    elif body is not None:
        _print_body(body, colour, out)


def _print_body(body: render.Body, colour: bool, out: TextIO) -> None:
    if body.tokens is not None:
        write_text(
            highlight.colour_tokens(body.tokens) if colour else render.text(body.tokens), out
        )
    elif body.text is not None:
        write_text(highlight.colour_text(body.text, body.media_type) if colour else body.text, out)
    elif body.data is not None:
        if isatty(out):  # bytes would garble the terminal
            kind = body.media_type or "binary data"
            write_text(
                f"[{len(body.data)} bytes of {kind} not shown on a terminal: "
                "use --raw and send the output to a file]",
                out,
            )
        else:
            write_bytes(body.data, out)
