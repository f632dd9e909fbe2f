"""The clock ``http_fetch`` reads, and how it waits before a retry.

Normally the clock is :func:`time.monotonic` and a wait is
``await asyncio.sleep(seconds)`` (looked up on :mod:`asyncio` at call time,
so a test may still patch it). In the testing mode
(:func:`sprockets_http.testing.instant_retries`) a wait returns at once and
moves this clock forward by its length instead, so that deadlines
(``total_timeout``) and durations behave as if the time had passed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable


class _Mode:
    """Process-wide, like the IOLoop's client: a handler under test runs in
    tasks the test did not create, so a context variable would not reach it."""

    __slots__ = ("depth", "lock", "offset")

    def __init__(self) -> None:
        self.depth = 0
        self.offset = 0.0
        self.lock = threading.Lock()


_mode = _Mode()


def _testing_now() -> float:
    return time.monotonic() + _mode.offset


#: Seconds on the monotonic clock, plus the waits skipped in the testing mode:
#: :func:`time.monotonic` itself outside it (looked up on this module at each
#: use, so that entering the testing mode reaches calls in progress).
now: Callable[[], float] = time.monotonic


def instant() -> bool:
    """Whether the testing mode is on."""
    return _mode.depth > 0


async def wait(seconds: float) -> None:
    """Wait *seconds* before a retry, or, in the testing mode, skip the wait
    (still yielding to the event loop once) and advance the clock."""
    if _mode.depth:
        _mode.offset += seconds
        await asyncio.sleep(0)
    else:
        await asyncio.sleep(seconds)


def advance(seconds: float) -> None:
    """Move the clock forward (testing mode only)."""
    if not _mode.depth:
        raise RuntimeError("the clock can only be moved in the testing mode (instant_retries)")
    if not seconds >= 0:
        raise ValueError(f"seconds must be >= 0, not {seconds!r}")
    _mode.offset += seconds


def enter_testing_mode() -> None:
    global now
    with _mode.lock:
        _mode.depth += 1
        now = _testing_now


def leave_testing_mode() -> None:
    global now
    with _mode.lock:
        _mode.depth -= 1
        if not _mode.depth:
            _mode.offset = 0.0
            now = time.monotonic
