"""Header look-ups shared by the request and response sides."""

from __future__ import annotations

from typing import Any, Mapping, Optional


def find_header(headers: Mapping[str, Any], name: str) -> Optional[str]:
    """Return the key under which *headers* holds *name* (any case), or None."""
    if name in headers:
        return name
    lowered = name.lower()
    for key in headers:
        if key.lower() == lowered:
            return key
    return None


def header_value(headers: Any, name: str) -> Optional[str]:
    """A response header's value (repeated ones joined by commas), or None.

    ``HTTPHeaders.get`` raises and catches a KeyError for every missing
    header, which costs more than the rest of recording a response; its
    ``get_list`` does not.
    """
    get_list = getattr(headers, "get_list", None)
    if get_list is None:  # a plain mapping
        value = headers.get(name)
        return None if value is None else str(value)
    values = get_list(name)
    return ",".join(values) if values else None
