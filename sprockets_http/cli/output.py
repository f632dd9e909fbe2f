"""Writing to the standard streams: text, bytes, colour or not, and the live
line on a terminal."""

from __future__ import annotations

import shutil
from typing import Mapping, Optional, TextIO

__all__ = ["LiveLine", "isatty", "wants_colour", "write_bytes", "write_text"]


def isatty(stream: TextIO) -> bool:
    """True when *stream* is a terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def wants_colour(choice: Optional[bool], stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether to colour what goes to *stream*.

    *choice* is ``--color`` (True) or ``--no-color`` (False), which win;
    without either (None): colour on a terminal, unless ``NO_COLOR`` is set
    to anything but the empty string (https://no-color.org) or ``TERM`` is
    ``dumb``.
    """
    if choice is not None:
        return choice
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    return isatty(stream)


def write_bytes(data: bytes, out: TextIO) -> None:
    """Write *data* unchanged to *out*'s binary buffer (escaped text when the
    stream has none)."""
    out.flush()
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        out.write(data.decode("utf-8", "backslashreplace"))


def write_text(text: str, out: TextIO, end: str = "\n") -> None:
    """Write *text*, ending with *end* unless it already does; characters
    the stream cannot encode are written as backslash escapes."""
    if end and not text.endswith(end):
        text += end
    try:
        out.write(text)
    except UnicodeEncodeError:  # a terminal that cannot show some characters
        write_bytes(text.encode(out.encoding or "utf-8", "backslashreplace"), out)
    out.flush()


class LiveLine:
    """One status line on a terminal, rewritten in place and then erased."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def show(self, text: str) -> None:
        """Replace the line with *text*, cut to the terminal's width."""
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self.stream.write("\r" + text[: max(width, 10)] + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line, if one is shown."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
