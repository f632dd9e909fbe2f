"""The retry policy: which outcomes are retried, and how long to wait.

Nothing here does I/O or logs. :class:`RetryPolicy` is a value that answers
"is this outcome done, final, or worth another attempt?" and "how long should
the caller wait before the next attempt?"; :meth:`HTTPClientMixin.http_fetch`
asks it after every attempt. :class:`RetryBudget` is the one piece of shared,
mutable state: a limit on retries across many calls.

==========================================  ========================  ==================
Outcome of an attempt                       :class:`Reason`           Retried?
==========================================  ========================  ==================
200-399                                     ``SUCCESS``               no
a status in ``dont_retry``                  ``DONT_RETRY``            no
423 Locked, 429 Too Many Requests           ``RETRYABLE_STATUS``      yes, any method
any other status below 500                  ``FINAL_STATUS``          no
500 and above                               ``RETRYABLE_STATUS``      yes [#methods]_
a TLS certificate failing verification      ``CERTIFICATE``           no
any other exception raised by the attempt   ``ERROR``                 yes [#methods]_
==========================================  ========================  ==================

.. [#methods] only methods in ``retry_methods`` when it is set; otherwise the
   reason is ``METHOD_NOT_RETRIED``

A retryable outcome leads to another attempt only when attempts are left
(else ``ATTEMPTS_EXHAUSTED``), the wait ends before the deadline (else
``DEADLINE``) and the budget allows it (else ``BUDGET``).

The wait before the n-th retry is the response's ``Retry-After`` (seconds or
an HTTP-date), clamped to ``[0, request_timeout]``; otherwise
``retry_timeout * 2 ** (n - 1)``, capped at ``max_retry_timeout`` and, with
``jitter``, drawn uniformly from ``[0, that]``.
"""

from __future__ import annotations

import collections
import enum
import math
import numbers
import random
import re
import ssl
import threading
import time
from typing import (
    Any,
    Callable,
    Collection,
    Deque,
    FrozenSet,
    List,
    NamedTuple,
    Optional,
    Tuple,
    Union,
)

from sprockets_http._headers import parse_retry_after

__all__ = [
    "IDEMPOTENT_METHODS",
    "REFUSED_STATUS_CODES",
    "Decision",
    "Reason",
    "RetryBudget",
    "RetryPolicy",
    "Step",
    "Wait",
    "is_certificate_error",
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


class Reason(str, enum.Enum):
    """Why a call retries after an attempt, or why it stops.

    The values are short strings, stable across releases, for logs and
    metrics (``reason="budget"``).
    """

    #: 200-399: the call returns the response.
    SUCCESS = "success"
    #: a status below 500 other than 423 and 429: retrying gets the same answer.
    FINAL_STATUS = "final_status"
    #: a status the caller listed in ``dont_retry``.
    DONT_RETRY = "dont_retry"
    #: the TLS certificate failed verification (unknown issuer, wrong host
    #: name, expired): it will not fix itself within a call.
    CERTIFICATE = "certificate"
    #: the outcome is retryable but ``retry_methods`` does not list the method.
    METHOD_NOT_RETRIED = "method_not_retried"
    #: the outcome is retryable but it was the last attempt.
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    #: the wait before the next attempt would end at or after the deadline
    #: (``total_timeout``), or the deadline passed.
    DEADLINE = "deadline"
    #: the shared :class:`RetryBudget` refused the retry.
    BUDGET = "budget"
    #: retried: a 5xx, 423 or 429 response.
    RETRYABLE_STATUS = "retryable_status"
    #: retried: the attempt raised (connection refused or reset, timeout,
    #: TLS failure, a response the client could not read, ...).
    ERROR = "error"
    #: the caller cancelled the call (only in
    #: :class:`~sprockets_http.events.CallEnded`).
    CANCELLED = "cancelled"


class Step(NamedTuple):
    """The policy's answer after an attempt: retry after *wait*, or stop."""

    #: True: make another attempt after :attr:`wait`.
    retry: bool
    #: why (a :class:`Reason`).
    reason: Reason
    #: the wait before the next attempt when :attr:`retry` is true; for a
    #: stop for ``DEADLINE`` or ``BUDGET``, the wait that was refused; else
    #: None.
    wait: Optional[Wait]


# libcurl errors (CURLE_*) that report a certificate that failed
# verification, or certificate settings that cannot work: 51 (the peer's
# certificate or fingerprint, older libcurl), 58 (the local client
# certificate), 60 (peer certificate cannot be authenticated), 77 (the CA
# file cannot be read), 83 (issuer check failed), 90 (pinned public key
# mismatch). Retrying them costs handshakes and backoff and cannot succeed.
_CURL_CERTIFICATE_ERRORS = frozenset({51, 58, 60, 77, 83, 90})


def is_certificate_error(error: BaseException) -> bool:
    """Whether *error* says a TLS certificate failed verification.

    True for :class:`ssl.SSLCertVerificationError` (the simple client) and
    for tornado's ``CurlError`` with one of libcurl's certificate error codes;
    other TLS failures (a handshake reset, a timeout) are not certificate
    errors and stay retryable.
    """
    if isinstance(error, ssl.SSLCertVerificationError):
        return True
    cause = error.__cause__ or error.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return True
    errno = getattr(error, "errno", None)
    # tornado.curl_httpclient.CurlError keeps libcurl's code in errno; it is
    # an HTTPClientError (an OSError errno means something else).
    return (
        type(error).__name__ == "CurlError"
        and not isinstance(error, OSError)
        and errno in _CURL_CERTIFICATE_ERRORS
    )


def _real(value: Any, name: str, *, minimum: float) -> float:
    """*value* as a finite float >= *minimum*."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, not {value!r}")
    return number


def _status_codes(value: Union[int, Collection[int], None]) -> FrozenSet[int]:
    if value is None:
        return frozenset()
    if isinstance(value, (str, bytes)) or isinstance(value, bool):
        raise ValueError(f"dont_retry must be a status code or a collection of them, not {value!r}")
    items = (value,) if isinstance(value, int) else value
    try:
        codes = frozenset(items)
    except TypeError:
        raise ValueError(
            f"dont_retry must be a status code or a collection of them, not {value!r}"
        ) from None
    for code in codes:
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise ValueError(f"dont_retry holds {code!r}, which is not a status code (100-599)")
    return codes


# RFC 9110 token characters: what a method name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _methods(value: Union[str, Collection[str], None]) -> Optional[FrozenSet[str]]:
    if value is None:
        return None
    items: Any = (value,) if isinstance(value, str) else value  # one method, not its letters
    if isinstance(items, bytes):
        raise ValueError(f"retry_methods must be method names, not {value!r}")
    try:
        names = list(items)
    except TypeError:
        raise ValueError(f"retry_methods must be method names, not {value!r}") from None
    for name in names:
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"retry_methods holds {name!r}, which is not a method name")
    return frozenset(name.upper() for name in names)


class RetryPolicy:
    """Decide after each attempt whether to retry, and how long to wait.

    A value: nothing here does I/O, logs or reads a clock (the caller passes
    ``now``). :meth:`next_step` is the whole rule; :meth:`decide`,
    :meth:`backoff` and :meth:`wait` are its parts. Pass one to
    :meth:`~sprockets_http.HTTPClientMixin.http_fetch` as ``retry_policy`` to
    replace the policy built from the call's options.

    :param max_attempts: attempts in all, the first included (an int >= 1)
    :param retry_timeout: the first backoff wait, in seconds; it doubles with
        each further retry
    :param request_timeout: the cap on a ``Retry-After`` wait, in seconds
    :param dont_retry: statuses that end the call at once: one status code or
        a collection of them
    :param max_retry_timeout: a cap on each backoff wait, or ``None``
    :param jitter: draw each backoff wait uniformly from ``[0, wait]``
    :param retry_methods: when set, only these methods are retried after a
        5xx or an exception (423 and 429 are retried for every method); a
        single str is one method
    :param rng: the random source for jitter, called as ``rng(0.0, wait)``
        (tests pass a seeded one); :func:`random.uniform` by default
    :raises ValueError: for a value outside those ranges (a wait that is not
        a finite number >= 0, attempts that are not an int >= 1, a status
        outside 100-599, a method name that is not a token)
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
        dont_retry: Union[int, Collection[int], None] = (),
        max_retry_timeout: Optional[float] = None,
        jitter: bool = False,
        retry_methods: Union[str, Collection[str], None] = None,
        rng: Optional[Callable[[float, float], float]] = None,
    ) -> None:
        attempts: Any = max_attempts  # checked as the caller may pass anything
        if (
            isinstance(attempts, bool)
            or not isinstance(attempts, numbers.Integral)
            or attempts < 1
        ):
            raise ValueError(f"max_http_attempts must be an int >= 1, not {attempts!r}")
        self.max_attempts: int = int(attempts)
        self.retry_timeout: float = _real(retry_timeout, "retry_timeout", minimum=0)
        self.request_timeout: float = _real(request_timeout, "request_timeout", minimum=0)
        self.dont_retry: FrozenSet[int] = _status_codes(dont_retry)
        self.max_retry_timeout: Optional[float] = (
            None
            if max_retry_timeout is None
            else _real(max_retry_timeout, "max_retry_timeout", minimum=0)
        )
        self.jitter: bool = bool(jitter)
        self.retry_methods: Optional[FrozenSet[str]] = _methods(retry_methods)
        source: Any = rng
        if source is not None and not callable(source):
            raise ValueError(f"rng must be callable, not {source!r}")
        self.rng: Callable[[float, float], float] = (
            source if source is not None else random.uniform
        )

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_attempts={self.max_attempts!r}, "
            f"retry_timeout={self.retry_timeout!r}, request_timeout={self.request_timeout!r}, "
            f"dont_retry={sorted(self.dont_retry)!r}, "
            f"max_retry_timeout={self.max_retry_timeout!r}, jitter={self.jitter!r}, "
            f"retry_methods={None if self.retry_methods is None else sorted(self.retry_methods)!r})"
        )

    def retries(self, method: str) -> bool:
        """Whether *method* is retried after a 5xx or an exception."""
        return self.retry_methods is None or method.upper() in self.retry_methods

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
        if not self.retries(method):
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
        """The wait before retry *retry_number*, honouring a Retry-After value.

        *now* is the wall-clock time (seconds since the epoch) an HTTP-date is
        compared with; :func:`time.time` when left out.
        """
        seconds = parse_retry_after(retry_after, cap=self.request_timeout, now=now)
        if seconds is not None:
            return Wait(seconds, from_retry_after=True)
        return Wait(self.backoff(retry_number), from_retry_after=False)

    def next_step(
        self,
        method: str,
        attempt: int,
        status: Optional[int] = None,
        error: Optional[BaseException] = None,
        retry_after: Optional[str] = None,
        now: float = 0.0,
        deadline: Optional[float] = None,
        budget: Optional[RetryBudget] = None,
    ) -> Step:
        """What to do after attempt number *attempt* (1 for the first).

        The outcome is *status* (a response was received; *retry_after* is
        its ``Retry-After`` header) or *error* (the attempt raised). The
        checks, in order, each in this one place:

        1. the outcome: success, a final status, ``dont_retry``, a certificate
           failure, and for a 5xx or an exception the method
           (``retry_methods``);
        2. attempts left (:attr:`max_attempts`);
        3. the wait (Retry-After or backoff) against *deadline*, a time on the
           same clock as *now* (``None``: no deadline);
        4. the *budget*, taken from only when every other check allows a
           retry (the one side effect of this method).
        """
        if error is not None:
            if is_certificate_error(error):
                return Step(False, Reason.CERTIFICATE, None)
            retry_reason = Reason.ERROR
        else:
            code = 599 if status is None else status
            if 200 <= code < 400:
                return Step(False, Reason.SUCCESS, None)
            if code in self.dont_retry:
                return Step(False, Reason.DONT_RETRY, None)
            if code < 500 and code not in REFUSED_STATUS_CODES:
                return Step(False, Reason.FINAL_STATUS, None)
            retry_reason = Reason.RETRYABLE_STATUS
        if (error is not None or status not in REFUSED_STATUS_CODES) and not self.retries(
            method
        ):
            return Step(False, Reason.METHOD_NOT_RETRIED, None)
        if attempt >= self.max_attempts:
            return Step(False, Reason.ATTEMPTS_EXHAUSTED, None)
        wait = self.wait(attempt, retry_after)
        if deadline is not None and now + wait.seconds >= deadline:
            return Step(False, Reason.DEADLINE, wait)
        if budget is not None and not budget.try_retry():
            return Step(False, Reason.BUDGET, wait)
        return Step(True, retry_reason, wait)


class Wait:
    """A wait before a retry, and where it came from."""

    __slots__ = ("from_retry_after", "seconds")

    def __init__(self, seconds: float, *, from_retry_after: bool) -> None:
        self.seconds = seconds
        self.from_retry_after = from_retry_after

    @property
    def source(self) -> str:
        """``"retry-after"`` or ``"backoff"``."""
        return "retry-after" if self.from_retry_after else "backoff"

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
    :param ttl: the window, in seconds, >= 0.001
    :param clock: a monotonic clock (tests pass a fake one)
    :raises ValueError: for a ratio or floor that is not a finite number
        >= 0, or a ttl that is not a finite number of seconds >= 0.001
    """

    #: Window slices: the window moves in steps of ``ttl / _SLICES``.
    _SLICES = 10
    #: The shortest window accepted, in seconds.
    MIN_TTL = 0.001

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        ttl: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        given: Tuple[Tuple[str, Any], ...] = (
            ("ratio", ratio),
            ("min_per_second", min_per_second),
            ("ttl", ttl),
        )
        for name, value in given:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name} must be a number, not {value!r}")
            if not (math.isfinite(value) and float(value) >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        # The window moves in slices of ttl / 10 on the clock: below a
        # millisecond the slices would be too small to count in (5e-324 / 10
        # is 0.0), and a window that long is no limit anyway.
        if not ttl >= self.MIN_TTL:
            raise ValueError(
                f"ttl must be a finite number of seconds >= {self.MIN_TTL}, not {ttl!r}"
            )
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
