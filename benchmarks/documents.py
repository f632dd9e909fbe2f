"""The documents the upstream serves: typical service records, about 1 KB and 1 MB.

Needs only the standard library and u-msgpack-python (a dependency of every
install measured), so the upstream and every client process can build the same
bytes: the records are drawn from a generator seeded by the size.
"""

from __future__ import annotations

import functools
import json
import random
import uuid
from typing import Any, Callable, Dict, List, Tuple

import umsgpack

KB = 1024
MB = 1024 * KB

#: Document sizes by their short name (the name is in URLs and on the command line).
SIZES: Dict[str, int] = {"1k": KB, "1m": MB}
SIZE_LABELS: Dict[str, str] = {"1k": "1 KB", "1m": "1 MB"}

#: Body formats by name, with the Content-Type the upstream sends.
FORMATS: Dict[str, str] = {"msgpack": "application/msgpack", "json": "application/json"}

_FIRST = ["Ana", "Łukasz", "Zoë", "Søren", "Chen", "Aoife", "Mateus", "Priya", "Jörg", "Kofi"]
_LAST = ["Silva", "Nowak", "Brontë", "Dvořák", "Okafor", "Tanaka", "Murphy", "Ólafsson"]
_TAGS = ["admin", "beta", "billing", "eu", "legacy", "mobile", "trial", "us", "vip"]


def _record(rng: random.Random, number: int) -> Dict[str, Any]:
    """One row of a typical service response: ids, a UUID, names with accents,
    an e-mail address, a float, an integer, tags and a date."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {
        "id": number,
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}@example.com",
        "active": rng.random() < 0.8,
        "score": round(rng.uniform(0, 1000), 3),
        "visits": rng.randint(0, 100_000),
        "tags": rng.sample(_TAGS, 3),
        "created": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z",
    }


@functools.cache
def make_document(size: int, fmt: str) -> Tuple[Dict[str, Any], bytes]:
    """A ``{"items": [...], "count": n}`` document encoding to about *size*
    bytes in *fmt* (``"msgpack"`` or ``"json"``): the value and its bytes,
    the same on every run (and made once per process)."""
    encode: Callable[[Any], bytes] = (
        umsgpack.packb if fmt == "msgpack" else (lambda value: json.dumps(value).encode())
    )
    rng = random.Random(size)
    items: List[Dict[str, Any]] = []
    total = 32
    while total < size:
        record = _record(rng, len(items))
        items.append(record)
        total += len(encode(record)) + 1
    document = {"items": items, "count": len(items)}
    return document, encode(document)
