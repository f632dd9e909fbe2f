"""Colour for a terminal, through Pygments when it is installed.

Pygments comes with the ``cli`` extra (``pip install
'sprockets-http-client[cli]'``); without it :func:`available` is False and the
command prints plain text. The functions here are pure: text in, text with
ANSI colour codes out.
"""

from __future__ import annotations

import io
from typing import Any, Dict, Iterable, Iterator, List, Tuple

from sprockets_http.cli import render

try:
    from pygments import highlight as _highlight
    from pygments import token as _token
    from pygments.formatters import TerminalFormatter as _TerminalFormatter
    from pygments.lexers import get_lexer_for_mimetype as _lexer_for
    from pygments.util import ClassNotFound as _ClassNotFound
except ImportError:  # pragma: no cover - depends on the install
    _token = None

__all__ = ["MAX_HIGHLIGHTED_TEXT", "available", "colour_text", "colour_tokens"]

#: Text bodies longer than this many characters are printed without
#: highlighting: lexing them would take seconds. (JSON and msgpack bodies
#: are always coloured: the renderer's tokens need no lexing.)
MAX_HIGHLIGHTED_TEXT = 256 * 1024


def available() -> bool:
    """True when Pygments is installed, so colour can be shown."""
    return _token is not None


def _token_types() -> Dict[str, Any]:
    assert _token is not None
    return {
        render.PUNCTUATION: _token.Text,  # uncoloured, as whitespace: merged
        render.WHITESPACE: _token.Text,
        render.KEY: _token.Name.Tag,
        render.STRING: _token.String,
        render.NUMBER: _token.Number,
        render.LITERAL: _token.Keyword.Constant,
        render.PROTOCOL: _token.Keyword.Reserved,
        render.STATUS_OK: _token.Generic.Inserted,
        render.STATUS_ERROR: _token.Generic.Error,
        render.HEADER_NAME: _token.Name.Attribute,
        render.HEADER_VALUE: _token.Text,
    }


def _token_colours() -> Dict[Any, Tuple[str, str]]:
    # (on a light background, on a dark one), in the terminal's own palette.
    assert _token is not None
    return {
        _token.Token: ("", ""),
        _token.Name.Tag: ("blue", "brightblue"),
        _token.String: ("green", "brightgreen"),
        _token.Number: ("magenta", "brightmagenta"),
        _token.Keyword.Constant: ("cyan", "brightcyan"),
        _token.Keyword.Reserved: ("blue", "brightblue"),
        _token.Generic.Inserted: ("green", "brightgreen"),
        _token.Generic.Error: ("red", "brightred"),
        _token.Name.Attribute: ("cyan", "brightcyan"),
    }


def colour_tokens(tokens: Iterable[render.Token]) -> str:
    """*tokens* (from :mod:`~sprockets_http.cli.render`) as coloured text;
    their plain text when Pygments is not installed."""
    if _token is None:
        return render.text(tokens)
    types = _token_types()
    buffer = io.StringIO()
    formatter = _TerminalFormatter(bg="dark", colorscheme=_token_colours())
    typed = ((types.get(kind, _token.Text), piece) for kind, piece in tokens)
    formatter.format(_merged(typed), buffer)
    return buffer.getvalue()


def _merged(tokens: Iterable[Tuple[Any, str]]) -> Iterator[Tuple[Any, str]]:
    """Runs of tokens of one type as one token: the formatter's cost is per
    token, and punctuation and whitespace (both uncoloured) alternate."""
    current_type: Any = None
    pieces: List[str] = []
    for token_type, piece in tokens:
        if token_type is not current_type and pieces:
            yield current_type, "".join(pieces)
            pieces = []
        current_type = token_type
        pieces.append(piece)
    if pieces:
        yield current_type, "".join(pieces)


def colour_text(text: str, media_type: str) -> str:
    """*text* highlighted as its media type (``text/html``, ...) when
    Pygments knows the type and the text is not over
    :data:`MAX_HIGHLIGHTED_TEXT`; else *text* itself."""
    if _token is None or not media_type or len(text) > MAX_HIGHLIGHTED_TEXT:
        return text
    try:
        lexer = _lexer_for(media_type, stripnl=False, ensurenl=False)
    except _ClassNotFound:
        return text
    coloured: str = _highlight(text, lexer, _TerminalFormatter(bg="dark"))
    return coloured
