"""Unit tests of ``sprockets_http.retry``: the decision table (point 6) and
the waits (point 7), with no I/O."""

from __future__ import annotations

import email.utils
import ssl
from typing import Any, Dict, Optional

import pytest

from sprockets_http.retry import (
    Decision,
    Reason,
    RetryBudget,
    RetryPolicy,
    Wait,
    is_certificate_error,
)

NOW = 1_700_000_000.0  # a fixed "now", seconds since the epoch


def http_date(offset: float) -> str:
    return email.utils.formatdate(NOW + offset, usegmt=True)


# --- decide ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, expected",
    [
        (200, Decision.SUCCESS),
        (201, Decision.SUCCESS),
        (204, Decision.SUCCESS),
        (301, Decision.SUCCESS),
        (304, Decision.SUCCESS),
        (399, Decision.SUCCESS),
        (400, Decision.FINAL),
        (401, Decision.FINAL),
        (404, Decision.FINAL),
        (409, Decision.FINAL),
        (422, Decision.FINAL),
        (499, Decision.FINAL),
        (423, Decision.RETRY),
        (429, Decision.RETRY),
        (500, Decision.RETRY),
        (502, Decision.RETRY),
        (503, Decision.RETRY),
        (504, Decision.RETRY),
        (599, Decision.RETRY),
        (None, Decision.RETRY),  # an exception
    ],
)
def test_decide_table(code, expected):
    assert RetryPolicy().decide("GET", code) is expected


@pytest.mark.parametrize("code", [423, 429, 500, 503, 404])
def test_dont_retry_stops(code):
    policy = RetryPolicy(dont_retry={code})
    assert policy.decide("GET", code) is Decision.STOP


def test_dont_retry_does_not_turn_success_into_stop():
    policy = RetryPolicy(dont_retry={200, 302})
    assert policy.decide("GET", 200) is Decision.SUCCESS
    assert policy.decide("GET", 302) is Decision.SUCCESS


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_every_method_is_retried_by_default(method):
    policy = RetryPolicy()
    assert policy.decide(method, 503) is Decision.RETRY
    assert policy.decide(method, None) is Decision.RETRY


# --- backoff -------------------------------------------------------------------------


def test_backoff_doubles_from_retry_timeout():
    policy = RetryPolicy(retry_timeout=3)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [3, 6, 12, 24, 48]


def test_backoff_with_fractional_retry_timeout():
    policy = RetryPolicy(retry_timeout=0.25)
    assert [policy.backoff(n) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]


def test_backoff_zero_retry_timeout_means_no_wait():
    policy = RetryPolicy(retry_timeout=0)
    assert [policy.backoff(n) for n in (1, 2, 3)] == [0, 0, 0]


def test_backoff_huge_retry_number_does_not_overflow():
    wait = RetryPolicy(retry_timeout=1).backoff(5000)
    assert wait > 0 and wait != float("inf")


def test_backoff_is_not_clamped_to_request_timeout():
    policy = RetryPolicy(retry_timeout=10, request_timeout=1)
    assert policy.backoff(2) == 20


# --- wait: Retry-After first, the backoff otherwise -------------------------------------------


def test_wait_prefers_retry_after():
    policy = RetryPolicy(retry_timeout=3, request_timeout=20)
    wait = policy.wait(1, "9", now=NOW)
    assert wait.seconds == 9 and wait.from_retry_after


def test_wait_clamps_retry_after_to_request_timeout():
    policy = RetryPolicy(retry_timeout=3, request_timeout=4)
    assert policy.wait(1, "60", now=NOW).seconds == 4
    assert policy.wait(1, http_date(3600), now=NOW).seconds == 4


@pytest.mark.parametrize("retry_after", [None, "garbage", ""])
def test_wait_falls_back_to_backoff(retry_after):
    policy = RetryPolicy(retry_timeout=3)
    waits = [policy.wait(n, retry_after, now=NOW) for n in (1, 2, 3)]
    assert [w.seconds for w in waits] == [3, 6, 12]
    assert not any(w.from_retry_after for w in waits)


def test_a_single_method_string_is_one_method():
    policy = RetryPolicy(retry_methods="get")
    assert policy.retry_methods == frozenset({"GET"})
    assert policy.decide("GET", 503) is Decision.RETRY
    assert policy.decide("POST", 503) is Decision.FINAL


# --- what a caller reads: repr, defaults, error texts ------------------------------------
# (Each found by mutation testing, tox -e mutation: a change no test noticed.)


def test_policy_repr_names_every_setting():
    assert repr(RetryPolicy()) == (
        "RetryPolicy(max_attempts=3, retry_timeout=3.0, request_timeout=20.0, "
        "dont_retry=[], max_retry_timeout=None, jitter=False, retry_methods=None)"
    )
    policy = RetryPolicy(dont_retry={503, 409}, retry_methods=["put", "GET"])
    assert repr(policy).endswith(
        "dont_retry=[409, 503], max_retry_timeout=None, jitter=False, retry_methods=['GET', 'PUT'])"
    )


@pytest.mark.parametrize(
    "wait, expected",
    [
        (Wait(2.0, from_retry_after=True), "<Wait 2.000s from Retry-After>"),
        (Wait(0.25, from_retry_after=False), "<Wait 0.250s from backoff>"),
    ],
)
def test_wait_repr_says_where_it_came_from(wait, expected):
    assert repr(wait) == expected


def test_budget_defaults_and_repr():
    assert repr(RetryBudget()) == "RetryBudget(ratio=0.2, min_per_second=10.0, ttl=10.0)"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ratio": "1"}, "ratio must be a number, not '1'"),
        ({"min_per_second": None}, "min_per_second must be a number, not None"),
        ({"ttl": True}, "ttl must be a number, not True"),
        ({"ratio": -1}, "ratio must be a finite number >= 0, not -1"),
        ({"min_per_second": float("inf")}, "min_per_second must be a finite number >= 0, not inf"),
        ({"ttl": float("nan")}, "ttl must be a finite number >= 0, not nan"),
        ({"ttl": 0.0005}, "ttl must be a finite number of seconds >= 0.001, not 0.0005"),
    ],
)
def test_budget_errors_name_the_argument_and_the_value(kwargs, message):
    with pytest.raises(ValueError) as raised:
        RetryBudget(**kwargs)
    assert str(raised.value) == message


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_budget_window_ends_exactly_ttl_after_its_first_slice():
    # ttl 10 s in slices of 1 s; 0.5 retries a second: 5 in the window.
    clock = FakeClock(0.0)
    budget = RetryBudget(ratio=0, min_per_second=0.5, ttl=10, clock=clock)
    assert [budget.try_retry() for _ in range(6)] == [True] * 5 + [False]
    clock.now = 9.999  # the slice of t=0 is still in the window
    assert budget.available == 0.0
    clock.now = 10.0  # the window now starts at the slice of t=1: t=0 left it
    assert budget.available == 5.0


def test_budget_slices_are_floored_on_a_clock_below_zero():
    # A clock may read below zero (a fake one, say): the slice of t=-0.5 is
    # the one before t=0's, so it leaves the window a slice earlier.
    clock = FakeClock(-0.5)
    budget = RetryBudget(ratio=0, min_per_second=0.1, ttl=10, clock=clock)  # 1 retry
    assert budget.try_retry() and not budget.try_retry()
    clock.now = 9.5  # slice 9: the window holds slices 0 to 9, not -1
    assert budget.available == 1.0


# --- next_step: the whole rule, one row per branch --------------------------------------


def _chained(
    error: BaseException,
    *,
    cause: Optional[BaseException] = None,
    context: Optional[BaseException] = None,
) -> BaseException:
    error.__cause__, error.__context__ = cause, context
    return error


CERT = ssl.SSLCertVerificationError("certificate verify failed: unable to get local issuer")
REFUSING_BUDGET = dict(ratio=0, min_per_second=0, ttl=10)  # no retry ever allowed

# Default policy: 3 attempts, backoff 3 s then 6 s, Retry-After capped at 20 s.
# (arguments to next_step, policy arguments, retry, reason, wait seconds, wait source)
NEXT_STEP_TABLE = [
    ({"status": 200}, {}, False, Reason.SUCCESS, None, None),
    ({"status": 399}, {}, False, Reason.SUCCESS, None, None),
    ({"status": 400}, {}, False, Reason.FINAL_STATUS, None, None),
    ({"status": 404}, {}, False, Reason.FINAL_STATUS, None, None),
    ({"status": 429}, {}, True, Reason.RETRYABLE_STATUS, 3.0, "backoff"),
    ({"status": 423}, {}, True, Reason.RETRYABLE_STATUS, 3.0, "backoff"),
    ({"status": 503}, {}, True, Reason.RETRYABLE_STATUS, 3.0, "backoff"),
    ({"status": 503, "attempt": 2}, {}, True, Reason.RETRYABLE_STATUS, 6.0, "backoff"),
    ({"status": 503, "retry_after": "7"}, {}, True, Reason.RETRYABLE_STATUS, 7.0, "retry-after"),
    # Neither a status nor an error: as a 599 would be.
    ({}, {}, True, Reason.RETRYABLE_STATUS, 3.0, "backoff"),
    ({}, {"dont_retry": {599}}, False, Reason.DONT_RETRY, None, None),
    ({"status": 503}, {"dont_retry": {503}}, False, Reason.DONT_RETRY, None, None),
    ({"status": 404}, {"dont_retry": {404}}, False, Reason.DONT_RETRY, None, None),
    ({"error": ConnectionRefusedError(111, "refused")}, {}, True, Reason.ERROR, 3.0, "backoff"),
    ({"error": CERT}, {}, False, Reason.CERTIFICATE, None, None),
    # The simple client raises the certificate error from another one.
    (
        {"error": _chained(OSError("handshake"), cause=CERT)},
        {},
        False,
        Reason.CERTIFICATE,
        None,
        None,
    ),
    (
        {"error": _chained(OSError("handshake"), context=CERT)},
        {},
        False,
        Reason.CERTIFICATE,
        None,
        None,
    ),
    # An explicit cause replaces the context, as in a traceback.
    (
        {"error": _chained(OSError("handshake"), cause=OSError("reset"), context=CERT)},
        {},
        True,
        Reason.ERROR,
        3.0,
        "backoff",
    ),
    ({"error": CERT}, {"dont_retry": {599}}, False, Reason.CERTIFICATE, None, None),
    ({"status": 503, "attempt": 3}, {}, False, Reason.ATTEMPTS_EXHAUSTED, None, None),
    ({"error": OSError("reset"), "attempt": 3}, {}, False, Reason.ATTEMPTS_EXHAUSTED, None, None),
    ({"status": 503}, {"max_attempts": 1}, False, Reason.ATTEMPTS_EXHAUSTED, None, None),
    (
        {"status": 503, "method": "POST"},
        {"retry_methods": "GET"},
        False,
        Reason.METHOD_NOT_RETRIED,
        None,
        None,
    ),
    (
        {"error": OSError("reset"), "method": "POST"},
        {"retry_methods": "GET"},
        False,
        Reason.METHOD_NOT_RETRIED,
        None,
        None,
    ),
    (
        {"status": 429, "method": "POST"},
        {"retry_methods": "GET"},
        True,
        Reason.RETRYABLE_STATUS,
        3.0,
        "backoff",
    ),
    (
        {"status": 503, "method": "post"},
        {"retry_methods": "POST"},
        True,
        Reason.RETRYABLE_STATUS,
        3.0,
        "backoff",
    ),
    # The wait would end exactly at the deadline: no attempt could start.
    ({"status": 503, "now": 10.0, "deadline": 13.0}, {}, False, Reason.DEADLINE, 3.0, "backoff"),
    (
        {"status": 503, "now": 10.0, "deadline": 13.5},
        {},
        True,
        Reason.RETRYABLE_STATUS,
        3.0,
        "backoff",
    ),
    ({"status": 503, "now": 10.0, "deadline": 9.0}, {}, False, Reason.DEADLINE, 3.0, "backoff"),
    # now defaults to 0.0.
    ({"status": 503, "deadline": 3.5}, {}, True, Reason.RETRYABLE_STATUS, 3.0, "backoff"),
    ({"status": 503, "deadline": 3.0}, {}, False, Reason.DEADLINE, 3.0, "backoff"),
    (
        {"status": 503, "retry_after": "30", "now": 0.0, "deadline": 19.0},
        {},
        False,
        Reason.DEADLINE,
        20.0,
        "retry-after",
    ),
    ({"status": 503, "budget": REFUSING_BUDGET}, {}, False, Reason.BUDGET, 3.0, "backoff"),
    (
        {"error": OSError("reset"), "budget": REFUSING_BUDGET},
        {},
        False,
        Reason.BUDGET,
        3.0,
        "backoff",
    ),
    # The budget is not asked when another check already stops the call.
    (
        {"status": 503, "attempt": 3, "budget": REFUSING_BUDGET},
        {},
        False,
        Reason.ATTEMPTS_EXHAUSTED,
        None,
        None,
    ),
    (
        {"status": 503, "now": 10.0, "deadline": 12.0, "budget": REFUSING_BUDGET},
        {},
        False,
        Reason.DEADLINE,
        3.0,
        "backoff",
    ),
    (
        {"status": 503, "budget": dict(ratio=0, min_per_second=1, ttl=10)},
        {},
        True,
        Reason.RETRYABLE_STATUS,
        3.0,
        "backoff",
    ),
]


@pytest.mark.parametrize("arguments, settings, retry, reason, seconds, source", NEXT_STEP_TABLE)
def test_next_step_table(arguments, settings, retry, reason, seconds, source):
    given: Dict[str, Any] = {"method": "GET", "attempt": 1, **arguments}
    if "budget" in given:
        given["budget"] = RetryBudget(**given["budget"], clock=lambda: 0.0)
    step = RetryPolicy(**settings).next_step(**given)
    assert step.retry is retry  # a bool, as documented
    assert step.reason is reason
    if seconds is None:
        assert step.wait is None
    else:
        assert (step.wait.seconds, step.wait.source) == (seconds, source)


def test_next_step_takes_from_the_budget_only_when_it_retries():
    budget = RetryBudget(ratio=0, min_per_second=0.2, ttl=10, clock=lambda: 0.0)  # 2 retries
    policy = RetryPolicy()
    for stopped in ({"status": 200}, {"status": 404}, {"status": 503, "attempt": 3}):
        assert not policy.next_step("GET", budget=budget, **{"attempt": 1, **stopped}).retry
    assert budget.available == 2.0
    assert policy.next_step("GET", 1, status=503, budget=budget).retry
    assert budget.available == 1.0


@pytest.mark.parametrize(
    "error, expected",
    [
        (CERT, True),
        (ssl.SSLError(1, "sslv3 alert handshake failure"), False),
        (_chained(OSError("x"), cause=CERT), True),
        (_chained(OSError("x"), context=CERT), True),
        (_chained(OSError("x"), cause=OSError("y"), context=CERT), False),
        (_chained(OSError("x"), cause=OSError("y")), False),
        (TimeoutError("timed out"), False),
    ],
)
def test_is_certificate_error(error, expected):
    assert is_certificate_error(error) is expected


NOT_A_CODE = "dont_retry must be a status code or a collection of them, not"
NOT_A_STATUS = "which is not a status code (100-599)"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"max_attempts": 0}, "max_http_attempts must be an int >= 1, not 0"),
        ({"max_attempts": True}, "max_http_attempts must be an int >= 1, not True"),
        ({"max_attempts": 2.0}, "max_http_attempts must be an int >= 1, not 2.0"),
        ({"retry_timeout": -1}, "retry_timeout must be a finite number >= 0, not -1"),
        ({"retry_timeout": float("nan")}, "retry_timeout must be a finite number >= 0, not nan"),
        ({"retry_timeout": "3"}, "retry_timeout must be a number of seconds, not '3'"),
        (
            {"request_timeout": float("inf")},
            "request_timeout must be a finite number >= 0, not inf",
        ),
        ({"max_retry_timeout": -0.5}, "max_retry_timeout must be a finite number >= 0, not -0.5"),
        ({"max_retry_timeout": False}, "max_retry_timeout must be a number of seconds, not False"),
        ({"dont_retry": 99}, f"dont_retry holds 99, {NOT_A_STATUS}"),
        ({"dont_retry": 600}, f"dont_retry holds 600, {NOT_A_STATUS}"),
        ({"dont_retry": [503, "404"]}, f"dont_retry holds '404', {NOT_A_STATUS}"),
        ({"dont_retry": "503"}, f"{NOT_A_CODE} '503'"),
        ({"dont_retry": b"503"}, f"{NOT_A_CODE} b'503'"),
        ({"dont_retry": True}, f"{NOT_A_CODE} True"),
        ({"dont_retry": 5.0}, f"{NOT_A_CODE} 5.0"),
        ({"retry_methods": 5}, "retry_methods must be method names, not 5"),
        ({"retry_methods": b"GET"}, "retry_methods must be method names, not b'GET'"),
        (
            {"retry_methods": ["GET", "PO ST"]},
            "retry_methods holds 'PO ST', which is not a method name",
        ),
        ({"retry_methods": [b"GET"]}, "retry_methods holds b'GET', which is not a method name"),
        ({"rng": 0.5}, "rng must be callable, not 0.5"),
    ],
)
def test_each_bad_setting_has_its_own_error_text(settings, message):
    with pytest.raises(ValueError) as raised:
        RetryPolicy(**settings)
    assert str(raised.value) == message


@pytest.mark.parametrize("code", [100, 101, 599])
def test_dont_retry_takes_every_status_code_from_100_to_599(code):
    assert RetryPolicy(dont_retry=code).dont_retry == frozenset({code})


def test_jitter_draws_each_wait_from_the_given_rng():
    draws = []

    def rng(low: float, high: float) -> float:
        draws.append((low, high))
        return high / 4

    policy = RetryPolicy(retry_timeout=2, jitter=True, rng=rng)
    assert [policy.backoff(1), policy.backoff(2)] == [0.5, 1.0]
    assert draws == [(0.0, 2.0), (0.0, 4.0)]
    assert policy.rng is rng
    assert RetryPolicy(retry_timeout=2, rng=rng).backoff(1) == 2.0  # no jitter: no draw
    assert len(draws) == 2
