"""The command line's one error type."""

from __future__ import annotations


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2.

    The text never holds a credential (a password given with ``-a``, a
    URL's password): it is printed as it is.
    """


def one_line(text: object) -> str:
    """*text* with every run of whitespace (newlines too) made one space."""
    return " ".join(str(text).split())
