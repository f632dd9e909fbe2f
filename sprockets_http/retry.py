"""The retry policy: which outcomes are retried, and how long to wait.

Nothing here does I/O or logs. :class:`RetryPolicy` is a value that answers
"is this outcome done, final, or worth another attempt?" and "how long should
the caller wait before the next attempt?"; :meth:`HTTPClientMixin.http_fetch`
asks it after every attempt. :class:`RetryBudget` is the one piece of shared,
mutable state: a limit on retries across many calls.

======================================  ===========================  ==================
Outcome of an attempt                   Decision                     Retried?
======================================  ===========================  ==================
200-399                                 ``SUCCESS``                  no
a status in ``dont_retry``              ``STOP``                     no
423 Locked, 429 Too Many Requests       ``RETRY``                    yes, any method
any other status below 500              ``FINAL``                    no
500 and above                           ``RETRY``                    yes [#methods]_
OSError / HTTPClientError from fetch    ``RETRY``                    yes [#methods]_
======================================  ===========================  ==================

.. [#methods] only methods in ``retry_methods`` when it is set

The wait before the n-th retry is the response's ``Retry-After`` (seconds or
an HTTP-date), clamped to ``[0, request_timeout]``; otherwise
``retry_timeout * 2 ** (n - 1)``, capped at ``max_retry_timeout`` and, with
``jitter``, drawn uniformly from ``[0, that]``.
"""

from __future__ import annotations

import collections
import enum
import math
import random
import threading
import time
from typing import Callable, Collection, Deque, FrozenSet, List, Optional

from sprockets_http._headers import parse_retry_after

__all__ = [
    "IDEMPOTENT_METHODS",
    "REFUSED_STATUS_CODES",
    "Decision",
    "RetryBudget",
    "RetryPolicy",
    "parse_retry_after",
]

#: Methods that RFC 9110 defines as idempotent: repeating them is safe.
IDEMPOTENT_METHODS: FrozenSet[str] = frozenset(
    {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}
)
#: Statuses below 500 that are retried: the server refused the request
#: without processing it, so a retry is safe for every method.
REFUSED_STATUS_CODES: FrozenSet[int] = frozenset({423, 429})


class Decision(enum.Enum):
    """What to do after an attempt."""

    #: 200-399: return the response.
    SUCCESS = "success"
    #: a status that retrying will not change (most 4xx): return it.
    FINAL = "final"
    #: a status the caller listed in ``dont_retry``: return it.
    STOP = "stop"
    #: worth another attempt, if any are left.
    RETRY = "retry"


class RetryPolicy:
    """Decide each attempt's outcome and the wait before the next one.

    :param max_attempts: attempts in all, the first included
    :param retry_timeout: the first backoff wait, in seconds; it doubles with
        each further retry
    :param request_timeout: the cap on a ``Retry-After`` wait
    :param dont_retry: statuses that end the call at once
    :param max_retry_timeout: a cap on each backoff wait, or ``None``
    :param jitter: draw each backoff wait uniformly from ``[0, wait]``
    :param retry_methods: when set, only these methods are retried after a
        5xx or a connection error (423 and 429 are retried for every method);
        a single str is one method
    :param rng: the random source for jitter (tests pass a seeded one)
    """

    __slots__ = (
        "dont_retry",
        "jitter",
        "max_attempts",
        "max_retry_timeout",
        "request_timeout",
        "retry_methods",
        "retry_timeout",
        "rng",
    )

    def __init__(
        self,
        *,
        max_attempts: int = 3,
        retry_timeout: float = 3.0,
        request_timeout: float = 20.0,
        dont_retry: Collection[int] = (),
        max_retry_timeout: Optional[float] = None,
        jitter: bool = False,
        retry_methods: Optional[Collection[str]] = None,
        rng: Optional[Callable[[float, float], float]] = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.retry_timeout = retry_timeout
        self.request_timeout = request_timeout
        self.dont_retry = frozenset(dont_retry)
        self.max_retry_timeout = max_retry_timeout
        self.jitter = jitter
        if isinstance(retry_methods, str):  # one method, not its letters
            retry_methods = (retry_methods,)
        self.retry_methods = (
            None if retry_methods is None else frozenset(m.upper() for m in retry_methods)
        )
        self.rng = rng if rng is not None else random.uniform

    def decide(self, method: str, code: Optional[int]) -> Decision:
        """Classify an attempt: *code* is its status, ``None`` for an exception."""
        if code is not None:
            if 200 <= code < 400:
                return Decision.SUCCESS
            if code in self.dont_retry:
                return Decision.STOP
            if code in REFUSED_STATUS_CODES:
                return Decision.RETRY
            if code < 500:
                return Decision.FINAL
        if self.retry_methods is not None and method.upper() not in self.retry_methods:
            return Decision.FINAL
        return Decision.RETRY

    def backoff(self, retry_number: int) -> float:
        """The wait before retry *retry_number* (1 for the second attempt)."""
        exponent = max(retry_number - 1, 0)
        # 2 ** 1100 overflows a float; no useful wait needs an exponent past 64.
        wait = self.retry_timeout * (2.0 ** min(exponent, 64))
        if self.max_retry_timeout is not None:
            wait = min(wait, self.max_retry_timeout)
        wait = float(max(wait, 0.0))
        if self.jitter:
            wait = self.rng(0.0, wait)
        return wait

    def wait(
        self, retry_number: int, retry_after: Optional[str], *, now: Optional[float] = None
    ) -> Wait:
        """The wait before retry *retry_number*, honouring a Retry-After value."""
        seconds = parse_retry_after(retry_after, cap=self.request_timeout, now=now)
        if seconds is not None:
            return Wait(seconds, from_retry_after=True)
        return Wait(self.backoff(retry_number), from_retry_after=False)


class Wait:
    """A wait before a retry, and where it came from."""

    __slots__ = ("from_retry_after", "seconds")

    def __init__(self, seconds: float, *, from_retry_after: bool) -> None:
        self.seconds = seconds
        self.from_retry_after = from_retry_after

    def __repr__(self) -> str:
        source = "Retry-After" if self.from_retry_after else "backoff"
        return f"<Wait {self.seconds:.3f}s from {source}>"


class RetryBudget:
    """A limit on retries shared by every call that uses it.

    Over the last *ttl* seconds, retries may number at most
    ``ratio * first_attempts + min_per_second * ttl``. The floor lets a quiet
    service still retry; the ratio stops a failing upstream from multiplying
    a busy service's traffic (a "retry storm"). Thread-safe; its memory is a
    fixed handful of counters whatever the request rate.

    Assign one to :attr:`HTTPClientMixin.RETRY_BUDGET`; one object can serve
    many classes.

    :param ratio: retries allowed per first attempt, >= 0
    :param min_per_second: retries always allowed per second of *ttl*, >= 0
    :param ttl: the window, in seconds, > 0
    :param clock: a monotonic clock (tests pass a fake one)
    :raises ValueError: for a negative ratio or floor, or a ttl that is not
        positive
    """

    #: Window slices: the window moves in steps of ``ttl / _SLICES``.
    _SLICES = 10

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        ttl: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not ratio >= 0:
            raise ValueError(f"ratio must be >= 0, not {ratio!r}")
        if not min_per_second >= 0:
            raise ValueError(f"min_per_second must be >= 0, not {min_per_second!r}")
        if not (ttl > 0 and math.isfinite(ttl)):
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        self.ratio = float(ratio)
        self.min_per_second = float(min_per_second)
        self.ttl = float(ttl)
        self._clock = clock
        self._slice = self.ttl / self._SLICES
        self._lock = threading.Lock()
        # Each entry is [slice index, first attempts, retries].
        self._slices: Deque[List[int]] = collections.deque()

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio!r}, min_per_second={self.min_per_second!r}, "
            f"ttl={self.ttl!r})"
        )

    def _current(self) -> List[int]:
        index = int(self._clock() // self._slice)
        while self._slices and self._slices[0][0] <= index - self._SLICES:
            self._slices.popleft()
        if not self._slices or self._slices[-1][0] != index:
            self._slices.append([index, 0, 0])
        return self._slices[-1]

    def record_first_attempt(self) -> None:
        """Count a call's first attempt (which earns retries for the ratio)."""
        with self._lock:
            self._current()[1] += 1

    def try_retry(self) -> bool:
        """Take one retry from the budget; False when the budget refuses."""
        with self._lock:
            current = self._current()
            if self._available() < 1:
                return False
            current[2] += 1
            return True

    def _available(self) -> float:
        firsts = sum(entry[1] for entry in self._slices)
        retries = sum(entry[2] for entry in self._slices)
        return self.ratio * firsts + self.min_per_second * self.ttl - retries

    @property
    def available(self) -> float:
        """How many retries the budget would allow now."""
        with self._lock:
            self._current()
            return max(self._available(), 0.0)
